"""The real httpx fetcher against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path

import http_fixture
import pytest
from http_fixture import Route

from ingest.pipeline import run_ingest
from kb.fetch import (
    FakeFetcher,
    FetchError,
    FetchResult,
    HttpFetcher,
    retry_after,
    unknown_host,
)
from kb.store import sources as sources_repo
from kb.store.posts import get_post, stats

http_server = http_fixture.http_server
FIX = Path(__file__).parent / "fixtures" / "ingest"
FEED = (FIX / "lw_feed.xml").read_bytes()


@pytest.fixture(autouse=True)
def _no_default_sources(store):
    sources_repo.ensure_default_sources(store)
    for src in sources_repo.list_sources(store):
        sources_repo.remove_source(store, src.name)


@pytest.fixture
def fetcher(settings):
    settings.ingest.retries = 2
    settings.ingest.backoff = 0.01
    settings.ingest.timeout = 1.0
    f = HttpFetcher(settings.ingest, sleep=lambda _s: None)  # waits are recorded in f.waits
    yield f
    f.close()


def test_ok_sends_an_honest_user_agent_and_returns_the_body(fetcher, settings, http_server):
    url = http_server.route("/feed.xml", body=FEED, etag='"v1"',
                            headers={"Last-Modified": "Wed, 12 Mar 2025 07:00:00 GMT"})
    res = fetcher.fetch(url)
    assert res.body == FEED and res.etag == '"v1"' and not res.not_modified
    assert res.last_modified == "Wed, 12 Mar 2025 07:00:00 GMT"
    [req] = http_server.hits("/feed.xml")
    assert req.headers["user-agent"] == settings.ingest.user_agent
    again = fetcher.fetch(url, etag='"v1"', last_modified=res.last_modified)
    assert again.not_modified and again.status == 304
    assert http_server.hits("/feed.xml")[-1].headers["if-modified-since"] == res.last_modified


def test_404_is_not_retried_and_names_the_url(fetcher, http_server):
    url = http_server.url("/missing.xml")
    with pytest.raises(FetchError, match=r"missing\.xml: HTTP 404"):
        fetcher.fetch(url)
    assert len(http_server.hits("/missing.xml")) == 1


def test_500_is_retried_with_backoff_then_reported(fetcher, http_server):
    url = http_server.route("/down.xml", status=500, body=b"boom", content_type="text/plain")
    with pytest.raises(FetchError, match=r"down\.xml: HTTP 500 .* after 3 attempts"):
        fetcher.fetch(url)
    assert len(http_server.hits("/down.xml")) == 3
    assert fetcher.waits == [0.01, 0.02]  # exponential backoff


@pytest.mark.parametrize(("errno", "lookups", "problem"), [
    (socket.EAI_NONAME, 1, "the host name does not resolve, so it was not asked again"),
    (socket.EAI_AGAIN, 3, "after 3 attempts"),  # a resolver's hiccup is worth a retry
])
def test_a_host_that_does_not_exist_is_asked_once(fetcher, monkeypatch, errno, lookups,
                                                  problem):
    # offline (or a typo in a source's URL) the lookup says no such host: retrying only made
    # `kb daily` wait (18 s for the six default sources, offline, before this)
    asked: list[str] = []

    def lookup(host, *args, **kwargs):
        asked.append(host)
        raise socket.gaierror(errno, "no such host (test)")

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    with pytest.raises(FetchError, match=r"feeds\.example\.org/feed\.xml: connection failed") as err:
        fetcher.fetch("https://feeds.example.org/feed.xml")
    assert problem in str(err.value)
    assert asked == ["feeds.example.org"] * lookups
    assert len(fetcher.waits) == lookups - 1


def test_unknown_host_reads_the_cause_chain():
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except OSError as exc:
            raise ConnectionError("wrapped") from exc
    except ConnectionError as outer:
        assert unknown_host(outer)
    assert not unknown_host(socket.gaierror(socket.EAI_AGAIN, "Temporary failure"))
    assert not unknown_host(ConnectionRefusedError(111, "refused"))


def test_429_honours_retry_after_and_then_succeeds(fetcher, http_server):
    url = http_server.route("/busy.xml",
                            Route(status=429, body=b"", headers={"Retry-After": "2"}),
                            Route(status=503, body=b"", headers={"Retry-After": "9999"}),
                            Route(body=FEED))
    res = fetcher.fetch(url)
    assert res.body == FEED
    waits = fetcher.waits
    assert waits[0] == 2.0 and waits[1] == 60.0  # Retry-After honoured, capped at a minute
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past


def test_slow_server_times_out_with_a_clear_message(fetcher, http_server):
    url = http_server.route("/slow.xml", body=FEED, delay=3.0)
    with pytest.raises(FetchError, match=r"slow\.xml: timed out"):
        fetcher.fetch(url)


def test_oversized_bodies_are_refused(fetcher, settings, http_server):
    settings.ingest.max_bytes = 10_000
    big = b"<rss>" + b"x" * 50_000 + b"</rss>"
    url = http_server.route("/big.xml", body=big)
    with pytest.raises(FetchError, match=r"big\.xml: body of 50011 bytes is over the 10000-byte"):
        fetcher.fetch(url)
    # no Content-Length: the stream is cut off once it passes the limit
    url = http_server.route("/stream.xml", body=big, send_length=False)
    with pytest.raises(FetchError, match=r"stream\.xml: body is over the 10000-byte limit"):
        fetcher.fetch(url)


def test_file_urls_and_plain_paths(fetcher, tmp_path):
    p = tmp_path / "feed.xml"
    p.write_bytes(FEED)
    assert fetcher.fetch(p.as_uri()).body == FEED
    assert fetcher.fetch(str(p)).body == FEED
    with pytest.raises(FetchError, match="no such file"):
        fetcher.fetch(str(tmp_path / "nope.xml"))


def test_fake_fetcher_for_logic_tests():
    fake = FakeFetcher({"https://x.org/f": FetchResult(url="https://x.org/f", body=FEED, etag="e")})
    assert fake.fetch("https://x.org/f").body == FEED
    assert fake.fetch("https://x.org/f", etag="e").not_modified
    with pytest.raises(FetchError, match="404"):
        fake.fetch("https://x.org/other")


# --- through the pipeline: every problem is a clear per-source error -------------------
def _ingest_one(settings, store, http_server, name: str, **route) -> tuple:
    settings.ingest.retries = 0
    settings.ingest.timeout = 1.0
    url = http_server.route(f"/{name}", **route)
    sources_repo.add_source(store, url, name=name, kind="feed")
    with HttpFetcher(settings.ingest) as fetcher:  # after the timeout was lowered
        report = run_ingest(settings, store, fetcher)
    src = sources_repo.get_source(store, name)
    return report, src


@pytest.mark.parametrize("name,route,expected", [
    ("gone", dict(status=404, body=b"no"), "HTTP 404"),
    ("broken", dict(status=500, body=b"no"), "HTTP 500"),
    ("slow", dict(body=FEED, delay=2.5), "timed out"),
    ("empty", dict(body=b""), "empty response body"),
    ("html", dict(body=b"<!DOCTYPE html><html><body><p>hi</p></body></html>",
                  content_type="text/html"), "HTML page, not an RSS/Atom feed"),
    ("garbage", dict(body=b"\x00\x01 not xml at all {", content_type="text/plain"),
     "not a readable RSS/Atom feed"),
])
def test_bad_sources_give_a_clear_error_naming_the_source(settings, store, http_server, name,
                                                          route, expected):
    report, src = _ingest_one(settings, store, http_server, name, **route)
    [(where, message)] = report.failures
    assert where == name and name in message and expected in message
    assert report.errors == 1 and report.line().endswith("1 errors")
    assert src.last_status == "error" and expected in src.last_error


def test_oversized_feed_is_a_clear_error(settings, store, http_server):
    settings.ingest.max_bytes = 2000
    report, src = _ingest_one(settings, store, http_server, "huge", body=FEED)
    assert "over the 2000-byte limit" in report.failures[0][1] and "huge" in report.failures[0][1]


def test_non_utf8_feed_is_decoded_and_noted(settings, store, http_server):
    text = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Blog</title>'
            '<item><title>Caf\u00e9 notes</title><link>https://blog.example.org/cafe</link>'
            '<description>&lt;p&gt;Na\u00efve r\u00e9sum\u00e9 of a caf\u00e9 visit, '
            'with cr\u00e8me br\u00fbl\u00e9e.&lt;/p&gt;</description></item></channel></rss>')
    report, src = _ingest_one(settings, store, http_server, "latin",
                              body=text.encode("latin-1"), content_type="application/rss+xml")
    assert report.errors == 0 and report.new == 1
    assert any("encoding" in note for _, note in report.notes)
    post = get_post(store, "https://blog.example.org/cafe")
    assert post is not None and post.title == "Café notes" and "crème brûlée" in post.text


def test_conditional_get_stores_validators_only_after_success(fetcher, settings, store,
                                                             http_server):
    url = http_server.route("/feed.xml",
                            Route(body=b"{not a feed", etag='"bad"', content_type="text/plain"),
                            Route(body=FEED, etag='"good"'))
    sources_repo.add_source(store, url, name="flaky", kind="feed")
    settings.ingest.retries = 0
    first = run_ingest(settings, store, fetcher)
    src = sources_repo.get_source(store, "flaky")
    assert src is not None
    assert first.errors == 1 and src.etag is None  # unreadable: no ETag kept, so we refetch
    second = run_ingest(settings, store, fetcher)
    assert second.errors == 0 and stats(store)["posts"] >= 3
    assert sources_repo.get_source(store, "flaky").etag == '"good"'
    third = run_ingest(settings, store, fetcher)
    assert (third.new, third.updated, third.errors) == (0, 0, 0)
    assert http_server.hits("/feed.xml")[-1].headers.get("if-none-match") == '"good"'
