"""Feeds over real loopback HTTP into a real SQLite store (our own fixtures)."""

from __future__ import annotations

from pathlib import Path

import http_fixture
import pytest
from http_fixture import LoopbackServer, Route

from ingest.pipeline import run_ingest
from kb.store import sources as sources_repo
from kb.store.posts import get_post, list_versions, stats

http_server = http_fixture.http_server  # the loopback server fixture
FIX = Path(__file__).parent / "fixtures" / "ingest"
CROSS = "kbTestCross000001"
LW_URL = "https://www.lesswrong.com/posts/kbTestCross000001/toy-models-of-gardening"
AF_URL = "https://www.alignmentforum.org/posts/kbTestCross000001/toy-models-of-gardening"


@pytest.fixture(autouse=True)
def _no_default_sources(store):
    """The defaults are real internet feeds; these tests use only the loopback server."""
    sources_repo.ensure_default_sources(store)
    for src in sources_repo.list_sources(store):
        sources_repo.remove_source(store, src.name)


def add(store, url: str, name: str, kind: str = "feed"):
    return sources_repo.add_source(store, url, name=name, kind=kind)  # type: ignore[arg-type]


def serve(server: LoopbackServer, path: str, fixture: str, **kw) -> str:
    return server.route(path, body=(FIX / fixture).read_bytes(), **kw)


def test_lw_and_af_feeds_of_a_crosspost_make_one_post(fetcher, settings, store, http_server):
    add(store, serve(http_server, "/lw.xml", "lw_feed.xml"), "lw")
    add(store, serve(http_server, "/af.xml", "af_feed.xml"), "af")
    report = run_ingest(settings, store, fetcher)
    assert (report.new, report.errors) == (4, 0)  # cross, lw-only, question, af-only
    assert report.updated == 0 and report.unchanged == 1  # the AF copy of the crosspost
    assert report.line() == "4 new, 0 updated, 1 unchanged, 0 errors"

    post = get_post(store, CROSS)
    assert post is not None
    assert set(post.urls) == {LW_URL, AF_URL} and post.canonical_url == AF_URL and post.is_af
    # the posting date comes from "Published on", not from pubDate (2025-03-12 07:37:57)
    assert post.published == "2025-03-11T18:52:00Z"
    assert post.authors == ["Ada Gardener"]
    assert post.title == "Toy Models of Gardening Under Uncertainty"
    assert "Published on" not in post.text and "Discuss" not in post.text
    assert post.text.startswith("This is a made-up test post")
    assert "## Second section" in post.text and "**robust**" in post.text
    assert "(https://www.lesswrong.com/posts/kbTestLwOnly00002/a-second-post)" in post.text
    assert "(https://www.alignmentforum.org/posts/kbTestAfOnly00004/af-only)" in post.text
    assert "https://res.cloudinary.com/lesswrong-2-0/image/upload/v1/kb-test-garden.png" in post.text
    assert "Weather forecasts are not part of this toy model." in post.text  # footnote kept
    assert len(list_versions(store, CROSS)) == 1

    question = get_post(store, "kbTestQuestion003")
    assert question is not None and question.text == "" and question.published == "2025-03-12T14:25:00Z"
    af_only = get_post(store, "kbTestAfOnly00004")
    assert af_only is not None and af_only.is_af
    assert af_only.urls[0] == "https://www.alignmentforum.org/posts/kbTestAfOnly00004/af-only"


def test_running_ingest_twice_adds_nothing(fetcher, settings, store, http_server):
    add(store, serve(http_server, "/lw.xml", "lw_feed.xml"), "lw")
    add(store, serve(http_server, "/af.xml", "af_feed.xml", etag='"af-1"'), "af")
    run_ingest(settings, store, fetcher)
    before = stats(store)
    again = run_ingest(settings, store, fetcher)
    assert (again.new, again.updated, again.errors) == (0, 0, 0)
    assert stats(store) == before
    # the AF feed answered 304 to the conditional GET the second time
    af_hits = http_server.hits("/af.xml")
    assert af_hits[-1].headers.get("if-none-match") == '"af-1"'
    af = sources_repo.get_source(store, "af")
    assert af is not None and af.last_status == "not modified" and af.etag == '"af-1"'


