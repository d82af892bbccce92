"""The hard retrieval set (issue #18): its questions are hard for the right reasons, and
`kb eval retrieval` over its 320-post haystack, built with the real embedder, reports what it
should (and reaches the goals it reaches: see README "Retrieval quality")."""

from __future__ import annotations

import json

import pytest

from kb.evaluation import load_questions

pytestmark = pytest.mark.corpus


@pytest.fixture(scope="module")
def haystack():
    from corpus_paths import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    from bench.retrieval_hard import haystack_records

    return haystack_records(CORPUS)


def test_questions_avoid_their_targets_rare_words_and_titles(haystack):
    from bench.retrieval_hard import HARD, doc_freq, leaks

    by_id = {r.lw_id: r for r in haystack}
    df = doc_freq(haystack)
    found = []
    for q in load_questions(HARD):
        for pid in q.relevant:
            r = by_id[pid]
            bad = leaks(q.question, r.title, r.text, df, len(haystack))
            if bad:
                found.append((q.line, pid, bad))
    assert not found, found
    # the check bites: a question made of a post's own rare words and title is caught
    r = by_id["8NSKMMDXS8gjFHfQa"]
    assert leaks(r.title, r.title, r.text, df, len(haystack))


def test_deep_questions_ask_past_the_first_fifth(haystack):
    from bench.retrieval_hard import HARD

    by_id = {r.lw_id: r for r in haystack}
    deep = [json.loads(x) for x in HARD.read_text().splitlines()
            if x.startswith("{") and json.loads(x)["kind"] == "deep"]
    assert len(deep) >= 15
    for o in deep:
        assert o["at"] >= len(by_id[o["relevant"][0]].text) / 5, o["question"]


@pytest.fixture(scope="module")
def hard_archive(haystack, tmp_path_factory):
    """The haystack indexed with the real MiniLM embedder; document vectors are cached by text
    hash in $KB_EVAL_CACHE (default: a folder in the temp dir), so only a first run embeds
    (~1,970 passages: ~2.5 min at 13/s; 22 min were measured on a heavily loaded machine)."""
    from corpus_paths import CORPUS

    from bench.retrieval_hard import build

    rt = build(tmp_path_factory.mktemp("hard-home"), CORPUS)
    yield rt
    rt.close()


@pytest.mark.model
@pytest.mark.slow
def test_hard_set_metrics_per_mode_and_kind(hard_archive):
    from bench.retrieval_hard import HARD
    from kb.evaluation import evaluate

    rt = hard_archive
    qs = load_questions(HARD)
    res = evaluate(rt.store, rt.embedder, rt.index, qs, k=5)
    print(json.dumps(res))
    assert res["questions"] == len(qs) and res["no_answer"] == sum(q.no_answer for q in qs)
    assert not [r for q in qs for r in q.unresolved]  # every target is in the haystack
    for mode in ("hybrid", "vector", "keyword"):
        assert set(res[mode]) == {"recall@5", "mrr", "ndcg@5"}
        assert all(0.0 <= v <= 1.0 for v in res[mode].values())
    assert set(res["by_kind"]) == {"paraphrase", "deep", "multi"}
    assert 0.5 < res["no_answer_separation"] <= 1.0
    h, v, kw = res["hybrid"], res["vector"], res["keyword"]
    # the goals (README "Retrieval quality"): measured 0.917 and 0.841; runs differ by
    # about one question (approximate kNN), so recall is asserted one question below the goal
    assert h["recall@5"] >= 0.9 - 1 / 82 and h["mrr"] >= 0.8, res
    for m in ("recall@5", "mrr", "ndcg@5"):
        assert h[m] >= max(v[m], kw[m]), res
