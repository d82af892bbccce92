"""P9 the search curve: `kb search` over 10k and 100k passages (1M with --scale), embedded Chroma and a Chroma server.

What this measures is the store and the fusion at scale — SQLite FTS5, the Chroma kNN, reciprocal
rank fusion and the passage lookup — not the embedder: every query is embedded once per search
as `kb search` does, but the archive's vectors are not recomputed for each size.

How an archive of N passages is built, cheaply and honestly:

1. A template archive: a fixed sample of ``BASE_POSTS`` real LessWrong posts from
   ../shared/corpus, stored with kb's own ``save_post`` and chunked by kb's own indexer
   (``sync_chunks``: the real chunker and tokenizer).  Their real MiniLM vectors are computed
   once and cached by content hash outside the repo (``$KB_BENCH_CACHE``, default
   ``~/.cache/kb-bench``).
2. Replicas: every template post is copied under a distinct post id (``<id>-<replica>``) with a
   random posting date between 2010 and 2026, with its version, URL, posts_fts row, chunk_state,
   chunks and chunks_fts rows written in bulk with the same SQL columns kb's store and indexer
   write, in large transactions, until the archive holds exactly N passages.  Passage text is the
   real text (what FTS5 sees); a replica's vector is the real vector plus small Gaussian noise,
   renormalized (replica 0 keeps the exact vectors).
3. The vectors go through ``ChromaIndex.add`` (kb's own write path: llama-index nodes, the same
   ids and metadata as ``kb index``) in batches of ``VECTOR_BATCH``, into the embedded Chroma
   (``PersistentClient``) and into a real Chroma server (``chroma run`` on loopback, where kb
   namespaces the ids by archive).

Each measurement runs in a fresh child process (``python -m bench.p9_scale --measure HOME``) so
its peak RSS is that of a process searching the archive, not of the one that built it; the
server is restarted after its build for the same reason.  Queries are those of P3 (the eval
questions and a few short ones), warm (an untimed round of every query in every mode first), in
interleaved rounds: a bare Chroma query (embedding + ``collection.query`` n_results=50), then
hybrid, vector and keyword ``kb.retrieval.search``.

``KB_BENCH_P9_SIZES=10000,1000000`` overrides the sizes (e.g. to run only the large one).
``KB_BENCH_P9_DIR=DIR`` keeps the archives in DIR and reuses, on the next run, each part (SQLite,
embedded Chroma, server data) whose build finished for the same size and model: the 1M build
takes most of an hour, its measurement a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import Context, Row, check, disk_mb, percentile

if TYPE_CHECKING:
    import numpy as np

    from kb.embed.base import Embedder
    from kb.index.vector import VectorIndex
    from kb.search_types import Mode
    from kb.store.posts import PostRecord

NAME = "P9"
SIZES = (10_000, 100_000)
SCALE_SIZES = (10_000, 100_000, 1_000_000)
BASE_POSTS = 100  # real posts whose passages and vectors are replicated (~3.8k passages)
NOISE = 0.02  # std of the per-dimension noise on replica vectors: cosine to the original ~0.93
SEED = 9
VECTOR_BATCH = 5000  # vectors per ChromaIndex.add
ROWS_PER_TX = 50_000  # passages written per SQLite transaction
ROUNDS = 3
BARE_N = 50  # n_results of the bare Chroma query (kb asks for 50 candidates at k=10)
TARGET_P95_MS = 150.0
TARGET_RATIO = 1.5
DATES = (datetime(2010, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "eval" / "retrieval_questions.jsonl"
REPO = Path(__file__).resolve().parent.parent
MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")


def queries() -> list[str]:
    """P3's queries: the retrieval eval questions plus a few short topic searches."""
    qs = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]
    return qs + ["AI control", "reward hacking", "interpretability", "decision theory"]