def test_an_edited_post_becomes_a_new_version(fetcher, settings, store, http_server):
    body = (FIX / "lw_feed.xml").read_bytes()
    edited = body.replace(b"The gardener plants <strong>robust</strong> seeds.",
                          b"The gardener plants <strong>hardy</strong> seeds instead.")
    url = http_server.route("/lw.xml", Route(body=body), Route(body=edited))
    add(store, url, "lw")
    run_ingest(settings, store, fetcher)
    report = run_ingest(settings, store, fetcher)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 2)
    assert report.post_ids == [CROSS]
    post = get_post(store, CROSS)
    assert post is not None and "hardy" in post.text and post.changed_at
    assert [v["version"] for v in list_versions(store, CROSS)] == [1, 2]


def test_podcast_copies_map_to_the_post_but_never_replace_its_text(fetcher, settings, store, http_server):
    add(store, serve(http_server, "/lw.xml", "lw_feed.xml"), "lw")
    add(store, serve(http_server, "/nl.xml", "nonlinear_feed.xml"), "podcast")
    report = run_ingest(settings, store, fetcher)
    assert report.errors == 0
    post = get_post(store, CROSS)
    assert post is not None and post.text.startswith("This is a made-up test post")
    assert "Welcome to The Nonlinear Library" not in post.text
    assert post.is_af and AF_URL in post.urls
    only_pod = get_post(store, "kbTestPodOnly0005")
    assert only_pod is not None
    assert only_pod.title == "A Post Heard Before It Is Read" and only_pod.authors == ["Eve Listener"]
    assert only_pod.text == "The first few paragraphs of a post, cut short..."
    assert stats(store)["versions"] == 4  # the podcast excerpt of the crosspost added none


def test_a_failing_source_never_stops_the_others_nor_loses_posts(fetcher, settings, store, http_server):
    lw_url = serve(http_server, "/lw.xml", "lw_feed.xml")
    add(store, lw_url, "lw")
    run_ingest(settings, store, fetcher)
    before = stats(store)
    http_server.route("/lw.xml", status=500, body=b"oops", content_type="text/plain")
    add(store, serve(http_server, "/af.xml", "af_feed.xml"), "af")
    settings.ingest.retries = 0
    report = run_ingest(settings, store, fetcher)
    assert report.errors == 1 and report.new == 1  # the AF-only post still arrived
    [(where, message)] = report.failures
    assert where == "lw" and "HTTP 500" in message and "lw" in message
    assert stats(store)["posts"] == before["posts"] + 1
    src = sources_repo.get_source(store, "lw")
    assert src is not None and src.last_status == "error" and "HTTP 500" in (src.last_error or "")
    assert get_post(store, CROSS) is not None


def test_page_source_versions_when_the_page_changes(fetcher, settings, store, http_server):
    url = http_server.route("/notes.html",
                            Route(body=(FIX / "page_v1.html").read_bytes(), content_type="text/html"),
                            Route(body=(FIX / "page_v1.html").read_bytes(), content_type="text/html"),
                            Route(body=(FIX / "page_v2.html").read_bytes(), content_type="text/html"))
    src = add(store, url, "notes", kind="page")
    first = run_ingest(settings, store, fetcher, source="notes")
    second = run_ingest(settings, store, fetcher, source="notes")
    third = run_ingest(settings, store, fetcher, source=str(src.id))
    assert (first.new, second.unchanged, third.updated) == (1, 1, 1)
    [pid] = first.post_ids
    post = get_post(store, pid)
    assert post is not None and post.title == "Notes on Watering Schedules"
    assert "drip line experiment" in post.text and post.changed_at
    versions = list_versions(store, pid)
    assert [v["modified"] for v in versions] == ["2025-06-01T00:00:00Z", "2025-06-20T00:00:00Z"]
    assert post.published == "2025-05-30T00:00:00Z"
