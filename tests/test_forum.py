"""Forum sources against a ForumMagnum-compatible GraphQL server on loopback: windows instead of
"the latest N", all authors, true posting dates, edits as versions, karma and tag filters, the
Alignment Forum's canonical links, faults, and the politeness of the fetcher."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from forum_server import ForumServer, dataset_posts

from ingest.pipeline import run_ingest
from kb.fetch import HttpFetcher
from kb.store import sources as sources_repo
from kb.store.db import kv_set
from kb.store.posts import get_post, list_versions

pytestmark = pytest.mark.corpus
NOW = datetime.now(UTC).replace(microsecond=0)


def js(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def recent(posts: list[dict], n: int, every_hours: float, now: datetime = NOW) -> list[dict]:
    """``n`` dataset posts re-dated to the last days: one every ``every_hours`` up to ``now``."""
    out = []
    for i, p in enumerate(posts[-n:]):
        q = json.loads(json.dumps(p))
        q["postedAt"] = q["modifiedAt"] = js(now - timedelta(hours=every_hours * i + 0.5))
        out.append(q)
    return out


@pytest.fixture
def lw_posts(corpus):
    return dataset_posts(corpus)


@pytest.fixture
def quiet(settings, store):
    """No default sources (no network); no politeness delay (loopback tests go fast)."""
    kv_set(store, "default_sources_added", "test")
    settings.ingest.delay = 0.0
    settings.ingest.backoff = 0.01
    settings.ingest.retries = 2
    return settings


@pytest.fixture
def http(quiet):
    f = HttpFetcher(quiet.ingest, sleep=lambda _s: None)
    yield f
    f.close()


@pytest.fixture
def server(request):
    servers: list[ForumServer] = []

    def make(posts, **kw):
        srv = ForumServer(posts, **kw).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


def test_a_forum_window_stores_every_post_once_with_all_authors_and_the_true_date(
        quiet, store, http, server, lw_posts):
    posts = recent(lw_posts, 40, every_hours=1.0)
    coauthored = next(p for p in lw_posts if len(p["coauthors"]) >= 1)
    co = json.loads(json.dumps(coauthored))
    co["postedAt"] = js(NOW - timedelta(hours=3.25))
    posts.append(co)
    srv = server(posts)
    sources_repo.add_source(store, srv.url, name="lw", kind="forum")
    report = run_ingest(quiet, store, http, source="lw")
    in_window = [p for p in posts if p["postedAt"] >= js(NOW - timedelta(days=2))]
    assert report.errors == 0 and report.new == len(in_window) == 41
    got = get_post(store, co["_id"])
    assert got is not None
    want = [co["user"]["displayName"]] + [c["displayName"] for c in co["coauthors"]]
    assert got.authors == want and len(want) >= 2  # every author, not just the first
    assert got.published == co["postedAt"][:19] + "Z"
    assert got.canonical_url.startswith(("https://www.lesswrong.com/posts/",
                                         "https://www.alignmentforum.org/posts/"))
    # the query kb sent is the selector form, validated by graphql-core against the schema
    first = srv.log[0]
    assert first.status == 200 and "posts(selector: $selector" in first.query
    assert set(first.variables["selector"]) == {"new"}
    src = sources_repo.get_source(store, "lw")
    assert src is not None and src.last_status == "ok" and src.window_until is not None
    again = run_ingest(quiet, store, http, source="lw")
    assert again.new == 0 and again.errors == 0


def test_a_daily_run_after_a_gap_of_days_stores_every_post_of_the_gap(quiet, store, http,
                                                                       server, lw_posts):
    posts = recent(lw_posts, 60, every_hours=3.0)  # 7.5 days of posts, one every 3 hours
    srv = server(posts)
    src = sources_repo.add_source(store, srv.url, name="lw", kind="forum")
    last_run = NOW - timedelta(days=6)
    with store.tx() as conn:
        sources_repo.set_window_until(conn, src.id, last_run.strftime("%Y-%m-%dT%H:%M:%SZ"))
    report = run_ingest(quiet, store, http, source="lw")
    start = last_run - timedelta(hours=quiet.forum.overlap_hours)
    gap = {p["_id"] for p in posts if p["postedAt"] >= js(start)}
    stored = {r[0] for r in store.conn.execute("SELECT id FROM posts")}
    assert report.errors == 0 and gap == stored and len(gap) >= 48  # no day has a hole
    # the next run only asks for the overlap
    srv.log.clear()
    run_ingest(quiet, store, http, source="lw")
    asked = srv.log[0].variables["selector"]["new"]["after"]
    assert asked >= js(NOW - timedelta(hours=quiet.forum.overlap_hours + 1))


def test_a_post_edited_on_the_server_becomes_a_second_version(quiet, store, http, server,
                                                              lw_posts):
    posts = recent(lw_posts, 5, every_hours=1.0)
    srv = server(posts)
    sources_repo.add_source(store, srv.url, name="lw", kind="forum")
    run_ingest(quiet, store, http, source="lw")
    pid = posts[0]["_id"]
    srv.edit(pid, "An edited body.\n\nThe author rewrote this post entirely.")
    report = run_ingest(quiet, store, http, source="lw")
    assert (report.new, report.updated) == (0, 1)
    versions = list_versions(store, pid, with_text=True)
    assert [v["version"] for v in versions] == [1, 2]
    assert "rewrote this post" in versions[-1]["text"]


def test_karma_minimum_and_tag_filter(quiet, store, http, server, lw_posts):
    posts = recent(lw_posts, 80, every_hours=0.5)
    srv = server(posts)
    sources_repo.add_source(store, srv.url, name="lw-ai", kind="forum", min_karma=100,
                            tags=["ai"])
    run_ingest(quiet, store, http, source="lw-ai")
    want = {p["_id"] for p in posts if p["baseScore"] >= 100
            and any(t["name"].lower() == "ai" for t in p["tags"])}
    stored = {r[0] for r in store.conn.execute("SELECT id FROM posts")}
    assert stored == want and 0 < len(want) < len(posts)
    assert srv.log[0].variables["selector"]["new"]["karmaThreshold"] == 100


def test_af_posts_get_the_af_link_and_a_crosspost_stays_one_post(quiet, store, http, server,
                                                                 lw_posts):
    posts = recent([p for p in lw_posts if p["af"]], 6, every_hours=2.0) + \
        recent([p for p in lw_posts if not p["af"]], 6, every_hours=2.1)
    lw = server(posts)
    af_posts = json.loads(json.dumps(posts))
    for p in af_posts:
        p["pageUrl"] = p["pageUrl"].replace("www.lesswrong.com", "www.alignmentforum.org")
    af = server(af_posts, af_only=True)
    sources_repo.add_source(store, lw.url, name="lw", kind="forum")
    sources_repo.add_source(store, af.url, name="af", kind="forum", min_karma=0)
    report = run_ingest(quiet, store, http)
    assert report.errors == 0
    assert store.count("posts") == 12  # the 6 AF posts came from both servers: one post each
    for p in posts:
        got = get_post(store, p["_id"])
        assert got is not None
        host = "www.alignmentforum.org" if p["af"] else "www.lesswrong.com"
        assert got.canonical_url.startswith(f"https://{host}/posts/{p['_id']}")
        assert not got.canonical_url.startswith("http://127.0.0.1")


def test_429_with_retry_after_and_500_are_retried(quiet, store, server, lw_posts):
    waits: list[float] = []
    fetcher = HttpFetcher(quiet.ingest, sleep=waits.append)
    srv = server(recent(lw_posts, 3, every_hours=1.0))
    srv.fault("429", retry_after=7)
    srv.fault("500")
    sources_repo.add_source(store, srv.url, name="lw", kind="forum")
    report = run_ingest(quiet, store, fetcher, source="lw")
    assert report.errors == 0 and report.new == 3
    assert fetcher.waits[:2] == [7.0, 0.02]  # Retry-After honoured, then exponential backoff
    assert [e.status for e in srv.log[:3]] == [429, 500, 200]
    fetcher.close()


@pytest.mark.parametrize("kind, words", [("bad_json", "not JSON"),
                                         ("errors", "GraphQL error: Cannot query posts")])
def test_a_malformed_page_is_an_error_naming_source_and_window(quiet, store, http, server,
                                                               lw_posts, kind, words):
    srv = server(recent(lw_posts, 3, every_hours=1.0))
    srv.fault(kind, times=5)
    sources_repo.add_source(store, srv.url, name="lw", kind="forum")
    report = run_ingest(quiet, store, http, source="lw")
    assert report.errors == 1 and report.new == 0
    msg = report.failures[0][1]
    assert msg.startswith("source lw: window ") and words in msg and "(offset 0)" in msg
    src = sources_repo.get_source(store, "lw")
    assert src is not None and src.last_status == "error" and src.window_until is None
    srv.faults.clear()
    assert run_ingest(quiet, store, http, source="lw").new == 3  # the next run catches up


# the forum's window grid: every 30 days since 1970 (kb.store.backfill.split_on_grid)
GRID_LINE = datetime(2026, 12, 3, tzinfo=UTC)
assert (GRID_LINE - datetime(1970, 1, 1, tzinfo=UTC)).days % 30 == 0


@pytest.mark.parametrize(("now", "windows"), [
    (GRID_LINE + timedelta(days=15), 1),  # a first run's two days lie inside one grid cell
    (GRID_LINE + timedelta(hours=12), 2),  # they cross a grid line: cut into two windows
])
def test_a_slow_page_times_out_and_is_retried(quiet, store, server, lw_posts, now, windows):
    quiet.ingest.timeout = 0.5
    fetcher = HttpFetcher(quiet.ingest, sleep=lambda _s: None)
    srv = server(recent(lw_posts, 3, every_hours=1.0, now=now))
    srv.fault("slow", delay=1.5)
    sources_repo.add_source(store, srv.url, name="lw", kind="forum")
    report = run_ingest(quiet, store, fetcher, source="lw", now=now)
    assert report.errors == 0 and report.new == 3
    # the timed-out request is asked again, once, and every window once
    asked = [json.dumps(entry.variables, sort_keys=True) for entry in srv.log]
    assert len(asked) == windows + 1 and asked[0] == asked[1]
    assert len(set(asked)) == windows
    fetcher.close()


def test_one_request_in_flight_per_host_and_a_delay_between_them(quiet, server, lw_posts):
    quiet.ingest.delay = 0.3
    srv = server(recent(lw_posts, 3, every_hours=1.0))
    srv.fault("slow", delay=0.2, times=6)
    fetcher = HttpFetcher(quiet.ingest)
    body = json.dumps({"query": "{ posts(limit: 1) { results { _id } } }"}).encode()
    spans: list[tuple[float, float]] = []

    def one() -> None:
        t0 = time.monotonic()
        fetcher.post(srv.url, body)
        spans.append((t0, time.monotonic()))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    arrivals = sorted(e.at for e in srv.log)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    assert len(arrivals) == 4 and min(gaps) >= 0.2 + 0.3 - 0.05  # never overlapping, delayed
    assert len(fetcher.pacer.paced) == 3
    fetcher.close()


def test_the_readme_shows_the_exact_query_kb_sends():
    from corpus_paths import REPO

    from ingest.forum import POSTS_QUERY

    assert POSTS_QUERY.strip() in (REPO / "README.md").read_text(encoding="utf-8")
