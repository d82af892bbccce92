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

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from kb.index.chunking import CHUNKER_VERSION, Chunk, chunk_text, header_for
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


def chunk_meta(row: Any) -> dict[str, Any]:
    return {"post_id": row["post_id"], "published_ts": _ts(row["published"]),
            "is_af": int(bool(row["is_af"])), "site": row["site"] or ""}


@contextmanager
def _progress(enabled: bool, total: int, label: str, unit: str = "chunks") -> Iterator[Any]:
    if not enabled or total == 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    class Rate(TextColumn):
        def render(self, task: Any) -> Any:
            from rich.text import Text

            speed = task.finished_speed or task.speed or (
                task.completed / task.elapsed if task.elapsed else 0.0)
            return Text(f"{speed:.1f} {unit}/s")

    cols = [TextColumn(label), BarColumn(), MofNCompleteColumn(), Rate(""),
            TimeRemainingColumn()]
    with Progress(*cols, console=Console(stderr=True), transient=False) as prog:
        task = prog.add_task(label, total=total)
        yield lambda n: prog.advance(task, n)


def _flush_tombstones(store: Store, index: Any, report: IndexReport) -> None:
    ids = [r[0] for r in store.conn.execute("SELECT id FROM chunk_tombstones")]
    for i in range(0, len(ids), 1000):
        batch = ids[i:i + 1000]
        index.delete(batch)
        with store.tx() as conn:
            conn.executemany("DELETE FROM chunk_tombstones WHERE id = ?", [(x,) for x in batch])
        report.chunks_removed += len(batch)


def _stale_posts(store: Store) -> list[Any]:
    return list(store.conn.execute(
        "SELECT p.id, p.title, v.version, v.text FROM posts p "
        "JOIN post_versions v ON v.post_id = p.id "
        " AND v.version = (SELECT max(version) FROM post_versions WHERE post_id = p.id) "
        "LEFT JOIN chunk_state s ON s.post_id = p.id "
        "WHERE s.post_id IS NULL OR s.version != v.version OR s.chunker != ? OR s.title != p.title "
        "ORDER BY p.id", (CHUNKER_VERSION,)))


def _write_chunks(store: Store, batch: list[tuple[Any, list[Chunk]]], index: Any,
                  model_id: str, report: IndexReport) -> None:
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


def sync_chunks(store: Store, embedder: Any, index: Any, report: IndexReport,
                *, progress: bool = False) -> None:
    stale = _stale_posts(store)
    count = embedder.count_tokens
    with _progress(progress and len(stale) > 20, len(stale), "chunking", "posts") as advance:
        for i in range(0, len(stale), POSTS_PER_TX):
            batch = [(row, chunk_text(row["title"], row["text"], count, embedder.max_tokens))
                     for row in stale[i:i + POSTS_PER_TX]]
            _write_chunks(store, batch, index, embedder.model_id, report)
            if advance:
                advance(len(batch))


def embed_pending(store: Store, embedder: Any, index: Any, report: IndexReport, *,
                  batch_size: int, progress: bool = False) -> None:
    model_id = embedder.model_id
    pending = list(store.conn.execute(
        "SELECT c.id, c.post_id, c.heading, c.text, c.tokens, p.title, p.published, p.is_af, "
        "p.site FROM chunks c JOIN posts p ON p.id = c.post_id "
        "WHERE c.embedded_model IS NULL OR c.embedded_model != ? ORDER BY c.tokens, c.cid",
        (model_id,)))  # batches of similar length: little padding in the model
    embed = getattr(embedder, "embed_array", None) or embedder.embed_documents
    with _progress(progress, len(pending), "embedding") as advance:
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
            if advance:
                advance(len(rows))


def _up_to_date(store: Store, model_id: str) -> bool:
    """No tombstone to flush, no post to (re)chunk and no chunk to embed for ``model_id``:
    then every chunk's vector is in the index (SQLite marks a chunk embedded only after its
    vector is stored), so a run would change nothing."""
    conn = store.conn
    return (conn.execute("SELECT 1 FROM chunk_tombstones LIMIT 1").fetchone() is None
            and conn.execute("SELECT 1 FROM chunks WHERE embedded_model IS NULL OR "
                             "embedded_model != ? LIMIT 1", (model_id,)).fetchone() is None
            and not _stale_posts(store))


def run_index(settings: Any, store: Store, *, progress: bool = True) -> IndexReport:
    """Chunk what changed, embed what is pending, remove what was superseded."""
    from kb.embed.factory import get_embedder, use_with_llama_index
    from kb.index.vector import open_index

    t0 = time.perf_counter()
    embedder = get_embedder(settings)
    if _up_to_date(store, embedder.model_id):  # nothing to do: skip loading llama-index+Chroma
        done = store.count("chunks")
        return IndexReport(model_id=embedder.model_id, chunks_total=done, vectors_total=done,
                           seconds=time.perf_counter() - t0)
    use_with_llama_index(embedder)
    index = open_index(settings, embedder.model_id, embedder.dim)
    report = IndexReport(model_id=embedder.model_id)
    _flush_tombstones(store, index, report)
    sync_chunks(store, embedder, index, report, progress=progress)
    embed_pending(store, embedder, index, report, batch_size=settings.index.batch_size,
                  progress=progress)
    report.chunks_total = store.count("chunks")
    report.vectors_total = index.count()
    report.seconds = time.perf_counter() - t0
    return report


def run_reindex(settings: Any, store: Store, *, progress: bool = True) -> IndexReport:
    """Drop the vector collection of the current model and rebuild it from SQLite."""
    from kb.embed.factory import get_embedder
    from kb.index.vector import drop_index

    embedder = get_embedder(settings)
    drop_index(settings, embedder.model_id)  # local index: the whole (maybe damaged) directory
    with store.tx() as tx:
        tx.execute("UPDATE chunks SET embedded_model = NULL")
        tx.execute("DELETE FROM chunk_tombstones")
    return run_index(settings, store, progress=progress)
