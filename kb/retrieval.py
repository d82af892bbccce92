"""Search: SQLite FTS5 bm25 over passages, vector kNN in Chroma, fused by reciprocal rank.

Results are grouped per post: each hit is one post with its best passage and that passage's
character offsets in the post's version text.  Filters apply in SQL for keyword search and as
Chroma metadata filters (dates, AF) plus a post-id restriction (author, source) for vectors.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kb.embed.base import Embedder
from kb.index.vector import VectorIndex, Where
from kb.search_types import Filters, Mode, SearchHit
from kb.store.db import Store

# Fusion, chosen on both question sets in tests/eval (README "Retrieval quality"): a steeper
# rank curve than the usual 60 (rank 1 is worth 1/11), bm25 a little below the vectors, and a
# post scores with up to PASSAGES_PER_POST of its passages in each list, the j-th weighted
# PASSAGE_DECAY**j, so a post that several passages match outranks one lucky passage.
RRF_K = 10
WEIGHTS = {"keyword": 0.7, "vector": 1.0}
PASSAGES_PER_POST = 4
PASSAGE_DECAY = 0.5
MIN_CANDIDATES = 50
MAX_IN_LIST = 5000  # larger post-id restrictions are applied after the vector query
BM25_WEIGHTS = (0.5, 1.0, 1.0)  # title, heading, text
# passages FTS5's bm25 scores per keyword query, about (see keyword_plan): it costs ~3 us a
# passage.  The best RERANK_POOL of a bounded query are re-scored with all the question's words
# (kb.bm25, ~50 us a passage).  On the whole LW dataset (26k passages) 8k with the re-scoring
# keeps keyword recall@5 at that of no bound on both eval sets; without it, 8k lost 0.09 on the
# hard set and 16k was needed (python -m bench.keyword_budget).
SCORE_BUDGET = 8_000
RERANK_POOL = 100
# passages counted per word before its count is estimated (see _df_estimate): ~0.15 ms a word
# at 1M passages; the whole cap (SCORE_BUDGET // 4) cost four times that on long questions
DF_SCAN = 512

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset((  # noqa: SIM905
    "a an and are as at be but by can could did do does for from had has have how i if in "
    "into is it its of on or our should so than that the their them then there these they this "
    "to was we were what when where which who why will with would you your").split(" "))


class SearchError(ValueError):
    """A search cannot run as asked (bad filter value, unknown mode)."""


@dataclass
class Candidate:
    chunk_id: str
    post_id: str
    score: float


def fts_terms(text: str) -> list[str]:
    """User text -> quoted FTS5 terms (so operators, quotes, parentheses, colons and NEAR are
    plain words), lower-cased, stop words and single characters (the "s" of "AI's") dropped,
    each once."""
    words = [w.lower() for w in _WORD.findall(text)]
    keep = [w for w in words if w not in _STOP and len(w) > 1] or words
    uniq = list(dict.fromkeys(keep))[:64]
    return ['"' + w.replace('"', '""') + '"' for w in uniq]


def fts_query(text: str) -> str:
    """User text -> a safe FTS5 query: every word quoted, stop words dropped, OR-ed for bm25 to
    rank."""
    return " OR ".join(fts_terms(text))


def _day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise SearchError(f"--{name}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _post_filter_sql(f: Filters | None) -> tuple[str, list[Any]]:
    """SQL conditions on ``p`` (posts) for the filters."""
    if f is None:
        return "", []
    where, args = [], []  # type: tuple[list[str], list[Any]]
    if f.since:
        where.append("p.published >= ?")
        args.append(_day(f.since, "since").isoformat())
    if f.until:
        where.append("p.published < ?")
        args.append((_day(f.until, "until") + timedelta(days=1)).isoformat())
    if f.af_only:
        where.append("p.is_af = 1")
    if f.author:
        where.append("EXISTS (SELECT 1 FROM json_each(p.authors) a "
                     "WHERE lower(a.value) LIKE '%' || lower(?) || '%')")
        args.append(f.author)
    if f.source:
        where.append("(p.site = ? OR p.source_id IN (SELECT id FROM sources WHERE name = ? "
                     "OR CAST(id AS TEXT) = ? OR url = ?) OR EXISTS (SELECT 1 FROM post_urls u "
                     "WHERE u.post_id = p.id AND u.url LIKE '%://' || ? || '/%'))")
        args += [f.source] * 5
    return " AND ".join(where), args


def _capped_count(store: Store, match: str, cap: int) -> int:
    """How many passages match, counting no further than ``cap + 1`` (cheap: no ranking)."""
    return int(store.conn.execute(
        "SELECT count(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
        (match, cap + 1)).fetchone()[0])


def _df_estimate(store: Store, term: str, cap: int, last: int) -> float:
    """How many passages hold ``term``: exact up to ``cap``, else estimated from how far into
    the archive (rowid order, ``last`` the highest rowid) its ``cap + 1``-th passage lies — a
    common word gets there early.  Costs what the capped count costs."""
    n, at = store.conn.execute(
        "SELECT count(*), max(rowid) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
        "LIMIT ?)", (term, cap + 1)).fetchone()
    if n <= cap or not at:
        return float(n)
    return max(float(n), float(n * last / at))


def bounded_match(store: Store, terms: list[str], budget: int | None = None) -> str:
    """The FTS5 query to rank for ``terms`` (see :func:`keyword_plan`)."""
    return keyword_plan(store, terms, budget).match


def bounded_plan(store: Store, terms: list[str], budget: int | None = None) -> tuple[str, bool]:
    """The FTS5 query for ``terms`` and whether bm25 may rank it (see :func:`keyword_plan`)."""
    plan = keyword_plan(store, terms, budget)
    return plan.match, plan.rankable


@dataclass
class KeywordPlan:
    """How the keyword side answers a question: the FTS5 query it runs (``match``), whether
    bm25 may rank that query (``rankable``), whether those scores are final (``complete``: the
    query is every term OR-ed and bm25 ranked it), and, when they are not, how many passages
    hold each term (``df``: exact up to the cap, estimated past it) for the re-scoring."""
    match: str
    rankable: bool
    complete: bool
    df: dict[str, float]


def keyword_plan(store: Store, terms: list[str], budget: int | None = None) -> KeywordPlan:
    """The keyword side's plan for ``terms`` (quoted FTS5 terms, see :func:`fts_terms`).

    All terms OR-ed, ranked by FTS5's bm25 over every match, when at most ``budget`` passages
    match.  Else a bounded query: bm25 costs per matching passage — and its idf reads the whole
    posting list of every term — so on a large archive the OR of a question's common words
    would score a large part of it; instead the rarest terms are kept while the passages they
    match add up to at most ``budget``, each in at most a quarter of it (the dropped ones are
    those of lowest idf); when even the rarest term is in more, the passages must hold the
    rarest terms together, as many as it takes to bring them under ``budget`` (never to none;
    each term's count is exact up to :data:`DF_SCAN` passages and estimated past it, see
    :func:`_df_estimate`).  When even all the terms together (or a single term) match more
    than ``budget`` passages, the words are too common to rank cheaply (``rankable`` False):
    :func:`keyword_candidates` takes the most recently stored of those passages.  Either way
    the best of the bounded query's passages are then re-scored with every term
    (:mod:`kb.bm25`), so the dropped words still count.  The counts stop at their cap, so
    working this out costs little more than a query over ``budget`` passages."""
    budget = SCORE_BUDGET if budget is None else budget
    full = " OR ".join(terms)
    if len(terms) <= 1:
        n_full = _capped_count(store, full, budget)
        return KeywordPlan(full, n_full <= budget, n_full <= budget,
                           {} if n_full <= budget else {t: float(n_full) for t in terms})
    cap = max(1, budget // 4)
    last = int(store.conn.execute("SELECT coalesce(max(cid), 0) FROM chunks").fetchone()[0])
    df = sorted((_df_estimate(store, t, min(cap, DF_SCAN), last), t) for t in terms)
    # a word far past the budget on its own makes the OR of all past it: no need to count that
    if df[-1][0] <= 2 * budget and _capped_count(store, full, budget) <= budget:
        return KeywordPlan(full, True, True, {})
    counts = {t: n for n, t in df}
    keep: list[str] = []
    total = 0.0
    for n, t in df:
        if n > cap or total + n > budget:
            break
        keep.append(t)
        total += n
    if keep:
        return KeywordPlan(" OR ".join(keep), True, False, counts)
    conj = df[0][1]  # every term is common: require the rarest ones together
    found = budget + 1
    for _, t in df[1:]:
        narrower = f"{conj} AND {t}"
        found = _capped_count(store, narrower, budget)
        if found:
            conj = narrower
        if found <= budget:
            break
    return KeywordPlan(conj, 0 < found <= budget, False, counts)


def _unquote(term: str) -> str:
    return term[1:-1].replace('""', '"')


def rescore(store: Store, terms: list[str], df: dict[str, float],
            rowids: Sequence[int]) -> dict[int, float]:
    """FTS5's bm25 of the passages ``rowids`` (chunks_fts rows) with every one of ``terms``,
    ``df`` how many passages hold each (see :mod:`kb.bm25`)."""
    from kb import bm25

    if not rowids:
        return {}
    stem = bm25.stemmer()
    stems = stem.stems(_unquote(t) for t in terms)
    by_stem: dict[str, float] = {}
    for t in terms:
        s = stems[_unquote(t)]
        if s:
            by_stem[s] = max(by_stem.get(s, 0.0), df.get(t, 0.0))
    tot = bm25.totals(store.conn, "chunks_fts")
    scorer = bm25.Scorer(list(by_stem), [bm25.idf(tot.rows, n) for n in by_stem.values()],
                         BM25_WEIGHTS, tot.mean_len, stem)
    lens = bm25.lengths(store.conn, "chunks_fts", rowids)
    marks = ",".join("?" * len(rowids))
    rows = store.conn.execute(  # FTS5's own copy of the columns it indexed
        f"SELECT id, c0, c1, c2 FROM chunks_fts_content WHERE id IN ({marks})",
        list(rowids)).fetchall()
    got = scorer.scores([r[1:] for r in rows], [lens.get(r[0], 0) for r in rows])
    return {r[0]: s for r, s in zip(rows, got, strict=True)}


def keyword_candidates(store: Store, query: str, n: int,
                       filters: Filters | None = None) -> list[Candidate]:
    """The ``n`` best passages for ``query`` by bm25 (title, headings, text), within
    ``filters``.  On a large archive bm25 ranks only the passages of the question's rarer words
    (or, for words so common that more than :data:`SCORE_BUDGET` passages hold them all, the
    most recently stored of those passages), and the best :data:`RERANK_POOL` of them are
    re-scored with all its words: see :func:`keyword_plan`."""
    terms = fts_terms(query)
    if not terms:
        return []
    plan = keyword_plan(store, terms)
    pool = n if plan.complete else max(n, RERANK_POOL)
    cond, args = _post_filter_sql(filters)
    w = ", ".join(str(x) for x in BM25_WEIGHTS)
    score = f"bm25(chunks_fts, {w})" if plan.rankable else "0.0"
    order = "s" if plan.rankable else "chunks_fts.rowid DESC"
    if cond:
        where = ("JOIN chunks c ON c.cid = chunks_fts.rowid JOIN posts p ON p.id = c.post_id "
                 "WHERE chunks_fts MATCH ? AND " + cond)
    else:  # rank in the FTS table alone, then look up only the best passages
        where = "WHERE chunks_fts MATCH ?"
    ranked = store.conn.execute(
        f"SELECT chunks_fts.rowid, {score} AS s FROM chunks_fts {where} "
        f"ORDER BY {order} LIMIT ?", [plan.match, *args, pool]).fetchall()
    if not ranked:
        return []
    scores = {r[0]: -float(r[1]) for r in ranked}
    if not plan.complete:
        scores = rescore(store, terms, plan.df, list(scores))
    best = sorted(scores, key=lambda cid: -scores[cid])[:n]
    marks = ",".join("?" * len(best))
    ids = {r[0]: (r[1], r[2]) for r in store.conn.execute(
        f"SELECT cid, id, post_id FROM chunks WHERE cid IN ({marks})", best)}
    return [Candidate(*ids[cid], scores[cid]) for cid in best if cid in ids]


def _ts(day: date, end: bool = False) -> int:
    d = day + timedelta(days=1) if end else day
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) - (1 if end else 0)


def _allowed_posts(store: Store, filters: Filters | None) -> set[str] | None:
    if filters is None or not (filters.author or filters.source):
        return None
    cond, args = _post_filter_sql(filters)
    return {r[0] for r in store.conn.execute(f"SELECT p.id FROM posts p WHERE {cond}", args)}


@dataclass
class _VectorPlan:
    """What a vector query needs from SQLite, worked out before it runs (so the query itself
    can run beside the keyword search without touching the store)."""
    where: Where
    fetch: int
    allowed: set[str] | None


def _vector_plan(store: Store, n: int, filters: Filters | None) -> _VectorPlan | None:
    """None when the filters leave no post to search."""
    where: Where = {}
    if filters and filters.since:
        where.setdefault("published_ts", {})["gte"] = _ts(_day(filters.since, "since"))
    if filters and filters.until:
        where.setdefault("published_ts", {})["lte"] = _ts(_day(filters.until, "until"), end=True)
    if filters and filters.af_only:
        where["is_af"] = {"eq": 1}
    allowed = _allowed_posts(store, filters)
    fetch = n
    if allowed is not None:
        if not allowed:
            return None
        if len(allowed) <= MAX_IN_LIST:
            where["post_id"] = {"in": sorted(allowed)}
        else:
            fetch = n * 4  # overfetch, then keep the allowed posts
    return _VectorPlan(where, fetch, allowed)


def _vector_query(embedder: Embedder, index: VectorIndex, query: str, n: int,
                  plan: _VectorPlan) -> list[Candidate]:
    hits = index.query(embedder.embed_query(query), plan.fetch, plan.where or None)
    out = [Candidate(h.chunk_id, h.chunk_id.rsplit(":", 2)[0], h.score) for h in hits]
    if plan.allowed is not None:
        out = [c for c in out if c.post_id in plan.allowed]
    return out[:n]


def vector_candidates(store: Store, embedder: Embedder, index: VectorIndex, query: str, n: int,
                      filters: Filters | None = None) -> list[Candidate]:
    plan = _vector_plan(store, n, filters)
    return [] if plan is None else _vector_query(embedder, index, query, n, plan)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _background(fn: Callable[..., list[Candidate]], *args: Any) -> Future[list[Candidate]]:
    """Run ``fn`` on kb's one search thread: the query embedding (ONNX releases the GIL) and
    the Chroma kNN overlap with the FTS5 query on the caller's thread."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-search")
    return _pool.submit(fn, *args)


