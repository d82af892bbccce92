"""Hybrid retrieval over a real SQLite file and a real Chroma directory (fake embedder for the
logic; the real model is exercised in test_eval_retrieval.py and test_embed.py)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from index_helpers import fake_archive

from kb.retrieval import Candidate, SearchError, fts_query, fuse, search
from kb.search_types import Filters


@pytest.fixture
def archive(monkeypatch, kb_home):
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    rt = fake_archive()
    yield rt
    rt.close()


@pytest.mark.parametrize("mode", ["hybrid", "vector", "keyword"])
def test_each_mode_finds_the_post_and_its_passage(archive, mode):
    rt = archive
    st = rt.store
    hits = search(st, rt.embedder, rt.index, "induction head circuit ablation", k=3, mode=mode)
    assert hits[0].post_id == "cccccccccccccccc3"
    h = hits[0]
    text = st.conn.execute("SELECT text FROM post_versions WHERE post_id = ? AND version = ?",
                           (h.post_id, h.version)).fetchone()[0]
    assert text[h.start:h.end] == h.text and "induction head" in h.text
    assert len({x.post_id for x in hits}) == len(hits)  # grouped per post


def test_hostile_keyword_queries_do_not_error(archive):
    rt = archive
    st = rt.store
    for q in ['"unbalanced', "NEAR(a b)", "a AND OR NOT", "col:umn", "*", "(", "-x", "^start",
              "reward' OR 1=1 --", "  ", "👍 emoji"]:
        search(st, rt.embedder, rt.index, q, mode="keyword")
        search(st, rt.embedder, rt.index, q, mode="hybrid")
    assert fts_query('say "hi" NEAR(xy)') == '"say" OR "hi" OR "near" OR "xy"'
    # single characters (the "s" of "AI's") are dropped, unless there is nothing else
    assert fts_query("AI's view") == '"ai" OR "view"'
    assert fts_query("x y") == '"x" OR "y"'


def test_filters_apply_in_every_mode(archive):
    rt = archive
    st = rt.store
    q = "reward model policy soil tomatoes circuits"
    for mode in ("hybrid", "vector", "keyword"):
        def ids(f, m=mode):
            return {h.post_id for h in search(st, rt.embedder, rt.index, q, k=10, mode=m,
                                              filters=f)}

        assert ids(Filters(af_only=True)) == {"aaaaaaaaaaaaaaaa1"}
        assert ids(Filters(since="2025-01-01")) == {"aaaaaaaaaaaaaaaa1", "cccccccccccccccc3"}
        assert ids(Filters(until="2024-12-31")) == {"bbbbbbbbbbbbbbbb2"}
        assert ids(Filters(since="2025-01-15", until="2025-01-15")) == {"cccccccccccccccc3"}
        assert ids(Filters(author="lovelace")) == {"aaaaaaaaaaaaaaaa1", "cccccccccccccccc3"}
        assert ids(Filters(author="turing")) == {"cccccccccccccccc3"}
        assert ids(Filters(source="www.alignmentforum.org")) == {"aaaaaaaaaaaaaaaa1"}
        assert ids(Filters(author="nobody at all")) == set()
    with pytest.raises(SearchError, match="--since"):
        search(st, rt.embedder, rt.index, q, filters=Filters(since="last tuesday"))


def test_rrf_rewards_agreement():
    kw = [Candidate("a:1:0", "a", 3.0), Candidate("b:1:0", "b", 2.0), Candidate("c:1:0", "c", 1.0)]
    vec = [Candidate("c:1:1", "c", 0.9), Candidate("b:1:2", "b", 0.8), Candidate("d:1:0", "d", 0.7)]
    ranked = fuse({"keyword": kw, "vector": vec})
    assert {p for p, _, _ in ranked[:2]} == {"b", "c"}  # in both lists beats the top of one
    assert {p: c for p, _, c in ranked}["c"] == "c:1:1"  # its best fused passage


def test_search_cli_json_contract(archive):
    from kb.cli import cli

    res = CliRunner().invoke(cli, ["search", "sparse", "autoencoders", "--k", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data and {"post_id", "title", "url", "published", "score", "text", "start",
                     "end"} <= set(data[0])
    assert data[0]["post_id"] == "cccccccccccccccc3"
    res = CliRunner().invoke(cli, ["search", "tomatoes", "--mode", "keyword", "--af-only"])
    assert res.exit_code == 0 and "no results" in res.output
    res = CliRunner().invoke(cli, ["search", "x", "--since", "yesterday"])
    assert res.exit_code == 2 and "YYYY-MM-DD" in res.output


def test_index_and_reindex_cli(monkeypatch, kb_home):
    from kb.cli import cli

    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    fake_archive(index=False).close()
    res = CliRunner().invoke(cli, ["index", "--json"])
    assert res.exit_code == 0, res.output
    first = json.loads(res.output)
    assert first["chunks_embedded"] == first["chunks_total"] > 0
    res = CliRunner().invoke(cli, ["index", "--no-progress"])
    assert res.exit_code == 0 and "0 chunks embedded" in res.output
    res = CliRunner().invoke(cli, ["reindex", "--json"])
    assert json.loads(res.output)["chunks_embedded"] == first["chunks_total"]
