"""`kb posts list --unread/--saved`, `mark-read`, `save`/`unsave`, `cite` through the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.store import reading
from kb.store.posts import PostRecord, save_post

AF = "https://www.alignmentforum.org/posts/abcdefghijkmnopqr/a-forum-post"


def run(*args: str, code: int = 0):
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == code, (r.exit_code, r.output, r.exception)
    return r


def js(*args: str):
    return json.loads(run(*args, "--json").stdout)


@pytest.fixture
def posts(store):
    ids = {}
    for slug, day in (("alpha", "2025-03-01"), ("beta", "2025-03-10"), ("gamma", "2025-03-20")):
        url = f"https://blog.example.org/{slug}"
        ids[slug], _ = save_post(store, PostRecord(
            title=slug.title(), text=f"About {slug}.", urls=[url], origin=url,
            published=f"{day}T12:00:00Z", authors=["Ann Author"]))
    ids["af"], _ = save_post(store, PostRecord(
        title="A forum post", text="Forum text.", urls=[AF], origin=AF, lw_id="abcdefghijkmnopqr",
        published="2025-03-15T08:00:00Z", authors=["Jane Q. Doe", "Bo Li"], is_af=True))
    return ids


def test_unread_list_shrinks_as_posts_are_marked_read(posts):
    everything = js("posts", "list")
    assert len(everything) == 4 and all(p["unread"] and not p["saved"] for p in everything)
    out = js("posts", "mark-read", posts["alpha"], AF)  # a URL works like an id
    assert out == {"action": "mark-read", "changed": 2, "ids": [posts["alpha"], "abcdefghijkmnopqr"],
                   "unchanged": []}
    again = js("posts", "mark-read", posts["alpha"], posts["beta"])
    assert again["changed"] == 1 and again["unchanged"] == [posts["alpha"]]
    assert [p["id"] for p in js("posts", "list", "--unread")] == [posts["gamma"]]
    # combines with the other flags: --limit counts unread posts, not all posts
    assert [p["id"] for p in js("posts", "list", "--unread", "--limit", "1")] == [posts["gamma"]]
    assert js("posts", "list", "--unread", "--until", "2025-03-19") == []
    undo = js("posts", "mark-read", "--unread", posts["beta"])
    assert undo["action"] == "mark-unread" and undo["changed"] == 1
    assert {p["id"] for p in js("posts", "list", "--unread")} == {posts["beta"], posts["gamma"]}
    text = run("posts", "list", "--unread").stdout
    assert "2 posts (2 unread" in text


def test_mark_read_before_and_all(posts):
    out = js("posts", "mark-read", "--before", "2025-03-15")
    assert out == {"action": "mark-read", "changed": 2, "before": "2025-03-15"}
    assert {p["id"] for p in js("posts", "list", "--unread")} == {posts["af"], posts["gamma"]}
    assert "marked 2 more post(s) in the archive read" in run("posts", "mark-read", "--all").stdout
    assert js("posts", "list", "--unread") == []


def test_mark_read_bad_input_is_a_clear_error_that_changes_nothing(posts, store):
    r = run("posts", "mark-read", posts["alpha"], "nosuchpost", "https://nowhere.example/x", code=1)
    assert "nosuchpost" in r.output and "https://nowhere.example/x" in r.output
    assert reading.unread_ids(store, [posts["alpha"]]) == {posts["alpha"]}
    assert "not a date" in run("posts", "mark-read", "--before", "soon", code=2).output
    assert "--all" in run("posts", "mark-read", code=2).output
    assert "not both" in run("posts", "mark-read", posts["alpha"], "--all", code=2).output


def test_save_unsave_and_saved_list(posts, store):
    assert js("posts", "save", posts["beta"]) == {"id": posts["beta"], "saved": True, "changed": True}
    assert js("posts", "save", posts["beta"])["changed"] is False
    assert "saved abcdefghijkmnopqr" in run("posts", "save", AF).stdout
    listed = js("posts", "list", "--saved")
    assert {p["id"] for p in listed} == {posts["beta"], posts["af"]}
    assert all(p["saved"] for p in listed)
    assert reading.saved_ids(store) == [posts["af"], posts["beta"]]
    assert js("posts", "unsave", posts["beta"]) == {"id": posts["beta"], "saved": False,
                                                    "changed": True}
    assert [p["id"] for p in js("posts", "list", "--saved", "--unread")] == [posts["af"]]
    assert "ghost" in run("posts", "save", "ghost", code=1).output


def test_cite_formats(posts):
    bib = run("posts", "cite", AF).stdout
    assert bib.startswith("@misc{doe2025forum,")
    assert "howpublished = {AI Alignment Forum}" in bib and "author = {Jane Q. Doe and Bo Li}" in bib
    assert f"url = {{{AF}}}" in bib
    md = run("posts", "cite", posts["gamma"], "--format", "markdown").stdout
    assert md == ("Ann Author (2025-03-20). [Gamma](https://blog.example.org/gamma). "
                  "*blog.example.org*.\n")
    plain = run("posts", "cite", posts["gamma"], "--format", "plain").stdout
    assert plain == ('Ann Author. "Gamma." blog.example.org, 20 March 2025. '
                     "https://blog.example.org/gamma\n")
    data = js("posts", "cite", AF, "--format", "plain")
    assert data["key"] == "doe2025forum" and data["citation"].startswith("Jane Q. Doe and Bo Li.")
    assert "nope" in run("posts", "cite", "nope", code=1).output


def test_show_still_resolves_ids_and_urls(posts):
    assert js("posts", "show", AF)["id"] == "abcdefghijkmnopqr"
