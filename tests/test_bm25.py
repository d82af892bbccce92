"""kb.bm25 computes FTS5's own bm25 in Python: on an archive where every term is counted
exactly, the scores kb.retrieval.rescore gives equal those of FTS5's bm25() for every passage
that matches."""

from __future__ import annotations

import random

import pytest
from corpus_paths import REPO

from kb import bm25
from kb.retrieval import BM25_WEIGHTS, fts_terms, rescore
from kb.store.posts import PostRecord, save_post

WORDS = (  # inflected forms FTS5's porter stems alike, and stop words
    'model', 'models', 'modeling', 'modelled', 'oversight', 'overseeing', 'reward',
    'rewards', 'rewarding', 'hacking', 'hacked', 'interpretability', 'interpretable',
    'interpreting', 'happy', 'happiness', 'policies', 'policy', 'agent', 'agents',
    'agentic', 'training', 'trained', 'trains', 'gradient', 'gradients', 'deceptive',
    'deception', 'AI', 'alignment', 'aligned', 'misaligned', 'sandbagging', 'evaluation',
    'evaluations', 'the', 'a', 'of', 'and', 'to',
)


def _post(i: int, text: str) -> PostRecord:
    return PostRecord(title=f"Post {i} on {WORDS[i % len(WORDS)].title()}", lw_id=f"q{i:015d}",
                      origin="test", urls=[f"https://example.org/posts/q{i:015d}"],
                      published="2025-01-01T00:00:00Z", text=text)


@pytest.fixture
def store(monkeypatch, kb_home):
    """80 posts of random sentences over inflected forms of a few words, some with headings,
    capitals, hyphens and underscores."""
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings

    rng = random.Random(5)
    rt = Runtime(load_settings())
    for i in range(80):
        parts = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.5:
                parts.append(f"## {rng.choice(WORDS).title()} {rng.choice(WORDS)}\n")
            words = [rng.choice(WORDS) for _ in range(rng.randint(5, 60))]
            if rng.random() < 0.3:
                words[0] = words[0].upper()
            if rng.random() < 0.3:
                words.append(f"{rng.choice(WORDS)}-{rng.choice(WORDS)}_{rng.choice(WORDS)}")
            parts.append(" ".join(words) + ".\n")
        save_post(rt.store, _post(i, "\n".join(parts)))
    run_index(rt.store, rt.embedder, rt.index)
    yield rt.store
    rt.close()


def _fts5(store, terms):
    w = ", ".join(str(x) for x in BM25_WEIGHTS)
    return {r[0]: -r[1] for r in store.conn.execute(
        f"SELECT rowid, bm25(chunks_fts, {w}) FROM chunks_fts WHERE chunks_fts MATCH ?",
        (" OR ".join(terms),))}


def _df(store, terms):
    return {t: store.conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                                  (t,)).fetchone()[0] for t in terms}


def test_totals_and_lengths_are_fts5s(store):
    tot = bm25.totals(store.conn, "chunks_fts")
    rows = store.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert tot.rows == rows > 0
    lens = bm25.lengths(store.conn, "chunks_fts", [r[0] for r in store.conn.execute(
        "SELECT rowid FROM chunks_fts")])
    assert len(lens) == rows
    assert tot.mean_len == pytest.approx(sum(lens.values()) / rows)
    # a passage's length is FTS5's token count over its three columns
    rid, *cols = store.conn.execute("SELECT rowid, title, heading, text FROM chunks_fts "
                                    "ORDER BY length(text) DESC LIMIT 1").fetchone()
    assert lens[rid] == sum(len(bm25.stemmer().tokens(c)) for c in cols) > 20


@pytest.mark.parametrize("question", [
    "model oversight", "rewarding the hacked policies", "Interpretability of agentic AI",
    "happy deceptive gradients", "evaluations sandbagging trained aligned",
])
def test_rescore_equals_fts5_bm25(store, question):
    terms = fts_terms(question)
    want = _fts5(store, terms)
    assert want
    got = rescore(store, terms, _df(store, terms), list(want))
    assert set(got) == set(want)
    for rid, s in want.items():
        assert got[rid] == pytest.approx(s, rel=1e-9, abs=1e-12), rid


@pytest.mark.corpus
def test_on_real_posts_the_counts_are_fts5s_own(corpus, monkeypatch, kb_home):
    """Real LessWrong passages (typography, hyphens, markdown, numbers) and the eval questions'
    words: every count kb.bm25 makes equals the count of FTS5's own tokens — the words that
    stem to a term but do not start like it ("capability" -> "capabl", "say" -> "sai") too."""
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    from bench.lw_sample import load_lw_posts, sample
    from kb.evaluation import load_questions
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings

    rt = Runtime(load_settings())
    for rec in sample(load_lw_posts(corpus, max_chars=6000), 60):
        save_post(rt.store, rec)
    run_index(rt.store, rt.embedder, rt.index)
    conn = rt.store.conn
    st = bm25.stemmer()
    checked = 0
    qs = [q.question for name in ("retrieval_questions.jsonl", "retrieval_hard.jsonl")
          for q in load_questions(REPO / "tests" / "eval" / name)]
    for q in qs:
        terms = fts_terms(q)
        stems = sorted({s for s in st.stems(t[1:-1] for t in terms).values() if s})
        scorer = bm25.Scorer(stems, [1.0] * len(stems), BM25_WEIGHTS, 100.0, st)
        rows = conn.execute("SELECT c0, c1, c2 FROM chunks_fts_content WHERE id IN (SELECT rowid "
                            "FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT 40)",
                            (" OR ".join(terms),)).fetchall()
        counts = scorer.counts([tuple(r) for r in rows])
        for row, got in zip(rows, counts, strict=True):
            toks = [st.tokens(col) for col in row]
            want = [sum(w * tk.count(s) for tk, w in zip(toks, BM25_WEIGHTS, strict=True))
                    for s in stems]
            assert got == want, (q, stems)
            checked += 1
    rt.close()
    assert checked > 500


def test_the_stemmer_is_fts5s_and_a_word_it_splits_stems_to_none():
    st = bm25.Stemmer()
    words = ["models", "Capabilities", "say", "hoping", "AI", "naïve"]
    got = st.stems(words)
    assert got == {w: st.tokens(w)[0] for w in words}
    assert got["models"] == "model" and got["say"] == "sai"
    # one word FTS5 makes two tokens of: the batch falls back to a row per word, still aligned
    assert st.stems(["two words", "agents", "reward_hacking"]) == {
        "two words": None, "agents": "agent", "reward_hacking": None}
    # no token and two tokens add up to two words: still no mix-up
    assert bm25.Stemmer().stems(["__", "reward_hacking"]) == {"__": None, "reward_hacking": None}
