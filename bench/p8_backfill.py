"""P8 `kb backfill` of the whole LW dataset from the loopback GraphQL server, with indexing.

The aisafetyconnect dataset (912 posts, 2009-2025) is served by tests/forum_server.py (the
ForumMagnum-compatible test server).  ``kb backfill`` runs as its own process over the whole
span, indexing in batches as posts arrive: its wall time is divided by a bare embedding of the
same chunk texts with a warm embedder (as P1), and its peak RSS is that process's.  Then a
second archive is backfilled with ``kill -9`` once half the posts are stored, and resumed: the
pages asked for both before and after the kill are counted (target: at most one) and the
resumed archive must equal the first one.  The politeness delay is 0 here (loopback); with the
default ``ingest.delay`` of 1 s a real backfill spends about one second per page on waiting.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import Context, Row, check

NAME = "P8"
REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
SINCE, UNTIL = "2009-01-01", "2025-12-31"


def _tests_on_path() -> None:
    for p in (str(REPO), str(TESTS)):
        if p not in sys.path:
            sys.path.insert(0, p)


def _kb(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "kb.cli.__main__", "--home", str(home), *args]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_INGEST_DELAY="0", ANONYMIZED_TELEMETRY="False", **extra)
    return env


def _add_source(home: Path, url: str) -> None:
    subprocess.run(_kb(home, "sources", "add", url, "--kind", "forum", "--name", "lw"),
                   check=True, capture_output=True, env=_env(), cwd=REPO)
    db = sqlite3.connect(home / "kb.sqlite3")  # only this source: no default (network) ones
    db.execute("DELETE FROM sources WHERE name != 'lw'")
    db.commit()
    db.close()


def _archive(db: Path) -> dict[str, tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    out = {pid: (authors, published, tuple(r[0] for r in conn.execute(
        "SELECT content_hash FROM post_versions WHERE post_id = ? ORDER BY version", (pid,))))
        for pid, authors, published in conn.execute("SELECT id, authors, published FROM posts")}
    conn.close()
    return out


def _pages(log: list[Any]) -> list[tuple[str, int]]:
    return [(e.variables["selector"]["new"]["after"], e.variables["offset"]) for e in log
            if e.status == 200 and e.variables.get("limit") != 1]


def _bare_embedding(home: Path) -> tuple[float, int]:
    """Seconds to embed exactly the archive's chunk texts with a warm embedder."""
    from kb.index.chunking import header_for
    from kb.runtime import Runtime
    from kb.settings import load_settings

    rt = Runtime(load_settings(env={}, home=home))
    texts = [header_for(r[0], r[1]) + r[2] for r in rt.store.conn.execute(
        "SELECT p.title, c.heading, c.text FROM chunks c JOIN posts p ON p.id = c.post_id "
        "ORDER BY c.cid")]
    emb = rt.embedder
    embed = getattr(emb, "embed_array", None) or emb.embed_documents
    embed(texts[:8])  # warm
    t0 = time.perf_counter()
    embed(texts)
    bare = time.perf_counter() - t0
    rt.close()
    return bare, len(texts)


def _kill_and_resume(ctx: Context, server: Any, total: int) -> tuple[int, bool, int]:
    """(pages repeated after the kill, archive equal to the uninterrupted one, posts at kill)."""
    home = ctx.workdir / "p8-resume"
    _add_source(home, server.url)
    server.log.clear()
    server.fault("slow", delay=0.05, times=1_000_000)  # pages slow enough to stop in the middle
    cmd = _kb(home, "backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw",
              "--no-index", "--no-progress")
    proc = subprocess.Popen(cmd, env=_env(), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    stored = 0
    while proc.poll() is None:
        time.sleep(0.05)
        try:
            conn = sqlite3.connect(home / "kb.sqlite3")
            stored = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
            conn.close()
        except sqlite3.Error:
            continue
        if stored >= total // 2:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    before = set(_pages(server.log))
    server.faults.clear()
    server.log.clear()
    subprocess.run(cmd, env=_env(), cwd=REPO, check=True, capture_output=True)
    after = set(_pages(server.log))
    same = _archive(home / "kb.sqlite3") == _archive(ctx.workdir / "p8-home" / "kb.sqlite3")
    return len(before & after), same, stored


def run(ctx: Context) -> list[Row]:
    _tests_on_path()
    from forum_server import ForumServer, dataset_posts

    server = ForumServer(dataset_posts(ctx.corpus)).start()
    try:
        home = ctx.workdir / "p8-home"
        _add_source(home, server.url)
        out, err = home / "backfill.json", home / "backfill.err"
        t0 = time.perf_counter()
        with out.open("wb") as fo, err.open("wb") as fe:
            proc = subprocess.Popen(_kb(home, "backfill", "--since", SINCE, "--until", UNTIL,
                                        "--source", "lw", "--json", "--no-progress"),
                                    env=_env(), cwd=REPO, stdout=fo, stderr=fe)
            # this process's own peak RSS (RUSAGE_CHILDREN would be the largest of every child
            # the benchmarks ran so far)
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        rss = usage.ru_maxrss / 1024.0  # Linux: KiB
        code = proc.returncode = os.waitstatus_to_exitcode(status)
        if code != 0:
            tail = err.read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"kb backfill failed ({code}): {tail}")
        report = json.loads(out.read_text("utf-8"))
        posts = report["new"]
        index = report.get("index") or {}
        requests = len(server.log)
        bare, chunks = _bare_embedding(home)
        repeated, same, at_kill = _kill_and_resume(ctx, server, posts)
    finally:
        server.stop()
    ratio = wall / bare if bare else 0.0
    print(f"P8: backfilled {posts} posts in {wall:.1f}s ({requests} requests), "
          f"{index.get('batches', 0)} index batches, {chunks} chunks; bare embedding "
          f"{bare:.1f}s; kill -9 at {at_kill} posts, {repeated} page(s) repeated on resume")
    return [
        Row(NAME, "wall / bare embedding", round(ratio, 3), "x", "<= 1.3",
            check(ratio, "<=", 1.3)),
        Row(NAME, "peak RSS (kb backfill)", round(rss, 1), "MB", "<= 1024",
            check(rss, "<=", 1024)),
        Row(NAME, "pages repeated after kill -9 at half", repeated, "pages", "<= 1",
            check(repeated, "<=", 1)),
        Row(NAME, "resumed archive = uninterrupted one", 1.0 if same else 0.0, "", ">= 1",
            same),
        Row(NAME, "posts", posts, "posts"),
        Row(NAME, "chunks", chunks, "chunks"),
        Row(NAME, "posts/s", round(posts / wall, 2), "posts/s"),
        Row(NAME, "wall", round(wall, 1), "s"),
        Row(NAME, "bare embedding", round(bare, 1), "s"),
        Row(NAME, "index batches", index.get("batches", 0), "batches"),
    ]
