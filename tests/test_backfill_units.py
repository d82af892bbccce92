"""The pieces of forums and backfill that need no server: windows and their checkpoints, one
transaction per page, the GraphQL variables and answers, feed discovery, the final line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from ingest.backfill import duration
from ingest.discover import DiscoveryError, discover
from ingest.forum import ForumError, fetch_page, variables
from ingest.pipeline import IngestReport
from ingest.save import save_page
from kb.fetch import FakeFetcher, FetchResult
from kb.store import backfill as cp
from kb.store import sources as sources_repo
from kb.store.db import kv_set
from kb.store.posts import PostRecord


def d(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_windows_sit_on_a_fixed_grid_and_finished_ones_are_subtracted():
    spans = cp.split_on_grid((d(2024, 1, 1), d(2024, 3, 1)), 30)
    assert spans[0][0] == d(2024, 1, 1) and spans[-1][1] == d(2024, 3, 1)
    assert all((b - a) <= timedelta(days=30) for a, b in spans)
    assert all((a - cp.EPOCH).days % 30 == 0 for a, _ in spans[1:])  # grid boundaries
    assert cp.subtract((d(2024, 1, 1), d(2024, 3, 1)), [(d(2024, 1, 10), d(2024, 2, 1))]) == \
        [(d(2024, 1, 1), d(2024, 1, 10)), (d(2024, 2, 1), d(2024, 3, 1))]
    assert cp.subtract((d(2024, 1, 1), d(2024, 2, 1)), [(d(2023, 1, 1), d(2025, 1, 1))]) == []


def test_plan_resumes_a_started_window_and_skips_finished_ones(store):
    kv_set(store, "default_sources_added", "test")
    src = sources_repo.add_source(store, "https://forum.example/graphql", name="f")
    windows = cp.plan(store, src.id, d(2024, 1, 1), d(2024, 4, 1), grid_days=30)
    assert len(windows) >= 3
    with store.tx() as conn:
        cp.advance(conn, windows[0], position=50, seen=50, done=True)
        cp.advance(conn, windows[1], position=20, seen=20, done=False)
    again = cp.plan(store, src.id, d(2024, 1, 1), d(2024, 4, 1), grid_days=30)
    assert [w.start for w in again] == [w.start for w in windows[1:]]
    assert again[0].position == 20  # resumes where it stopped
    # a wider range later: only what no finished window covers
    wider = cp.plan(store, src.id, d(2023, 12, 1), d(2024, 4, 1), grid_days=None)
    assert len(wider) == 1 and wider[0].start == "2023-12-01T00:00:00Z"
    info = cp.summary(store, src.id)
    assert info is not None and info["windows_done"] == 1
    assert info["current"] == {"start": windows[1].start, "end": windows[1].end, "position": 20}


def test_a_page_and_its_checkpoint_are_one_transaction(store):
    kv_set(store, "default_sources_added", "test")
    src = sources_repo.add_source(store, "https://forum.example/graphql", name="f")
    (window,) = cp.plan(store, src.id, d(2024, 1, 1), d(2024, 1, 2), grid_days=30)
    good = PostRecord(title="Good", text="Text.", urls=["https://blog.example/a"],
                      published="2024-01-01T10:00:00Z", origin="t")
    bad = PostRecord(title="No URL", text="Text.", urls=[], origin="t")
    report = IngestReport()
    save_page(store, [good, bad], report, where="f", source_id=src.id, label="source f",
              checkpoint=lambda conn: cp.advance(conn, window, position=2, seen=1, done=False))
    assert report.new == 1 and report.errors == 1 and "source f: could not store" in \
        report.failures[0][1]
    assert cp.plan(store, src.id, d(2024, 1, 1), d(2024, 1, 2), grid_days=30)[0].position == 2

    def broken(conn: object) -> None:
        raise RuntimeError("power loss")

    later = PostRecord(title="Later", text="More.", urls=["https://blog.example/b"], origin="t")
    with pytest.raises(RuntimeError):
        save_page(store, [later], IngestReport(), where="f", source_id=src.id, label="f",
                  checkpoint=broken)
    assert store.count("posts") == 1  # the page's posts went with its checkpoint


def test_graphql_variables_make_windows_half_open():
    v = variables(d(2024, 1, 1), d(2024, 2, 1), offset=100, limit=50, min_karma=30)
    assert v == {"selector": {"new": {"after": "2023-12-31T23:59:59.999Z",
                                      "before": "2024-02-01T00:00:00.000Z",
                                      "karmaThreshold": 30}},
                 "limit": 50, "offset": 100, "enableTotal": False}
    assert "karmaThreshold" not in variables(d(2024, 1, 1), d(2024, 2, 1), offset=0, limit=5,
                                             min_karma=0)["selector"]["new"]


@pytest.mark.parametrize("body, status, words", [
    (b"<html>Bad gateway</html>", 200, "not JSON"),
    (b'{"errors": [{"message": "Field \\"nope\\" not found"}]}', 400, "GraphQL error: Field"),
    (b'{"data": {"posts": null}}', 200, "no data.posts.results"),
])
def test_a_bad_answer_names_the_source_and_window(body, status, words):
    url = "https://forum.example/graphql"
    fake = FakeFetcher({}, on_post=lambda _u, _b: FetchResult(url=url, body=body, status=status))
    with pytest.raises(ForumError) as err:
        fetch_page(fake, url, where="source f: window 2024-01-01..2024-01-30",
                   start=d(2024, 1, 1), end=d(2024, 1, 31), offset=50, limit=50)
    assert str(err.value).startswith("source f: window 2024-01-01..2024-01-30 (offset 50): ")
    assert words in str(err.value)
    sent = json.loads(fake.posts[0][1])
    assert sent["variables"]["offset"] == 50 and "posts(selector: $selector" in sent["query"]


FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>Notes</title>'
        b"<link>https://blog.example/</link><item><title>One</title>"
        b"<link>https://blog.example/one</link><description>x</description></item>"
        b"</channel></rss>")


def test_discovery_finds_the_feed_a_homepage_links():
    home = b'<html><head><link rel="alternate" type="application/rss+xml" href="/atom"></head>' \
        b"<body><p>Hello</p></body></html>"
    fake = FakeFetcher({
        "https://blog.example/": FetchResult(url="https://blog.example/", body=home,
                                             content_type="text/html"),
        "https://blog.example/atom": FetchResult(url="https://blog.example/atom", body=FEED)})
    found = discover(fake, "https://blog.example/")
    assert (found.feed_url, found.title, found.items, found.home_url) == \
        ("https://blog.example/atom", "Notes", 1, "https://blog.example/")
    direct = discover(fake, "https://blog.example/atom")
    assert direct.feed_url == "https://blog.example/atom" and direct.items == 1
    bare = FakeFetcher({"https://x.example/": FetchResult(
        url="https://x.example/", body=b"<html><body><p>No feed here</p></body></html>",
        content_type="text/html")})
    with pytest.raises(DiscoveryError, match="page without a feed"):
        discover(bare, "https://x.example/")


def test_the_final_line_says_how_long_it_took():
    assert [duration(s) for s in (42, 552, 3780)] == ["42s", "9m12s", "1h03m"]