def cache_dir() -> Path:
    """Where base vectors are kept between runs (never inside the repo)."""
    env = os.environ.get("KB_BENCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "kb-bench"


def sizes(ctx: Context) -> tuple[int, ...]:
    env = os.environ.get("KB_BENCH_P9_SIZES", "").strip()
    if env:
        return tuple(int(x) for x in env.split(",") if x.strip())
    return SCALE_SIZES if ctx.scale else SIZES


def label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k"


# --- the template archive and its real vectors -----------------------------------------------

@dataclass
class Base:
    """The template archive (real posts, kb-chunked) and a vector per passage content hash."""
    db: Path
    passages: int
    vectors: np.ndarray  # (unique hashes, dim) float32, unit rows
    row_of: dict[str, int] = field(default_factory=dict)  # content hash -> row in vectors


def build_base(records: list[PostRecord], embedder: Embedder, dest: Path) -> Base:
    """Store and chunk ``records`` with kb's own code; vectors from the cache, computing (and
    caching) those it lacks with ``embedder`` exactly as ``kb index`` embeds them."""
    import numpy as np

    from kb.index.chunking import header_for
    from kb.index.fake import FakeIndex
    from kb.index.indexer import IndexReport, sync_chunks
    from kb.store.db import Store
    from kb.store.posts import save_post

    dest.parent.mkdir(parents=True, exist_ok=True)
    store = Store(dest)
    for rec in records:
        save_post(store, rec)
    # no vector is read or written while chunking a fresh archive: the fake index stays empty
    sync_chunks(store, embedder, FakeIndex(embedder.model_id, embedder.dim),
                IndexReport(model_id=embedder.model_id))
    rows = store.conn.execute(
        "SELECT c.content_hash, p.title, c.heading, c.text FROM chunks c "
        "JOIN posts p ON p.id = c.post_id ORDER BY c.cid").fetchall()
    cache = cache_dir() / f"p9-vectors-{_safe(embedder.model_id)}.npz"
    known: dict[str, Any] = {}
    if cache.is_file():
        with np.load(cache) as z:
            known = dict(zip(z["hashes"].tolist(), z["vectors"], strict=True))
    todo = {r["content_hash"]: header_for(r["title"], r["heading"]) + r["text"]
            for r in rows if r["content_hash"] not in known}
    if todo:
        print(f"P9: embedding {len(todo)} base passages once (cached in {cache})", flush=True)
        t0 = time.perf_counter()
        embed = getattr(embedder, "embed_array", None) or embedder.embed_documents
        vecs = np.asarray(embed(list(todo.values())), dtype=np.float32)
        print(f"P9: embedded in {time.perf_counter() - t0:.0f} s", flush=True)
        known.update(zip(todo, vecs, strict=True))
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, hashes=np.asarray(list(known)), vectors=np.stack(list(known.values())))
        tmp.replace(cache)
    hashes = sorted({r["content_hash"] for r in rows})
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return Base(dest, len(rows), np.stack([known[h] for h in hashes]).astype(np.float32),
                {h: i for i, h in enumerate(hashes)})


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)


# --- the replicated SQLite archive --------------------------------------------------------------

def replica_of(post_id: str) -> int:
    """0 for a template post, r for its r-th copy ``<id>-<r>``."""
    head, sep, tail = post_id.rpartition("-")
    return int(tail) if sep and head and tail.isdigit() else 0