def fuse(lists: dict[str, list[Candidate]], *, k_rrf: int = RRF_K,
         weights: dict[str, float] | None = None, per_post: int = PASSAGES_PER_POST,
         decay: float = PASSAGE_DECAY) -> list[tuple[str, float, str]]:
    """Reciprocal rank fusion at the post level over passage ranks: in each list a post gets
    ``w * decay**j / (k_rrf + rank)`` for its j-th passage there (j < ``per_post``, rank counted
    over passages).  Returns (post_id, score, best chunk id), best first; a post's best chunk is
    the one with the highest fused chunk-level score."""
    weights = weights or WEIGHTS
    post_score: dict[str, float] = {}
    chunk_score: dict[str, float] = {}
    chunk_post: dict[str, str] = {}
    for mode, cands in lists.items():
        w = weights.get(mode, 1.0)
        seen: dict[str, int] = {}
        for i, c in enumerate(cands):
            chunk_score[c.chunk_id] = chunk_score.get(c.chunk_id, 0.0) + w / (k_rrf + i + 1)
            chunk_post[c.chunk_id] = c.post_id
            j = seen.get(c.post_id, 0)
            if j < per_post:
                post_score[c.post_id] = (post_score.get(c.post_id, 0.0)
                                         + w * decay ** j / (k_rrf + i + 1))
            seen[c.post_id] = j + 1
    best: dict[str, str] = {}
    for cid, s in chunk_score.items():
        pid = chunk_post[cid]
        if pid not in best or s > chunk_score[best[pid]]:
            best[pid] = cid
    ranked = sorted(post_score.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(pid, s, best[pid]) for pid, s in ranked]


