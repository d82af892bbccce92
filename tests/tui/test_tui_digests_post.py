"""Digests and the post reader, driven with Pilot on a real SQLite store."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import Markdown, OptionList, Static
from tui_fixtures import DIGEST_DAY, EVIL_TITLE, GRID_PASSAGE, GRID_TEXT, OLDER_DAY

from tui.screens.digests import DigestsScreen
from tui.screens.post import PostScreen
from tui.widgets.empty_state import EmptyState
from tui.widgets.post_body import PostBody

SIZE = (110, 32)


async def test_digests_list_days_and_open_a_key_post(make_app, archive):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, DigestsScreen)
        days = app.screen.query_one("#day-list", OptionList)
        assert [days.get_option_at_index(i).id for i in range(days.option_count)] == [
            DIGEST_DAY, OLDER_DAY]
        md = app.screen.query_one("#digest-md", Markdown)
        assert "Proxies leak" in md.source
        posts = app.screen.query_one("#digest-posts", OptionList)
        ids = [posts.get_option_at_index(i).id for i in range(posts.option_count)]
        assert ids == [archive["grid"], archive["oversight"], archive["toy"]]
        # keyboard only: Enter on the day moves to the posts list, Enter opens the key post
        await pilot.press("enter")
        assert app.focused is posts
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PostScreen)
        assert app.screen.post is not None and app.screen.post.id == archive["grid"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DigestsScreen)
        # the older day shows its own digest
        days.focus()
        await pilot.press("down")
        await pilot.pause()
        assert "A quiet day" in md.source
        assert posts.option_count == 1


async def test_empty_archive_says_how_to_start(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        empty = app.screen.query_one(EmptyState)
        assert "No posts yet" in empty.source
        assert "kb sources add" in empty.source and "ingest" in empty.source


async def test_no_digest_yet_points_to_daily(make_app, settings, store):
    from tui_fixtures import build_archive

    build_archive(store, settings.digests_dir, digests=False)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "kb daily" in app.screen.query_one(EmptyState).source


async def test_post_reader_shows_metadata_and_highlights_the_passage(make_app, archive):
    app = make_app()
    start = GRID_TEXT.index(GRID_PASSAGE)
    async with app.run_test(size=SIZE) as pilot:
        app.open_post(archive["grid"], version=1, start=start, end=start + len(GRID_PASSAGE))
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, PostScreen)
        title = screen.query_one("#post-title", Static).visual
        assert "Reward hacking in small gridworlds" in str(title)
        meta = str(screen.query_one("#post-meta", Static).visual)
        assert "Ada Example, Ben Sample" in meta and "2025-03-10" in meta
        urls = str(screen.query_one("#post-urls", Static).visual)
        assert "lesswrong.com/posts/GridWorldRewardAb" in urls
        body = screen.query_one(PostBody)
        assert GRID_PASSAGE in body.passage_text
        assert len(body.passage_blocks) == 1
        scroll = screen.query_one("#post-scroll")
        assert scroll.scroll_y > 0  # scrolled down to the passage
        block = body.passage_blocks[0]
        assert block.region.y >= scroll.region.y and block.region.bottom <= scroll.region.bottom


async def test_open_in_browser_uses_the_canonical_url(make_app, archive, monkeypatch):
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url, *a, **k: opened.append(url) or True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_post(archive["grid"])
        await pilot.pause()
        await pilot.press("b")
        assert opened == ["https://www.lesswrong.com/posts/GridWorldRewardAb/"
                          "reward-hacking-in-small-gridworlds"]


async def test_versions_show_a_unified_diff_and_open_the_old_text(make_app, archive):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.open_post(archive["oversight"])
        await pilot.pause()
        post_screen = app.screen
        assert "version 2 of 2" in str(post_screen.query_one("#post-meta", Static).visual)
        await pilot.press("v")
        await pilot.pause()
        diff = app.screen.query_one("#diff", Static).visual
        assert isinstance(diff, Text) or diff is not None
        plain = str(diff)
        assert "-Debate is one proposal: two copies argue and a judge picks the more convincing" in plain
        assert "+Update: a small pilot with human judges" in plain
        await pilot.press("up", "enter")  # version 1
        await pilot.pause()
        await pilot.pause()
        assert app.screen is post_screen
        assert "Update: a small pilot" not in post_screen.query_one(PostBody).source
        assert "the current version is 2" in str(post_screen.query_one("#post-meta", Static).visual)


@pytest.mark.parametrize("where", ["digest", "post"])
async def test_untrusted_title_is_shown_literally(make_app, archive, store, settings, where):
    if where == "digest":
        (settings.digests_dir / "2025-03-12.md").write_text(
            "# Day\n\n## Key posts\n\n- [bad](https://evil.example/ansi)\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if where == "digest":
            posts = app.screen.query_one("#digest-posts", OptionList)
            rendered = str(posts.get_option_at_index(0).prompt)
        else:
            app.open_post(archive["evil"])
            await pilot.pause()
            rendered = str(app.screen.query_one("#post-title", Static).visual)
            meta = str(app.screen.query_one("#post-meta", Static).visual)
            assert "[i]Mallory[/i]" in meta
            body = app.screen.query_one(PostBody).source
            assert "\x1b" not in body and "[bold]markup[/bold]" in body
        assert "[bold red]x[/]" in rendered
        assert "\x1b" not in rendered and "red alert" in rendered
        assert rendered != EVIL_TITLE