def build_sqlite(base: Base, db: Path, n: int, model_id: str) -> float:
    """The archive of exactly ``n`` passages at ``db``: the template plus replicas, written in
    bulk with the columns kb's store (posts, post_urls, post_versions, posts_fts) and indexer
    (chunk_state, chunks, chunks_fts) write; chunks are marked embedded by ``model_id``, as
    they are once their vectors are stored (the vectors follow in :func:`add_vectors`).
    Returns the seconds taken."""
    import numpy as np

    from kb.store.db import Store

    if n < base.passages:
        raise ValueError(f"P9: {n} passages is fewer than the template's {base.passages}")
    t0 = time.perf_counter()
    db.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(base.db)
    dst = sqlite3.connect(db)
    src.backup(dst)
    src.close()
    dst.close()
    store = Store(db)
    conn = store.conn
    conn.execute("PRAGMA synchronous = OFF")  # a scratch archive: a crash just means rebuild
    posts = conn.execute("SELECT * FROM posts ORDER BY id").fetchall()
    versions = {r["post_id"]: r for r in conn.execute("SELECT * FROM post_versions")}
    urls = {r["post_id"]: r["url"] for r in conn.execute("SELECT post_id, url FROM post_urls")}
    states = {r["post_id"]: r for r in conn.execute("SELECT * FROM chunk_state")}
    chunks: dict[str, list[sqlite3.Row]] = {}
    for r in conn.execute("SELECT * FROM chunks ORDER BY post_id, position"):
        chunks.setdefault(r["post_id"], []).append(r)
    with store.tx() as tx:
        tx.execute("UPDATE chunks SET embedded_model = ?", (model_id,))
    rng = np.random.default_rng(SEED)
    lo, hi = (int(d.timestamp()) for d in DATES)
    cid = int(conn.execute("SELECT max(cid) FROM chunks").fetchone()[0])
    remaining = n - base.passages
    replica = 0
    pending = _Pending()
    while remaining > 0:
        replica += 1
        for p in posts:
            if remaining <= 0:
                break
            pid = f"{p['id']}-{replica}"
            when = datetime.fromtimestamp(int(rng.integers(lo, hi)), UTC)
            published = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            v, st = versions[p["id"]], states[p["id"]]
            pending.posts.append((pid, p["title"], p["authors"], published, p["site"],
                                  p["canonical_url"].replace(p["id"], pid, 1), p["is_af"],
                                  p["first_seen_at"]))
            url = urls.get(p["id"], p["canonical_url"])
            pending.urls.append((url.replace(p["id"], pid, 1) if p["id"] in url
                                 else f"{url}#copy-{replica}", pid))
            pending.versions.append((pid, v["version"], v["content_hash"], v["text"], v["origin"],
                                     v["fetched_at"]))
            pending.posts_fts.append((pid, p["title"], v["text"]))
            pending.states.append((pid, st["version"], st["chunker"], st["title"],
                                   st["chunked_at"]))
            for c in chunks.get(p["id"], [])[:remaining]:
                cid += 1
                pending.chunks.append((cid, f"{pid}:{c['version']}:{c['position']}", pid,
                                       c["version"], c["position"], c["start"], c["end"],
                                       c["heading"], c["text"], c["tokens"], c["content_hash"],
                                       model_id))
                pending.chunks_fts.append((cid, p["title"], c["heading"], c["text"]))
                remaining -= 1
            if len(pending.chunks) >= ROWS_PER_TX:
                pending.flush(store)
    pending.flush(store)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return time.perf_counter() - t0


@dataclass
class _Pending:
    """Rows waiting for the next bulk transaction."""
    posts: list[tuple[Any, ...]] = field(default_factory=list)
    urls: list[tuple[Any, ...]] = field(default_factory=list)
    versions: list[tuple[Any, ...]] = field(default_factory=list)
    posts_fts: list[tuple[Any, ...]] = field(default_factory=list)
    states: list[tuple[Any, ...]] = field(default_factory=list)
    chunks: list[tuple[Any, ...]] = field(default_factory=list)
    chunks_fts: list[tuple[Any, ...]] = field(default_factory=list)

    def flush(self, store: Any) -> None:
        with store.tx() as tx:
            tx.executemany("INSERT INTO posts (id, title, authors, published, site, "
                           "canonical_url, is_af, first_seen_at) VALUES (?,?,?,?,?,?,?,?)",
                           self.posts)
            tx.executemany("INSERT INTO post_urls (url, post_id) VALUES (?, ?)", self.urls)
            tx.executemany("INSERT INTO post_versions (post_id, version, content_hash, text, "
                           "origin, fetched_at) VALUES (?,?,?,?,?,?)", self.versions)
            tx.executemany("INSERT INTO posts_fts (post_id, title, text) VALUES (?,?,?)",
                           self.posts_fts)
            tx.executemany("INSERT INTO chunk_state (post_id, version, chunker, title, "
                           "chunked_at) VALUES (?,?,?,?,?)", self.states)
            tx.executemany('INSERT INTO chunks (cid, id, post_id, version, position, start, "end", '
                           "heading, text, tokens, content_hash, embedded_model) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", self.chunks)
            tx.executemany("INSERT INTO chunks_fts (rowid, title, heading, text) "
                           "VALUES (?,?,?,?)", self.chunks_fts)
        for rows in (self.posts, self.urls, self.versions, self.posts_fts, self.states,
                     self.chunks, self.chunks_fts):
            rows.clear()