def _group(cands: Sequence[Candidate]) -> list[tuple[str, float, str]]:
    """A single mode's chunk list -> posts in order, each with its best chunk."""
    out: list[tuple[str, float, str]] = []
    seen: set[str] = set()
    for c in cands:
        if c.post_id not in seen:
            seen.add(c.post_id)
            out.append((c.post_id, c.score, c.chunk_id))
    return out


def _hits(store: Store, ranked: list[tuple[str, float, str]]) -> list[SearchHit]:
    import json

    if not ranked:
        return []
    ids = [cid for _, _, cid in ranked]
    marks = ",".join("?" * len(ids))
    rows = {r["id"]: r for r in store.conn.execute(
        f'SELECT c.id, c.post_id, c.version, c.start, c."end", c.text, p.title, p.canonical_url, '
        f"p.published, p.authors, p.site FROM chunks c JOIN posts p ON p.id = c.post_id "
        f"WHERE c.id IN ({marks})", ids)}
    out = []
    for _pid, score, cid in ranked:
        r = rows.get(cid)
        if r is None:  # the index knows a chunk SQLite no longer has: skip it
            continue
        out.append(SearchHit(post_id=r["post_id"], title=r["title"], url=r["canonical_url"],
                             published=r["published"], score=round(float(score), 6),
                             text=r["text"], start=r["start"], end=r["end"],
                             authors=json.loads(r["authors"]), version=r["version"],
                             chunk_id=cid, site=r["site"]))
    return out


