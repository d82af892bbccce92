"""`kb backfill` of forum sources against the loopback GraphQL server: a multi-month window
stored exactly once with all authors and true dates, resumable after kill -9 with at most one
page repeated, malformed windows reported by name while the rest goes on, batches indexed as
posts arrive, checkpoints in `kb sources list --json`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from forum_server import ForumServer, dataset_posts

from kb.store import Store
from kb.store import sources as sources_repo
from kb.store.db import kv_set

pytestmark = pytest.mark.corpus
REPO = Path(__file__).resolve().parent.parent
SINCE, UNTIL = "2023-01-01", "2024-06-30"


def kb(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "KB_INGEST_DELAY": "0", "KB_INGEST_RETRIES": "1",
            "KB_INGEST_BACKOFF": "0.01", **env}
    return subprocess.run([sys.executable, "-m", "kb.cli.__main__", *args], capture_output=True,
                          text=True, env=full, timeout=300, cwd=REPO)


def in_range(posts: list[dict], since: str = SINCE, until: str = UNTIL) -> list[dict]:
    return [p for p in posts if since <= p["postedAt"][:10] <= until]


def archive(db: Path) -> dict[str, tuple]:
    """Every post with its authors, date, URLs and versions: what "the same archive" means."""
    conn = sqlite3.connect(db)
    out = {}
    for pid, authors, published, canonical in conn.execute(
            "SELECT id, authors, published, canonical_url FROM posts"):
        urls = tuple(sorted(r[0] for r in conn.execute(
            "SELECT url FROM post_urls WHERE post_id = ?", (pid,))))
        versions = tuple(r[0] for r in conn.execute(
            "SELECT content_hash FROM post_versions WHERE post_id = ? ORDER BY version", (pid,)))
        out[pid] = (authors, published, canonical, urls, versions)
    conn.close()
    return out


@pytest.fixture
def lw_posts(corpus):
    return dataset_posts(corpus)


@pytest.fixture
def forum(lw_posts):
    srv = ForumServer(lw_posts).start()
    yield srv
    srv.stop()


@pytest.fixture
def lw_source(settings, forum):
    """An archive whose only source is the loopback forum, named "lw"."""
    from kb.settings import ensure_home

    ensure_home(settings)
    store = Store(settings.db_path)
    kv_set(store, "default_sources_added", "test")
    sources_repo.add_source(store, forum.url, name="lw", kind="forum")
    store.close()
    return settings.db_path


def pages(srv: ForumServer) -> list[tuple[str, str, int]]:
    """The pages of work the server answered: (after, before, offset); the one-post estimate
    request of each run is not a page."""
    return [(e.variables["selector"]["new"]["after"], e.variables["selector"]["new"]["before"],
             e.variables["offset"]) for e in srv.pages_for(lambda v: v.get("limit") != 1)]


def test_backfill_of_a_multi_month_window_stores_each_post_once(lw_source, forum, lw_posts):
    proc = kb("backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw", "--no-index",
              "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    want = in_range(lw_posts)
    assert out["new"] == len(want) > 200 and out["errors"] == 0 and out["updated"] == 0
    per = out["sources"]["lw"]
    assert (per["new"], per["updated"], per["unchanged"], per["errors"]) == (len(want), 0, 0, 0)
    assert per["archive"] == "forum"
    got = archive(lw_source)
    assert set(got) == {p["_id"] for p in want}  # exactly the window, each once
    for p in want:
        authors, published, canonical, urls, versions = got[p["_id"]]
        names = [p["user"]["displayName"]] + [c["displayName"] for c in p["coauthors"]]
        assert json.loads(authors) == names
        assert published == p["postedAt"][:19] + "Z"
        assert len(versions) == 1
    assert any(len(json.loads(a)) > 1 for a, *_ in got.values())  # co-authored posts kept whole
    co = next(p for p in want if p["coauthors"])
    shown = json.loads(kb("posts", "show", co["_id"], "--json").stdout)
    assert shown["authors"] == [co["user"]["displayName"]] + [c["displayName"]
                                                              for c in co["coauthors"]]
    assert shown["published"] == co["postedAt"][:19] + "Z"
    # the final line, and a second run: nothing new, no window asked for again
    forum.log.clear()
    again = kb("backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw", "--no-index")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1].startswith("backfill: 0 new, 0 updated, 0 errors in ")
    assert forum.log == []


@pytest.mark.slow
def test_kill_9_mid_backfill_then_resume_gives_the_same_archive(lw_source, forum, lw_posts,
                                                                tmp_path):
    env = {"KB_BACKFILL_PAGE_SIZE": "10"}
    forum.fault("slow", delay=0.25, times=10_000)  # every page takes a while
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli.__main__", "backfill", "--since",
                             SINCE, "--until", UNTIL, "--source", "lw", "--no-index",
                             "--no-progress"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "KB_INGEST_DELAY": "0", **env})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.2)
        conn = sqlite3.connect(lw_source)
        stored = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
        conn.close()
        if stored >= len(in_range(lw_posts)) // 2:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = pages(forum)
    assert 0 < len(archive(lw_source)) < len(in_range(lw_posts))
    forum.faults.clear()
    forum.log.clear()
    resumed = kb("backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw", "--no-index",
                 **env)
    assert resumed.returncode == 0, resumed.stderr
    after = pages(forum)
    assert len(set(before) & set(after)) <= 1  # at most the page that was in flight
    got = archive(lw_source)
    assert set(got) == {p["_id"] for p in in_range(lw_posts)}
    assert all(len(v[4]) == 1 for v in got.values())  # nothing stored twice
    # the same archive as a run that was never interrupted
    clean = tmp_path / "clean-home"
    kb("sources", "add", forum.url, "--kind", "forum", "--name", "lw", KB_HOME=str(clean))
    ref = kb("backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw", "--no-index",
             KB_HOME=str(clean))
    assert ref.returncode == 0, ref.stderr
    clean_archive = archive(clean / "kb.sqlite3")
    assert got == clean_archive


def test_a_malformed_window_is_reported_and_the_rest_goes_on(lw_source, forum, lw_posts):
    from ingest.forum import js_time
    from kb.store.backfill import split_on_grid

    spans = split_on_grid((datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)), 30)
    bad_start, bad_end = next((s, e) for s, e in spans if s.month == 3 or e.month == 3)
    bad_after = js_time(bad_start - timedelta(milliseconds=1))
    forum.fault("bad_json", times=5,
                match=lambda v: v["selector"]["new"]["after"] == bad_after)
    proc = kb("backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw", "--no-index",
              "--json")
    assert proc.returncode == 1, proc.stdout  # the only source had an error
    out = json.loads(proc.stdout)
    assert out["errors"] == 1
    err = out["failures"][0][1]
    assert err.startswith(f"source lw: window {bad_start.date()}..") and "not JSON" in err
    assert "error: source lw: window" in proc.stderr
    missing = {p["_id"] for p in in_range(lw_posts)} - set(archive(lw_source))
    iso = bad_start.strftime("%Y-%m-%dT%H:%M:%S"), bad_end.strftime("%Y-%m-%dT%H:%M:%S")
    assert missing == {p["_id"] for p in in_range(lw_posts) if iso[0] <= p["postedAt"] < iso[1]}
    forum.faults.clear()
    forum.log.clear()
    rerun = kb("backfill", "--since", SINCE, "--until", UNTIL, "--source", "lw", "--no-index",
               "--json")
    assert rerun.returncode == 0 and json.loads(rerun.stdout)["new"] == len(missing)
    assert {a for a, _b, _o in pages(forum)} == {bad_after}  # only the failed window again


def test_sources_list_json_shows_kind_and_checkpoint(lw_source, forum):
    kb("backfill", "--since", "2024-01-01", "--until", "2024-03-31", "--source", "lw",
       "--no-index")
    listed = json.loads(kb("sources", "list", "--json").stdout)
    lw = next(s for s in listed if s["name"] == "lw")
    assert lw["kind"] == "forum"
    cp = lw["backfill"]
    assert cp["windows_done"] >= 3 and cp["windows_open"] == 0 and cp["current"] is None
    assert cp["done_from"] == "2024-01-01T00:00:00Z" and cp["done_until"] == "2024-04-01T00:00:00Z"
    assert "windows done" in kb("sources", "list").stdout


def test_backfill_indexes_in_batches_as_posts_arrive(settings, store, forum, lw_posts):
    from digest.jobs import backfill_and_index
    from kb.embed.fake import FakeEmbedder
    from kb.fetch import HttpFetcher
    from kb.index.fake import FakeIndex
    from kb.progress import Progress
    from kb.runtime import Runtime

    kv_set(store, "default_sources_added", "test")
    sources_repo.add_source(store, forum.url, name="lw", kind="forum")
    settings.ingest.delay = 0.0
    settings.backfill.index_every = 20
    events: list[Progress] = []
    fetcher = HttpFetcher(settings.ingest)
    emb = FakeEmbedder()
    rt = Runtime(settings, store=store, embedder=emb, index=FakeIndex(emb.model_id, emb.dim),
                 fetcher=fetcher)
    out = backfill_and_index(rt, since=datetime(2024, 1, 1, tzinfo=UTC),
                             until=datetime(2024, 7, 1, tzinfo=UTC), on_progress=events.append)
    want = len(in_range(lw_posts, "2024-01-01", "2024-06-30"))
    assert out.backfill.total.new == want and out.index is not None
    assert out.index_batches >= want // 20 - 1 >= 2
    assert out.index.posts_chunked == want and not out.index_error
    bars = [e for e in events if e.task == "backfill lw"]
    assert bars[0].total == want and bars[0].unit == "posts" and bars[-1].done >= want
    fetcher.close()


def test_backfill_of_an_older_archives_lw_feed_source_walks_the_graphql_api(settings, store,
                                                                            forum, lw_posts):
    """An archive made before forum sources follows the LW feed; its backfill asks the same
    site's GraphQL endpoint (here: the feed URL points at the loopback server's host)."""
    from ingest.archive_find import walker_for
    from ingest.forum import ForumWalker, endpoint_of_feed
    from kb.fetch import FakeFetcher

    kv_set(store, "default_sources_added", "test")
    src = sources_repo.add_source(
        store, "https://www.lesswrong.com/feed.xml?view=frontpage-rss&karmaThreshold=30",
        name="lesswrong-frontpage", kind="feed")
    walker = walker_for(settings, store, FakeFetcher({}), src)
    assert isinstance(walker, ForumWalker)
    assert (walker.endpoint, walker.min_karma) == ("https://www.lesswrong.com/graphql", 30)
    assert endpoint_of_feed("https://example.org/feed.xml") is None


def test_defaults_are_forum_endpoints_and_an_existing_archive_keeps_its_feeds(tmp_path):
    new = tmp_path / "new-home"
    listed = json.loads(kb("sources", "list", "--json", KB_HOME=str(new)).stdout)
    forums = {s["name"]: s for s in listed if s["kind"] == "forum"}
    assert forums["lesswrong"]["url"] == "https://www.lesswrong.com/graphql"
    assert forums["alignmentforum"]["url"] == "https://www.alignmentforum.org/graphql"
    assert forums["lesswrong"]["min_karma"] == 30 and not forums["alignmentforum"]["min_karma"]
    # an archive written by kb before forum sources (schema 4): its feeds stay as they were
    old = tmp_path / "old-home"
    old.mkdir()
    conn = sqlite3.connect(old / "kb.sqlite3")
    from kb.store.db import migrations

    for number, _name, sql in migrations():
        if number <= 4:
            conn.executescript(sql)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO sources (id, name, url, kind, added_at) VALUES (1, 'lesswrong', "
                 "'https://www.lesswrong.com/feed.xml?view=curated-rss', 'feed', 'x')")
    conn.execute("INSERT INTO kv VALUES ('default_sources_added', 'x')")
    conn.execute("INSERT INTO posts (id, title, canonical_url, source_id, first_seen_at) "
                 "VALUES ('abcdefghijkmnopqr', 't', 'https://www.lesswrong.com/posts/"
                 "abcdefghijkmnopqr/t', 1, 'x')")
    conn.commit()
    conn.close()
    listed = json.loads(kb("sources", "list", "--json", KB_HOME=str(old)).stdout)
    assert [(s["name"], s["kind"]) for s in listed] == [("lesswrong", "feed")]
    conn = sqlite3.connect(old / "kb.sqlite3")
    assert conn.execute("SELECT source_id FROM posts").fetchone()[0] == 1  # kept by the rebuild
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 5
    conn.close()
    added = kb("sources", "add", "http://127.0.0.1:9/graphql", "--name", "lw2", KB_HOME=str(old))
    assert added.returncode == 0 and "added forum source lw2" in added.stdout