# --- vectors --------------------------------------------------------------------------------

def vector_batches(db: Path, base: Base) -> Iterator[tuple[list[str], np.ndarray, list[Any]]]:
    """(chunk ids, vectors, metadata) of every passage in ``db`` in batches of VECTOR_BATCH, in
    chunk order: a replica's vector is its passage's real vector plus noise seeded by the
    batch, renormalized — the same vectors for the embedded index and the server."""
    import numpy as np

    from kb.index.indexer import chunk_meta

    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    last = 0
    try:
        while True:
            rows = conn.execute(
                "SELECT c.cid, c.id, c.post_id, c.content_hash, p.published, p.is_af, p.site "
                "FROM chunks c JOIN posts p ON p.id = c.post_id WHERE c.cid > ? "
                "ORDER BY c.cid LIMIT ?", (last, VECTOR_BATCH)).fetchall()
            if not rows:
                return
            vecs = base.vectors[[base.row_of[r["content_hash"]] for r in rows]].copy()
            noisy = np.asarray([replica_of(r["post_id"]) > 0 for r in rows])
            rng = np.random.default_rng([SEED, int(rows[0]["cid"])])
            noise = rng.standard_normal(vecs.shape, dtype=np.float32) * NOISE
            vecs[noisy] += noise[noisy]
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            yield [r["id"] for r in rows], vecs, [chunk_meta(r) for r in rows]
            last = int(rows[-1]["cid"])
    finally:
        conn.close()


def add_vectors(db: Path, base: Base, index: VectorIndex) -> float:
    """Every passage's vector into ``index`` through its ``add`` (kb's write path); seconds."""
    t0 = time.perf_counter()
    done = 0
    for ids, vecs, metas in vector_batches(db, base):
        index.add(ids, vecs.tolist(), metas)
        done += len(ids)
        if done % 100_000 == 0:
            rate = done / (time.perf_counter() - t0)
            print(f"P9:   {done} vectors ({rate:.0f}/s)", flush=True)
    return time.perf_counter() - t0


# --- measuring, in a child process ----------------------------------------------------------

