"""`kb eval retrieval`: file parsing, metrics, and the real eval over corpus posts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.evaluation import EvalError, load_questions, metrics

QUESTIONS = Path(__file__).parent / "eval" / "retrieval_questions.jsonl"


def test_question_file_is_ours_and_well_formed():
    qs = load_questions(QUESTIONS)
    assert len(qs) >= 40
    assert len({q.question for q in qs}) == len(qs)


@pytest.mark.parametrize("line, msg", [
    ("{not json", "not valid JSON"),
    ('{"question": "", "relevant": ["x"]}', "non-empty \"question\""),
    ('{"question": "q", "relevant": []}', "non-empty list"),
    ('["q"]', "each line is a JSON object"),
])
def test_bad_question_files_name_file_and_line(tmp_path, line, msg):
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "fine", "relevant": ["abc"]}\n' + line + "\n")
    with pytest.raises(EvalError, match=rf"q.jsonl:2: .*{msg}"):
        load_questions(f)


def test_metrics():
    assert metrics(["a", "b", "c"], {"b"}, 5) == (1.0, 0.5, pytest.approx(1 / 1.5849625))
    assert metrics(["x", "y"], {"a", "b"}, 5) == (0.0, 0.0, 0.0)
    r, rr, nd = metrics(["a", "x", "b"], {"a", "b"}, 2)
    assert (r, rr) == (0.5, 1.0) and 0 < nd < 1


def test_eval_cli_json_shape_with_urls_and_ids(monkeypatch, kb_home, tmp_path):
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    from index_helpers import fake_archive

    from kb.cli import cli

    rt = fake_archive()
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in [
        {"question": "which loophole did the policy find in the reward model?",
         "relevant": ["aaaaaaaaaaaaaaaa1"]},
        {"question": "induction head circuit removed in-context copying",
         "relevant": ["https://www.lesswrong.com/posts/cccccccccccccccc3/interp"]},
        {"question": "compost from kitchen scraps",
         "relevant": ["https://www.greaterwrong.com/posts/bbbbbbbbbbbbbbbb2/whatever"]},
    ]) + "\n")
    res = CliRunner().invoke(cli, ["eval", "retrieval", str(f), "--k", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == {"hybrid", "vector", "keyword", "questions"} and data["questions"] == 3
    assert set(data["hybrid"]) == {"recall@3", "mrr", "ndcg@3"}
    assert data["keyword"]["recall@3"] == 1.0 and data["hybrid"]["mrr"] == 1.0
    res = CliRunner().invoke(cli, ["eval", "retrieval", str(f)])
    assert res.exit_code == 0 and "recall@5" in res.output
    rt.close()


# --- the real thing: ONNX model + Chroma + corpus posts ----------------------------------------
@pytest.fixture(scope="session")
def eval_archive(tmp_path_factory):
    """The question set's posts plus 70 distractors from the aisafetyconnect dataset, each cut at
    ~3000 characters (the answers sit in the first paragraphs), indexed with the real embedder.
    Built once per session: ~430 chunks."""
    from corpus_paths import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    from bench.lw_sample import load_lw_posts, sample
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    home = tmp_path_factory.mktemp("eval-home")
    rt = Runtime(load_settings(env={}, home=home))
    st = rt.store
    recs = load_lw_posts(CORPUS, max_chars=3000)
    wanted = {r.rstrip("/").split("/")[-1] for q in load_questions(QUESTIONS) for r in q.relevant}
    chosen = [r for r in recs if r.lw_id in wanted]
    assert len(chosen) == len(wanted), "every question's post is in the dataset"
    chosen += sample([r for r in recs if r.lw_id not in wanted], 70)
    for r in chosen:
        save_post(st, r)
    run_index(st, rt.embedder, rt.index)
    yield rt
    rt.close()


@pytest.mark.corpus
@pytest.mark.model
@pytest.mark.slow
def test_hybrid_beats_each_single_mode_on_our_question_set(eval_archive):
    from kb.evaluation import evaluate

    rt = eval_archive
    res = evaluate(rt.store, rt.embedder, rt.index, load_questions(QUESTIONS), k=5)
    print(json.dumps(res))
    h, v, kw = res["hybrid"], res["vector"], res["keyword"]
    for m in ("recall@5", "mrr"):
        assert h[m] >= v[m] and h[m] >= kw[m], res
    assert h["mrr"] > max(v["mrr"], kw["mrr"]), res
    assert h["recall@5"] >= 0.85


@pytest.mark.corpus
@pytest.mark.model
@pytest.mark.slow
def test_real_search_filters_and_passages(eval_archive):
    from kb.retrieval import search
    from kb.search_types import Filters

    rt = eval_archive
    st = rt.store
    hits = search(st, rt.embedder, rt.index, "paraphrasing as a defense against hidden reasoning",
                  k=5)
    assert hits[0].post_id == "9Fdd9N7Escg3tcymb"
    for h in hits:
        text = st.conn.execute("SELECT text FROM post_versions WHERE post_id=? AND version=?",
                               (h.post_id, h.version)).fetchone()[0]
        assert text[h.start:h.end] == h.text
    only = search(st, rt.embedder, rt.index, "AI control", k=10,
                  filters=Filters(author="ryan_greenblatt", since="2024-01-01"))
    assert only and all(h.authors == ["ryan_greenblatt"] and h.published >= "2024" for h in only)
