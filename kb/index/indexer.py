"""`kb index` / `kb reindex`: keep the chunks table and the vector index in step with SQLite.

SQLite is the source of truth.  One run:

1. deletes from the vector index the vectors of chunks that were removed (``chunk_tombstones``,
   left by an earlier interrupted run);
2. chunks the current version of every post whose version, title or chunker changed; the old
   chunks' vectors are reused for passages whose embedded text is unchanged (by content hash),
   the rest are tombstoned and deleted from the index;
3. embeds pending chunks in batches and stores them; a chunk is marked embedded only after its
   vector is stored, so a run killed at any point converges when run again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from kb.embed.base import Embedder
from kb.index.chunking import CHUNKER_VERSION, Chunk, chunk_text, header_for
from kb.index.vector import Metadata, VectorIndex
from kb.progress import Counter, OnProgress
from kb.store.db import Store, utcnow

POSTS_PER_TX = 32


@dataclass
class IndexReport:
    model_id: str = ""
    posts_chunked: int = 0
    chunks_added: int = 0  # new chunk rows
    chunks_removed: int = 0  # vectors deleted (superseded versions)
    chunks_embedded: int = 0  # vectors computed by the embedder
    chunks_reused: int = 0  # vectors carried over from an identical passage
    tokens_embedded: int = 0
    chunks_total: int = 0
    vectors_total: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0  # time inside the embedder

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ts(published: str | None) -> int:
    if not published:
        return -1
    try:
        return int(datetime.fromisoformat(published.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return -1


def chunk_meta(row: sqlite3.Row) -> Metadata:
    return {"post_id": row["post_id"], "published_ts": _ts(row["published"]),
            "is_af": int(bool(row["is_af"])), "site": row["site"] or ""}


def _flush_tombstones(store: Store, index: VectorIndex, report: IndexReport) -> None:
    ids = [r[0] for r in store.conn.execute("SELECT id FROM chunk_tombstones")]
    for i in range(0, len(ids), 1000):
        batch = ids[i:i + 1000]
        index.delete(batch)
        with store.tx() as conn:
            conn.executemany("DELETE FROM chunk_tombstones WHERE id = ?", [(x,) for x in batch])
        report.chunks_removed += len(batch)


def _stale_posts(store: Store) -> list[sqlite3.Row]:
    return list(store.conn.execute(
        "SELECT p.id, p.title, v.version, v.text FROM posts p "
        "JOIN post_versions v ON v.post_id = p.id "
        " AND v.version = (SELECT max(version) FROM post_versions WHERE post_id = p.id) "
        "LEFT JOIN chunk_state s ON s.post_id = p.id "
        "WHERE s.post_id IS NULL OR s.version != v.version OR s.chunker != ? OR s.title != p.title "
        "ORDER BY p.id", (CHUNKER_VERSION,)))


def _write_chunks(store: Store, batch: list[tuple[sqlite3.Row, list[Chunk]]],
                  index: VectorIndex, model_id: str, report: IndexReport) -> None:
    """Replace the chunks of each post in ``batch``; reuse vectors of unchanged passages."""
    conn = store.conn
    pids = [row["id"] for row, _ in batch]
    marks = ",".join("?" * len(pids))
    old = {r["content_hash"]: r["id"] for r in conn.execute(
        f"SELECT id, content_hash FROM chunks WHERE post_id IN ({marks}) AND embedded_model = ?",
        (*pids, model_id))}
    wanted = {c.content_hash for _, chunks in batch for c in chunks} & old.keys()
    reuse = index.get_embeddings([old[h] for h in wanted]) if wanted else {}
    now = utcnow()
    with store.tx() as tx:
        tx.execute(f"DELETE FROM chunks WHERE post_id IN ({marks})", pids)  # trigger: tombstones
        for row, chunks in batch:
            for c in chunks:
                cid = f"{row['id']}:{row['version']}:{c.position}"
                cur = tx.execute(
                    'INSERT INTO chunks (id, post_id, version, position, start, "end", heading, '
                    "text, tokens, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (cid, row["id"], row["version"], c.position, c.start, c.end, c.heading,
                     c.text, c.tokens, c.content_hash))
                tx.execute("INSERT INTO chunks_fts (rowid, title, heading, text) VALUES (?,?,?,?)",
                           (cur.lastrowid, row["title"], c.heading, c.text))
            tx.execute("INSERT OR REPLACE INTO chunk_state (post_id, version, chunker, title, "
                       "chunked_at) VALUES (?,?,?,?,?)",
                       (row["id"], row["version"], CHUNKER_VERSION, row["title"], now))
            report.chunks_added += len(chunks)
    report.posts_chunked += len(batch)
    # old vectors go before any new vector is stored (a re-chunk may reuse the same ids)
    _flush_tombstones(store, index, report)
    if reuse:
        by_hash = {h: reuse[old[h]] for h in wanted if old[h] in reuse}
        rows = list(conn.execute(
            f"SELECT c.id, c.content_hash, c.post_id, p.published, p.is_af, p.site FROM chunks c "
            f"JOIN posts p ON p.id = c.post_id WHERE c.post_id IN ({marks}) "
            "AND c.embedded_model IS NULL", pids))
        rows = [r for r in rows if r["content_hash"] in by_hash]
        if rows:
            index.add([r["id"] for r in rows], [by_hash[r["content_hash"]] for r in rows],
                      [chunk_meta(r) for r in rows])
            with store.tx() as tx:
                tx.executemany("UPDATE chunks SET embedded_model = ? WHERE id = ?",
                               [(model_id, r["id"]) for r in rows])
            report.chunks_reused += len(rows)


def sync_chunks(store: Store, embedder: Embedder, index: VectorIndex, report: IndexReport,
                *, on_progress: OnProgress | None = None) -> None:
    stale = _stale_posts(store)
    count = embedder.count_tokens
    step = Counter(on_progress if len(stale) > 20 else None, "chunking", len(stale), "posts")
    for i in range(0, len(stale), POSTS_PER_TX):
        batch = [(row, chunk_text(row["title"], row["text"], count, embedder.max_tokens))
                 for row in stale[i:i + POSTS_PER_TX]]
        _write_chunks(store, batch, index, embedder.model_id, report)
        step.advance(len(batch))


def _embed_fn(embedder: Embedder) -> Callable[[list[str]], Any]:
    """The embedder's array form when it has one (no Python lists of floats in between)."""
    array = getattr(embedder, "embed_array", None)
    return array if callable(array) else embedder.embed_documents