def measure(home: Path, port: int | None) -> dict[str, Any]:
    """Warm search timings over ``home`` (the local Chroma, or the server on ``port``), and this
    process's peak RSS.  Runs in its own process: see :func:`measure_in_child`."""
    from kb.index.chroma import ChromaIndex
    from kb.index.lazy import LazyIndex
    from kb.retrieval import search
    from kb.runtime import Runtime
    from kb.settings import load_settings

    env = {"KB_INDEX_CHROMA": "http", "KB_INDEX_CHROMA_PORT": str(port)} if port else {}
    rt = Runtime(load_settings(env=env, home=home))
    store, emb, index = rt.store, rt.embedder, rt.index
    qs = queries()
    t0 = time.perf_counter()
    search(store, emb, index, qs[0], k=10)
    first = (time.perf_counter() - t0) * 1000
    assert isinstance(index, LazyIndex) and isinstance(index.target, ChromaIndex)
    coll = index.target.collection

    def bare(q: str) -> None:  # what kb asks for: ids and distances, no documents, no metadata
        coll.query(query_embeddings=emb.embed_query(q), n_results=BARE_N, include=["distances"])

    # warm: the model session, Chroma's index in memory, and every query's pages of SQLite and
    # Chroma in the OS page cache.  A few queries were not enough: after a 1M build (which
    # leaves the SQLite file out of the page cache) each timed query's first hybrid search read
    # its FTS5 pages from disk, hybrid p95 27 ms instead of 15 (the same as with the page cache
    # dropped), while the modes after it found them cached.
    for q in qs:
        bare(q)
        for mode in MODES:
            search(store, emb, index, q, k=10, mode=mode)
    times: dict[str, list[float]] = {m: [] for m in ("hybrid", "vector", "keyword", "bare")}
    for _ in range(ROUNDS):  # interleaved, so load from other processes hits every mode alike
        for q in qs:
            t = time.perf_counter()
            bare(q)
            times["bare"].append((time.perf_counter() - t) * 1000)
            for mode in MODES:
                t = time.perf_counter()
                search(store, emb, index, q, k=10, mode=mode)
                times[mode].append((time.perf_counter() - t) * 1000)
    out = {"times": times, "first_ms": first, "chunks": store.count("chunks"),
           "vectors": int(coll.count()), "rss_mb": _self_peak_rss_mb()}
    rt.close()
    return out


def _self_peak_rss_mb() -> float:
    """This process's own peak (VmHWM).  Not ``ru_maxrss``: Linux carries that across exec, so
    a child started by a large parent (the one that built the archive) reports the parent's
    size."""
    return process_peak_rss_mb(os.getpid()) or (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)


