"""The keyword side's bounded candidate set (kb.retrieval.bounded_match): on an archive where a
question's common words match most passages, bm25 ranks only the passages of its rarer terms, and
the passages a reader wants still come first."""

from __future__ import annotations

import pytest

from kb.retrieval import bounded_match, fts_terms, keyword_candidates
from kb.store.posts import PostRecord, save_post


def _post(i: int, text: str) -> PostRecord:
    return PostRecord(title=f"Note {i}", lw_id=f"p{i:015d}", origin="test",
                      urls=[f"https://example.org/posts/p{i:015d}"],
                      published="2025-01-01T00:00:00Z", text=text)


@pytest.fixture
def store(monkeypatch, kb_home):
    """120 one-passage posts: every one says "model" and "training", 40 say "oversight",
    3 say "sandbagging"; one says both "sandbagging" and "oversight"."""
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings

    rt = Runtime(load_settings())
    for i in range(120):
        words = ["The model kept training on its own outputs."]
        if i % 3 == 0:
            words.append("Human oversight was weak.")
        if i in (7, 50, 99):
            words.append("We saw sandbagging on the evaluation.")
        save_post(rt.store, _post(i, " ".join(words)))
    run_index(rt.store, rt.embedder, rt.index)
    yield rt.store
    rt.close()


def test_small_match_sets_are_ranked_whole(store):
    terms = fts_terms("sandbagging oversight")
    assert bounded_match(store, terms, budget=500) == " OR ".join(terms)


def test_common_terms_are_left_out_when_the_match_set_is_large(store):
    terms = fts_terms("does the model do sandbagging under oversight during training")
    match = bounded_match(store, terms, budget=60)  # a term may match at most 15 passages
    assert '"sandbagging"' in match
    assert not {'"oversight"', '"model"', '"training"'} & set(match.split(" OR "))


def test_only_common_terms_are_required_together(store):
    terms = fts_terms("model training oversight")
    match = bounded_match(store, terms, budget=20)
    assert " AND " in match  # every term is in more than a quarter of the budget
    n = store.conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?",
                           (match,)).fetchone()[0]
    assert 0 < n < 120


def test_the_rarest_common_term_leads_the_conjunction(store):
    """All three words are past the cap (5): "oversight" (40 passages) is rarer than "model"
    and "training" (120), though the capped counts tie; the estimate tells them apart."""
    import kb.retrieval as r

    last = store.count("chunks")
    est = {t: r._df_estimate(store, t, 5, last) for t in fts_terms("model training oversight")}
    assert est['"model"'] == est['"training"'] == pytest.approx(120, rel=0.05)
    assert est['"oversight"'] == pytest.approx(40, rel=0.2)
    for q in ("training model oversight", "model oversight training"):
        assert bounded_match(store, fts_terms(q), budget=20).startswith('"oversight" AND ')


def test_the_rare_term_posts_still_rank_first(store, monkeypatch):
    import kb.retrieval as r

    monkeypatch.setattr(r, "SCORE_BUDGET", 60)
    rare = {"Note 7", "Note 50", "Note 99"}
    got = keyword_candidates(store, "model training sandbagging oversight", 5)
    assert _titles(store, got) == rare
    monkeypatch.setattr(r, "SCORE_BUDGET", 10_000)  # unbounded: the same three lead
    got = keyword_candidates(store, "model training sandbagging oversight", 5)
    assert len(got) == 5 and _titles(store, got[:3]) == rare


def test_the_dropped_words_still_count_in_the_rare_terms_ranking(store, monkeypatch):
    """Over a budget of 60 bm25 ranks only "sandbagging" (3 passages); the re-scoring adds
    "oversight", "model" and "training": Note 99, the one with both rare-ish words, comes first
    as it does unbounded, with nearly FTS5's own scores (the dropped words' passage counts are
    estimates)."""
    import kb.retrieval as r

    q = "model training sandbagging oversight"
    monkeypatch.setattr(r, "SCORE_BUDGET", 10_000)
    full = {c.chunk_id: c.score for c in keyword_candidates(store, q, 5)}
    monkeypatch.setattr(r, "SCORE_BUDGET", 60)
    got = keyword_candidates(store, q, 5)
    assert _titles(store, got[:1]) == {"Note 99"}
    for c in got:
        assert c.score == pytest.approx(full[c.chunk_id], rel=0.1)


def _titles(store, candidates) -> set[str]:
    return {store.conn.execute("SELECT title FROM posts WHERE id = ?", (c.post_id,)).fetchone()[0]
            for c in candidates}


def test_words_too_common_to_rank_rescore_the_newest_matching_passages(store, monkeypatch):
    """"model" is in all 120 passages: over a budget of 60, FTS5's bm25 (whose idf reads the
    whole posting list) is not run; the keyword side takes the most recently stored passages
    (RERANK_POOL of them) and ranks those by bm25 computed in kb.bm25."""
    import kb.retrieval as r

    match, rankable = r.bounded_plan(store, fts_terms("model"), budget=60)
    assert (match, rankable) == ('"model"', False)
    assert r.bounded_plan(store, fts_terms("sandbagging"), budget=60)[1]
    monkeypatch.setattr(r, "SCORE_BUDGET", 60)
    monkeypatch.setattr(r, "RERANK_POOL", 10)
    newest = [row[0] for row in store.conn.execute(
        "SELECT id FROM chunks ORDER BY cid DESC LIMIT 10")]
    got = keyword_candidates(store, "model", 5)
    assert {c.chunk_id for c in got} <= set(newest)
    assert all(c.score > 0 for c in got)
    # the pool's best by bm25: the passages without the extra sentences are the shortest
    texts = dict(store.conn.execute("SELECT id, text FROM chunks"))
    assert max(len(texts[c.chunk_id]) for c in got) <= min(
        len(texts[i]) for i in newest if i not in {c.chunk_id for c in got})


def test_the_whole_or_is_not_counted_when_one_word_is_far_past_the_budget(store, monkeypatch):
    """"model" is in all 120 passages, over twice a budget of 40: the OR of the question's words
    is surely past the budget, so the plan does not count it (one scan of up to the budget
    saved per question on a large archive); with rarer words it is counted and ranked whole."""
    import kb.retrieval as r

    counted: list[str] = []
    real = r._capped_count
    monkeypatch.setattr(r, "_capped_count", lambda s, m, c: counted.append(m) or real(s, m, c))
    terms = fts_terms("model sandbagging")
    plan = r.keyword_plan(store, terms, budget=40)
    assert " OR ".join(terms) not in counted and not plan.complete
    assert plan.match == '"sandbagging"'
    counted.clear()
    terms = fts_terms("oversight sandbagging")
    assert r.keyword_plan(store, terms, budget=100).complete
    assert counted == [" OR ".join(terms)]