def search(store: Store, embedder: Embedder | None, index: VectorIndex | None, query: str, *,
           k: int = 10, mode: Mode = "hybrid", filters: Filters | None = None
           ) -> list[SearchHit]:
    """The ``k`` best posts for ``query``, each with its best passage.

    ``embedder`` and ``index`` may be None for a keyword search (nothing is loaded then)."""
    if mode not in ("hybrid", "vector", "keyword"):
        raise SearchError(f"unknown search mode {mode!r} (hybrid, vector or keyword)")
    if not query.strip() or k <= 0:
        return []
    n = max(MIN_CANDIDATES, k * 5)
    lists: dict[str, list[Candidate]] = {}
    if mode == "keyword":
        lists["keyword"] = keyword_candidates(store, query, n, filters)
    else:
        if embedder is None or index is None:
            raise SearchError(f"a {mode} search needs the embedder and the vector index")
        if mode == "vector":
            lists["vector"] = vector_candidates(store, embedder, index, query, n, filters)
        else:  # both at once: the vector query on the search thread, FTS5 here
            plan = _vector_plan(store, n, filters)
            pending = None if plan is None else _background(_vector_query, embedder, index,
                                                            query, n, plan)
            lists["keyword"] = keyword_candidates(store, query, n, filters)
            lists["vector"] = [] if pending is None else pending.result()
    ranked = fuse(lists) if mode == "hybrid" else _group(lists[mode])
    # over-select: a post the index knows but SQLite dropped is skipped by _hits
    return _hits(store, ranked[:k + 5])[:k]
