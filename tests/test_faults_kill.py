"""Fault suite: `kb import` and `kb index` killed with SIGKILL at random points, then re-run.

The real CLI runs in subprocesses (real SQLite file, Chroma PersistentClient on disk, the real
ONNX embedder).  The input is ~40 posts: corpus posts from the aisafetyconnect dataset
(truncated, written to a temp dir as Markdown; nothing is copied into the repo) or, without the
corpus, posts generated here.  After every kill the commands are simply run again; then:
SQLite and Chroma agree (every chunk marked embedded has its vector and no vector is orphaned),
nothing is duplicated, and nothing is lost (the same posts and chunks as an uninterrupted run).
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from pathlib import Path

import pytest
import yaml
from faults_support import CORPUS, REPO, TOPICS, kb_env, popen_kb, run_kb, seed_home

pytestmark = [pytest.mark.slow, pytest.mark.model]

N_POSTS = 40
SEED = 20250927
ITERATIONS = 3
BATCH = "8"  # small index batches: a kill can land between storing vectors and marking them


def _write_archive(root: Path) -> Path:
    root.mkdir(parents=True)
    recs: list[tuple[str, str, str, str | None, str]] = []  # title, author, url, date, text
    if CORPUS.is_dir():
        import sys

        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from bench.lw_sample import load_lw_posts, sample

        for r in sample(load_lw_posts(CORPUS, max_chars=1500), N_POSTS):
            recs.append((r.title, (r.authors or ["?"])[0], r.urls[0], r.published, r.text))
    else:
        for i in range(N_POSTS):
            title, body = TOPICS[i % len(TOPICS)]
            recs.append((f"{title} #{i}", f"Author {i % 7}", f"https://fault-suite.example.org/p/{i}",
                         f"2025-03-{1 + i % 28:02d}T12:00:00Z",
                         "\n\n".join(f"## Part {k}\n\n{body} (section {k} of post {i})"
                                     for k in range(1 + i % 4))))
    for i, (title, author, url, date, text) in enumerate(recs):
        meta = {"title": title, "author": author, "url": url, "date": date}
        (root / f"{i:03d}.md").write_text("---\n" + yaml.safe_dump(meta) + "---\n\n" + text + "\n",
                                          encoding="utf-8")
    return root


def _state(home: Path) -> dict[str, object]:
    """Everything the invariants are checked on, read straight from SQLite and Chroma."""
    import chromadb
    from chromadb.config import Settings

    db = sqlite3.connect(home / "kb.sqlite3")
    try:
        q = lambda sql: db.execute(sql).fetchall()  # noqa: E731
        state: dict[str, object] = {
            "posts": q("SELECT count(*) FROM posts")[0][0],
            "titles": sorted(r[0] for r in q("SELECT title FROM posts")),
            "urls": sorted(r[0] for r in q("SELECT url FROM post_urls")),
            "dup_canonical": q("SELECT canonical_url FROM posts GROUP BY canonical_url "
                               "HAVING count(*) > 1"),
            "dup_versions": q("SELECT post_id FROM post_versions GROUP BY post_id, content_hash "
                              "HAVING count(*) > 1"),
            "multi_version": q("SELECT post_id FROM post_versions GROUP BY post_id "
                               "HAVING count(*) > 1"),
            "fts": q("SELECT count(*) FROM posts_fts")[0][0],
            "chunks": {r[0] for r in q("SELECT id FROM chunks")},
            "embedded": {r[0] for r in q("SELECT id FROM chunks WHERE embedded_model IS NOT NULL")},
            "unchunked": q("SELECT p.id FROM posts p LEFT JOIN chunk_state s ON s.post_id = p.id "
                           "WHERE s.post_id IS NULL"),
            "tombstones": q("SELECT count(*) FROM chunk_tombstones")[0][0],
        }
    finally:
        db.close()
    client = chromadb.PersistentClient(path=str(home / "chroma"),
                                       settings=Settings(anonymized_telemetry=False))
    ids: set[str] = set()
    for col in client.list_collections():
        c = client.get_collection(getattr(col, "name", col))
        ids |= set(c.get(include=[])["ids"])
    state["vectors"] = ids
    return state


def _kill_at_random(env: dict[str, str], rng: random.Random, upto: float, *args: str) -> str:
    proc = popen_kb(env, *args)
    time.sleep(rng.uniform(0.2, upto))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        with sqlite3.connect(Path(env["KB_HOME"]) / "kb.sqlite3") as db:
            posts, chunks, embedded = db.execute(
                "SELECT (SELECT count(*) FROM posts), (SELECT count(*) FROM chunks), "
                "(SELECT count(*) FROM chunks WHERE embedded_model IS NOT NULL)").fetchone()
        return f"{args[0]} killed at {posts} posts, {embedded}/{chunks} chunks embedded"
    proc.communicate(timeout=60)
    return f"finished ({proc.returncode})"


def test_kill_minus_9_during_import_and_index_then_rerun_converges(tmp_path: Path):
    archive = _write_archive(tmp_path / "archive")
    ref_home = tmp_path / "ref"
    seed_home(ref_home)
    env = kb_env(ref_home, KB_INDEX_BATCH_SIZE=BATCH)
    t0 = time.monotonic()
    done = run_kb(env, "import", str(archive), "--no-index", "--json", timeout=600)
    t_import = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    t0 = time.monotonic()
    done = run_kb(env, "index", timeout=600)
    t_index = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    ref = _state(ref_home)
    assert ref["posts"] == N_POSTS and ref["chunks"] and ref["embedded"] == ref["chunks"]
    assert ref["vectors"] == ref["chunks"]

    rng = random.Random(SEED)
    outcomes = []
    for it in range(ITERATIONS):
        home = tmp_path / f"run{it}"
        seed_home(home)
        env = kb_env(home, KB_INDEX_BATCH_SIZE=BATCH)
        # within the time an uninterrupted import (then index) takes, so most kills land mid-run
        outcomes.append(_kill_at_random(env, rng, t_import, "import", str(archive)))
        outcomes.append(_kill_at_random(env, rng, t_index, "index"))
        outcomes.append(_kill_at_random(env, rng, t_import + t_index, "import", str(archive)))
        again = run_kb(env, "import", str(archive), "--no-index", "--json", timeout=600)
        assert again.returncode == 0, again.stderr
        idx = run_kb(env, "index", timeout=600)
        assert idx.returncode == 0, idx.stderr
        got = _state(home)
        where = f"iteration {it} ({outcomes[-3:]})"
        assert got["posts"] == ref["posts"], where  # nothing lost
        assert got["titles"] == ref["titles"] and got["urls"] == ref["urls"], where
        assert not got["dup_canonical"] and not got["dup_versions"], where  # nothing doubled
        assert not got["multi_version"], where  # a re-import is not an edit
        assert got["fts"] == got["posts"], where
        assert not got["unchunked"] and got["tombstones"] == 0, where
        assert got["chunks"] == ref["chunks"], where
        assert got["embedded"] == got["chunks"], where  # SQLite: every chunk embedded ...
        assert got["vectors"] == got["embedded"], where  # ... and Chroma holds exactly those
    print("kill points:", outcomes)
    assert any("killed" in o for o in outcomes), outcomes  # the random points did interrupt something