def embed_pending(store: Store, embedder: Embedder, index: VectorIndex, report: IndexReport, *,
                  batch_size: int, on_progress: OnProgress | None = None) -> None:
    model_id = embedder.model_id
    pending = list(store.conn.execute(
        "SELECT c.id, c.post_id, c.heading, c.text, c.tokens, p.title, p.published, p.is_af, "
        "p.site FROM chunks c JOIN posts p ON p.id = c.post_id "
        "WHERE c.embedded_model IS NULL OR c.embedded_model != ? ORDER BY c.tokens, c.cid",
        (model_id,)))  # batches of similar length: little padding in the model
    embed = _embed_fn(embedder)
    step = Counter(on_progress if pending else None, "embedding", len(pending), "chunks")
    for i in range(0, len(pending), batch_size):
        rows = pending[i:i + batch_size]
        ids = [r["id"] for r in rows]
        have = index.existing(ids)  # stored by a run that was killed before marking them
        todo = [r for r in rows if r["id"] not in have]
        if todo:
            t0 = time.perf_counter()
            vecs = embed([header_for(r["title"], r["heading"]) + r["text"] for r in todo])
            report.embed_seconds += time.perf_counter() - t0
            index.add([r["id"] for r in todo], vecs, [chunk_meta(r) for r in todo])
            report.chunks_embedded += len(todo)
            report.tokens_embedded += sum(r["tokens"] for r in todo)
        with store.tx() as tx:
            tx.executemany("UPDATE chunks SET embedded_model = ? WHERE id = ?",
                           [(model_id, x) for x in ids])
        step.advance(len(rows))


def up_to_date(store: Store, model_id: str) -> bool:
    """No tombstone to flush, no post to (re)chunk and no chunk to embed for ``model_id``:
    then every chunk's vector is in the index (SQLite marks a chunk embedded only after its
    vector is stored), so a run would change nothing."""
    conn = store.conn
    return (conn.execute("SELECT 1 FROM chunk_tombstones LIMIT 1").fetchone() is None
            and conn.execute("SELECT 1 FROM chunks WHERE embedded_model IS NULL OR "
                             "embedded_model != ? LIMIT 1", (model_id,)).fetchone() is None
            and not _stale_posts(store))


def run_index(store: Store, embedder: Embedder, index: VectorIndex, *, batch_size: int = 250,
              on_progress: OnProgress | None = None) -> IndexReport:
    """Chunk what changed, embed what is pending, remove what was superseded.

    When nothing is pending the index is not touched at all (a lazily opened index is never
    opened: a second `kb daily` does not load Chroma)."""
    t0 = time.perf_counter()
    if up_to_date(store, embedder.model_id):
        done = store.count("chunks")
        return IndexReport(model_id=embedder.model_id, chunks_total=done, vectors_total=done,
                           seconds=time.perf_counter() - t0)
    report = IndexReport(model_id=embedder.model_id)
    _flush_tombstones(store, index, report)
    sync_chunks(store, embedder, index, report, on_progress=on_progress)
    embed_pending(store, embedder, index, report, batch_size=batch_size, on_progress=on_progress)
    report.chunks_total = store.count("chunks")
    report.vectors_total = index.count()
    report.seconds = time.perf_counter() - t0
    return report


def run_reindex(store: Store, embedder: Embedder, fresh_index: Callable[[], VectorIndex], *,
                batch_size: int = 250, on_progress: OnProgress | None = None) -> IndexReport:
    """Rebuild the vectors of ``embedder`` from SQLite into ``fresh_index()`` (an emptied
    index; see :meth:`kb.runtime.Runtime.fresh_index`).

    SQLite forgets the vectors first, so a run killed at any point leaves chunks that the
    next `kb index` embeds (or finds already stored)."""
    with store.tx() as tx:
        tx.execute("UPDATE chunks SET embedded_model = NULL")
        tx.execute("DELETE FROM chunk_tombstones")
    return run_index(store, embedder, fresh_index(), batch_size=batch_size,
                     on_progress=on_progress)