def measure_in_child(home: Path, port: int | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench.p9_scale", "--measure", str(home)]
    if port:
        cmd += ["--port", str(port)]
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False")
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"P9 measurement failed: {res.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


def process_peak_rss_mb(pid: int) -> float:
    """Peak resident memory of another process (VmHWM), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


# --- one size, two backends -----------------------------------------------------------------

def _rows(tag: str, m: dict[str, Any], extra: dict[str, tuple[float, str]]) -> list[Row]:
    t = m["times"]
    rows: list[Row] = []
    h95 = percentile(t["hybrid"], 95)
    bare95 = percentile(t["bare"], 95)
    ratio = h95 / bare95 if bare95 else 0.0
    rows.append(Row(NAME, f"{tag} hybrid p50", round(percentile(t["hybrid"], 50), 1), "ms"))
    rows.append(Row(NAME, f"{tag} hybrid p95", round(h95, 1), "ms", f"<= {TARGET_P95_MS:g}",
                    check(h95, "<=", TARGET_P95_MS)))
    rows.append(Row(NAME, f"{tag} vector p95", round(percentile(t["vector"], 95), 1), "ms"))
    rows.append(Row(NAME, f"{tag} keyword p95", round(percentile(t["keyword"], 95), 1), "ms"))
    rows.append(Row(NAME, f"{tag} bare query+embed p50", round(percentile(t["bare"], 50), 1),
                    "ms"))
    rows.append(Row(NAME, f"{tag} bare query+embed p95", round(bare95, 1), "ms"))
    rows.append(Row(NAME, f"{tag} hybrid p95 / bare p95", round(ratio, 2), "x",
                    f"<= {TARGET_RATIO:g}", check(ratio, "<=", TARGET_RATIO)))
    rows.append(Row(NAME, f"{tag} search process peak RSS", round(m["rss_mb"]), "MB"))
    for metric, (value, unit) in extra.items():
        rows.append(Row(NAME, f"{tag} {metric}", value, unit))
    return rows


def keep_dir() -> Path | None:
    """``$KB_BENCH_P9_DIR``: where P9 keeps its archives between runs (None: a scratch
    directory, removed after each size)."""
    env = os.environ.get("KB_BENCH_P9_DIR", "").strip()
    return Path(env).expanduser() if env else None


def _stage_key(marker: Path) -> dict[str, Any] | None:
    if not marker.is_file():
        return None
    saved: dict[str, Any] = json.loads(marker.read_text())
    return saved.get("key")  # type: ignore[no-any-return]


def _stage(marker: Path, key: dict[str, Any], build: Any) -> dict[str, Any]:
    """Run ``build()`` (returning a dict of figures) unless ``marker`` records a completed
    build for the same ``key``; then its recorded figures are returned.  The marker is written
    only once the build has finished, so an interrupted build is redone, never reused."""
    if _stage_key(marker) == key:
        print(f"P9: reusing {marker.parent.name}'s {marker.name.split('.')[0]}", flush=True)
        figures: dict[str, Any] = json.loads(marker.read_text())["figures"]
        return figures
    figures = build()
    marker.write_text(json.dumps({"key": key, "figures": figures}))
    return figures


def run_size(base: Base, workdir: Path, n: int, model_id: str,
             keep: Path | None = None) -> list[Row]:
    """Build the archive of ``n`` passages, its embedded Chroma and a Chroma server's copy;
    measure both; remove it all — or, with ``keep``, build them there (reusing what a previous
    run finished building for the same size and model) and leave them."""
    from bench.chroma_server import ChromaServer
    from kb.runtime import Runtime
    from kb.settings import load_settings

    tag = label(n)
    root = keep or workdir
    home = root / f"p9-{tag}"
    data = root / f"p9-{tag}-server"
    db = home / "kb.sqlite3"
    key = {"passages": n, "model": model_id, "base": base.passages, "noise": NOISE}
    rows: list[Row] = []
    try:
        home.mkdir(parents=True, exist_ok=True)
        chroma_path = load_settings(env={}, home=home).chroma_path

        def sqlite_build() -> dict[str, Any]:
            for f in home.glob("*.done.json"):  # everything built on the old archive is stale
                f.unlink()
            shutil.rmtree(chroma_path, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
            for f in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                f.unlink(missing_ok=True)
            t = build_sqlite(base, db, n, model_id)
            return {"seconds": t, "mb": disk_mb(db, db.with_name(db.name + "-wal"),
                                                db.with_name(db.name + "-shm"))}

        sq = _stage(home / "sqlite.done.json", key, sqlite_build)
        print(f"P9 {tag}: SQLite archive in {sq['seconds']:.0f} s ({sq['mb']:.0f} MB)",
              flush=True)
        rows.append(Row(NAME, f"{tag} passages", n, "passages"))
        rows.append(Row(NAME, f"{tag} SQLite build", round(sq["seconds"], 1), "s"))
        rows.append(Row(NAME, f"{tag} SQLite size", round(sq["mb"]), "MB"))

        def embedded_build() -> dict[str, Any]:
            # the embedded Chroma (PersistentClient under the archive's home)
            shutil.rmtree(chroma_path, ignore_errors=True)
            rt = Runtime(load_settings(env={}, home=home))
            t = add_vectors(db, base, rt.index)
            rt.close()
            _forget_chroma_clients()  # the child opens the directory afresh
            return {"seconds": t, "mb": disk_mb(chroma_path)}

        em = _stage(home / "embedded.done.json", key, embedded_build)
        print(f"P9 {tag}: embedded Chroma in {em['seconds']:.0f} s "
              f"({n / em['seconds']:.0f} vectors/s, {em['mb']:.0f} MB)", flush=True)
        m = measure_in_child(home)
        _sane(m, n)
        rows += _rows(f"{tag} embedded", m, {
            "Chroma build": (round(em["seconds"], 1), "s"),
            "Chroma insert rate": (round(n / em["seconds"]), "vectors/s"),
            "Chroma size": (round(em["mb"]), "MB"),
            "index size (SQLite + Chroma)": (round(sq["mb"] + em["mb"]), "MB")})
        if keep is None:
            shutil.rmtree(chroma_path, ignore_errors=True)

        # the same archive on a Chroma server (a collection of its own there)
        if _stage_key(home / "server.done.json") != key:
            shutil.rmtree(data, ignore_errors=True)  # a build that did not finish: start over
        with ChromaServer(data) as server:
            def server_build() -> dict[str, Any]:
                env = {"KB_INDEX_CHROMA": "http", "KB_INDEX_CHROMA_PORT": str(server.port)}
                rt = Runtime(load_settings(env=env, home=home))
                t = add_vectors(db, base, rt.index)
                rt.close()
                return {"seconds": t}

            sv = _stage(home / "server.done.json", key, server_build)
            print(f"P9 {tag}: Chroma server in {sv['seconds']:.0f} s "
                  f"({n / sv['seconds']:.0f} vectors/s)", flush=True)
            server.stop()  # a fresh server: its memory is that of serving, not of the build
            server.start()
            assert server.proc is not None
            m = measure_in_child(home, server.port)
            server_rss = process_peak_rss_mb(server.proc.pid)
        server_mb = disk_mb(data)
        _sane(m, n)
        rows += _rows(f"{tag} server", m, {
            "server build": (round(sv["seconds"], 1), "s"),
            "server insert rate": (round(n / sv["seconds"]), "vectors/s"),
            "server data dir": (round(server_mb), "MB"),
            "server peak RSS": (round(server_rss), "MB")})
    finally:
        if keep is None:
            shutil.rmtree(home, ignore_errors=True)
            shutil.rmtree(data, ignore_errors=True)
    return rows


def _forget_chroma_clients() -> None:
    """Drop this process's cached Chroma systems (and their open files) for a directory."""
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


def _sane(m: dict[str, Any], n: int) -> None:
    if m["chunks"] != n or m["vectors"] != n:
        raise RuntimeError(f"P9: expected {n} passages and vectors, found {m['chunks']} "
                           f"passages and {m['vectors']} vectors")


def run(ctx: Context) -> list[Row]:
    from kb.runtime import Runtime
    from kb.settings import load_settings

    want = sizes(ctx)
    free_gb = shutil.disk_usage(ctx.workdir).free / 1e9
    need_gb = max(want) / 1e6 * 12  # ~12 GB per million passages: SQLite + two Chroma copies
    if free_gb < need_gb:
        print(f"P9: {free_gb:.0f} GB free in {ctx.workdir}, ~{need_gb:.0f} GB needed; "
              "dropping the largest size")
        want = tuple(n for n in want if n / 1e6 * 12 <= free_gb)
    print(f"P9: sizes {', '.join(label(n) for n in want)}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    rt = Runtime(load_settings(env={}, home=ctx.workdir / "p9-embedder"))
    emb = rt.embedder
    t0 = time.perf_counter()
    from bench.lw_sample import load_lw_posts, sample

    base = build_base(sample(load_lw_posts(ctx.corpus), BASE_POSTS), emb,
                      ctx.workdir / "p9-template" / "kb.sqlite3")
    print(f"P9: template of {base.passages} real passages in {time.perf_counter() - t0:.0f} s",
          flush=True)
    model_id = emb.model_id
    rt.close()
    rows: list[Row] = []
    keep = keep_dir()
    if keep is not None:
        print(f"P9: archives kept in {keep} (KB_BENCH_P9_DIR)", flush=True)
    for n in want:
        rows += run_size(base, ctx.workdir, n, model_id, keep)
    shutil.rmtree(ctx.workdir / "p9-template", ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.p9_scale")
    ap.add_argument("--measure", type=Path, required=True, help="the archive's KB home")
    ap.add_argument("--port", type=int, default=0, help="a Chroma server on 127.0.0.1")
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.measure, args.port or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
