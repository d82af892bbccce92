"""`run_import` over our own archive fixtures into a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import http_fixture
import pytest

from ingest.archives import split_front_matter
from ingest.pipeline import run_import, run_ingest
from kb.store import sources as sources_repo
from kb.store.posts import get_post, list_versions, stats

http_server = http_fixture.http_server
FIX = Path(__file__).parent / "fixtures" / "ingest"


def test_graphql_post_and_post_lists(settings, store):
    report = run_import(settings, store, [FIX / "graphql_post.json", FIX / "post_list.json"])
    assert (report.new, report.errors) == (3, 0)
    post = get_post(store, "kbTestGraphQL0006")
    assert post is not None and post.is_af
    assert post.authors == ["Gus Graph", "Hana Helper"]
    assert post.published == "2024-02-03T04:05:06Z"
    assert post.canonical_url == "https://www.alignmentforum.org/posts/kbTestGraphQL0006/a-graphql-shaped-post"
    assert "https://www.lesswrong.com/posts/kbTestGraphQL0006/a-graphql-shaped-post" in post.urls
    assert "[relative tag link](https://www.lesswrong.com/tag/testing)" in post.text
    assert "* one" in post.text
    listed = get_post(store, "kbTestListPost007")
    assert listed is not None and listed.text == "First listed post, in **Markdown**."
    html = get_post(store, "kbTestListPost009")
    assert html is not None and html.text == "Written as *HTML*."
    assert get_post(store, "kbTestListPost008") is None  # null contents: skipped, with a note
    [(where, note)] = report.notes
    assert where.endswith("post_list.json") and "kbTestListPost008" in note and "null" in note


def test_jekyll_front_matter_dates(settings, store):
    report = run_import(settings, store, [FIX / "jekyll_episode.markdown"])
    [pid] = report.post_ids
    post = get_post(store, pid)
    assert post is not None and post.title == "7 - A Conversation Written For Tests"
    assert post.published == "2025-06-15T01:00:00Z"  # 18:00 -0700
    assert post.text.startswith("A transcript that never happened")
    assert post.canonical_url.startswith("file://")


def test_blog_copy_merges_into_the_feed_post_and_adds_its_authors(fetcher, settings, store, http_server):
    sources_repo.ensure_default_sources(store)
    for src in sources_repo.list_sources(store):
        sources_repo.remove_source(store, src.name)
    url = http_server.route("/lw.xml", body=(FIX / "lw_feed.xml").read_bytes())
    sources_repo.add_source(store, url, name="lw", kind="feed")
    run_ingest(settings, store, fetcher)
    before = stats(store)
    report = run_import(settings, store, [FIX / "blog_copy.md"])
    assert (report.new, report.updated, report.unchanged) == (0, 0, 1)
    post = get_post(store, "kbTestCross000001")
    assert post is not None
    assert (FIX / "blog_copy.md").resolve().as_uri() in post.urls
    assert post.canonical_url.startswith("https://www.lesswrong.com/posts/kbTestCross000001")
    assert post.authors == ["Ada Gardener", "Finn Coauthor"]  # the feed only had the first
    assert post.text.startswith("This is a made-up test post")  # the LW text stays
    assert post.published == "2025-03-11T18:52:00Z"
    after = stats(store)
    assert after["posts"] == before["posts"] and after["versions"] == before["versions"]
    assert len(list_versions(store, post.id)) == 1


def test_importing_twice_adds_nothing(settings, store):
    paths = [FIX]  # the whole fixture directory: feeds, pages, Markdown and JSON
    first = run_import(settings, store, paths)
    assert first.errors == 0 and first.new > 5
    before = stats(store)
    second = run_import(settings, store, paths)
    assert (second.new, second.updated, second.errors) == (0, 0, 0)
    assert stats(store) == before


def test_bad_files_are_reported_with_their_path_and_the_rest_goes_on(settings, store, tmp_path):
    (tmp_path / "good.md").write_text("---\ntitle: Fine\n---\nA fine body.\n")
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "bad_yaml.md").write_text("---\ntitle: [unclosed\n---\nBody.\n")
    (tmp_path / "odd.json").write_text('{"hello": "world"}')
    (tmp_path / "nulls.json").write_text('[{"_id": "kbTestNullPost010", "title": "x", '
                                         '"contents": null}]')
    report = run_import(settings, store, [tmp_path, tmp_path / "missing.md"])
    assert report.new == 1
    failures = dict(report.failures)
    assert report.errors == len(failures) == 4
    assert "not valid JSON" in failures[str(tmp_path / "bad.json")]
    assert "front matter is not valid YAML" in failures[str(tmp_path / "bad_yaml.md")]
    assert "holds no posts" in failures[str(tmp_path / "odd.json")]
    assert "no such file" in failures[str(tmp_path / "missing.md")]
    assert all(where in message for where, message in report.failures)
    assert any("kbTestNullPost010" in n for _, n in report.notes)


def test_front_matter_split():
    meta, body = split_front_matter("---\ntitle: T\nauthors: [A, B]\n---\n\nBody\n", Path("x.md"))
    assert meta == {"title": "T", "authors": ["A", "B"]} and body.strip() == "Body"
    assert split_front_matter("No front matter", Path("x.md")) == ({}, "No front matter")
    with pytest.raises(ValueError, match="x.md"):
        split_front_matter("---\n- a list\n---\nBody", Path("x.md"))
