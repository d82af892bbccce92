"""`kb eval retrieval`: file parsing, metrics, and the real eval over corpus posts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.evaluation import EvalError, load_questions, metrics, separation

QUESTIONS = Path(__file__).parent / "eval" / "retrieval_questions.jsonl"
HARD = Path(__file__).parent / "eval" / "retrieval_hard.jsonl"
HAYSTACK = Path(__file__).parent / "eval" / "retrieval_hard_haystack.json"


def test_question_file_is_ours_and_well_formed():
    qs = load_questions(QUESTIONS)
    assert len(qs) >= 40
    assert len({q.question for q in qs}) == len(qs)


def test_hard_set_is_well_formed_and_has_every_kind():
    qs = load_questions(HARD)
    spec = json.loads(HAYSTACK.read_text())
    assert len(qs) >= 60 and len({q.question for q in qs}) == len(qs)
    assert len(spec["ids"]) >= 300 and len(set(spec["ids"])) == len(spec["ids"])
    kinds = {q.kind for q in qs}
    assert kinds == {"paraphrase", "deep", "multi", "none"}
    for q in qs:
        assert q.no_answer == (q.kind == "none")
        assert set(q.relevant) <= set(spec["ids"]), q.line  # every target is in the haystack
        assert len(q.relevant) >= (2 if q.kind == "multi" else 0 if q.no_answer else 1), q.line
    assert sum(q.kind == "multi" for q in qs) >= 5 and sum(q.no_answer for q in qs) >= 5
    raw = [json.loads(x) for x in HARD.read_text().splitlines() if x.startswith("{")]
    assert all(isinstance(o.get("at"), int) for o in raw if o["kind"] == "deep")


@pytest.mark.parametrize("line, msg", [
    ("{not json", "not valid JSON"),
    ('{"question": "", "relevant": ["x"]}', "non-empty \"question\""),
    ('{"question": "q", "relevant": []}', "non-empty list"),
    ('["q"]', "each line is a JSON object"),
    ('{"question": "q", "relevant": ["x"], "no_answer": true}', "has \"relevant\": \\[\\]"),
    ('{"question": "q", "relevant": ["x"], "kind": 3}', "\"kind\" is a string"),
])
def test_bad_question_files_name_file_and_line(tmp_path, line, msg):
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "fine", "relevant": ["abc"]}\n' + line + "\n")
    with pytest.raises(EvalError, match=rf"q.jsonl:2: .*{msg}"):
        load_questions(f)


def test_no_answer_questions_load_and_separation_is_an_auc(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text('{"question": "a", "relevant": ["x"], "kind": "deep"}\n'
                 '{"question": "b", "relevant": [], "no_answer": true, "kind": "none"}\n')
    a, b = load_questions(f)
    assert (a.kind, a.no_answer, b.no_answer, b.relevant) == ("deep", False, True, [])
    assert separation([0.9, 0.8], [0.1]) == 1.0
    assert separation([0.2, 0.8], [0.5]) == 0.5
    assert separation([0.5], [0.5]) == 0.5 and separation([], [0.3]) == 0.0


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
    # a second file with kinds and a no-answer question: both sets, per kind, separation
    g = tmp_path / "hard.jsonl"
    g.write_text("\n".join(json.dumps(x) for x in [
        {"question": "reward model loophole found by the policy", "relevant": ["aaaaaaaaaaaaaaaa1"],
         "kind": "paraphrase"},
        {"question": "copying in context through a circuit", "kind": "deep",
         "relevant": ["cccccccccccccccc3"]},
        {"question": "a recipe for lemon cake", "relevant": [], "no_answer": True, "kind": "none"},
    ]) + "\n")
    res = CliRunner().invoke(cli, ["eval", "retrieval", str(f), str(g), "-k", "3", "--json"])
    assert res.exit_code == 0, res.output
    both = json.loads(res.output)["sets"]
    assert both["q.jsonl"] == data
    hard = both["hard.jsonl"]
    assert (hard["questions"], hard["answerable"], hard["no_answer"]) == (3, 2, 1)
    assert set(hard["by_kind"]) == {"paraphrase", "deep"}
    assert set(hard["by_kind"]["deep"]) == {"hybrid", "vector", "keyword", "questions"}
    assert 0.0 <= hard["no_answer_separation"] <= 1.0
    res = CliRunner().invoke(cli, ["eval", "retrieval", str(f), str(g)])
    flat = " ".join(res.output.split())
    assert res.exit_code == 0 and "hard.jsonl" in flat and "deep (1)" in flat
    assert "1 without an answer" in flat and "set apart" in flat
    rt.close()


# --- the real thing: ONNX model + Chroma + corpus posts ----------------------------------------
@pytest.fixture(scope="session")
def eval_archive(tmp_path_factory):
    """The question set's posts plus 70 distractors from the aisafetyconnect dataset, each cut at
    ~3000 characters (the answers sit in the first paragraphs), indexed with the real embedder
    (~430 chunks; document vectors cached in $KB_EVAL_CACHE, see bench/retrieval_hard.py)."""
    from corpus_paths import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    from bench.retrieval_hard import build, easy_records

    recs = easy_records(CORPUS)
    wanted = {r.rstrip("/").split("/")[-1] for q in load_questions(QUESTIONS) for r in q.relevant}
    assert wanted <= {r.lw_id for r in recs}, "every question's post is in the dataset"
    rt = build(tmp_path_factory.mktemp("eval-home"), CORPUS, records=recs)
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
