"""App-wide conventions: command palette, help, theme, q, keyboard navigation, the Ollama
notice (search still works), stored digests in the format digest/render.py writes."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.widgets import Input, Markdown, OptionList, Static

from tui.app import DARK, LIGHT
from tui.screens.ask import AskScreen
from tui.screens.digests import DigestsScreen
from tui.screens.help import HelpScreen
from tui.screens.search import SearchScreen
from tui.screens.sources import SourcesScreen

SIZE = (110, 32)


async def test_keys_move_between_screens_and_q_quits(make_app, archive):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for key, cls in (("s", SearchScreen), ("a", AskScreen), ("o", SourcesScreen),
                         ("d", DigestsScreen)):
            app.set_focus(None)  # leave any text box so letters are keys
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, cls), key
        await pilot.press("t")
        assert app.theme == LIGHT
        await pilot.press("t")
        assert app.theme == DARK
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_help_shows_the_focused_screens_text_and_keys(make_app, archive):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        texts = " ".join(m.source for m in app.screen.query(Markdown))
        assert "daily digests" in texts and "Ctrl+P" in texts
        assert "Reload" in str(app.screen.query_one("#help-keys", Static).visual)
        await pilot.press("escape")
        await pilot.pause()
        app.open_post(archive["grid"])
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert "Open in browser" in str(app.screen.query_one("#help-keys", Static).visual)
        assert "unified diff" in app.screen.query(Markdown).first().source


async def test_command_palette_lists_every_action_and_runs_them(make_app, archive):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"go to search")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        # the palette knows the actions of other screens too
        from tui.commands import KbCommands

        provider = KbCommands(app.screen)
        names = [name for name, _, _ in provider._commands()]
        for wanted in ("Go to Digests", "Go to Ask", "Go to Sources", "Toggle light/dark theme",
                       "Help for this screen", "Quit", "Run ingest", "Run daily",
                       "Add a source", "New conversation", "Filters"):
            assert wanted in names
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"add a source")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert type(app.screen).__name__ == "AddSourceScreen"


async def test_ollama_unreachable_shows_the_notice_and_search_still_works(make_app, indexed,
                                                                          settings):
    settings.ollama.host = "http://127.0.0.1:9"  # nothing listens there
    settings.ollama.connect_timeout = 1.0
    app = make_app(start="ask")  # no model given: the runtime would build the one of `auto`
    async with app.run_test(size=SIZE) as pilot:
        notice = app.screen.query_one("#ask-notice", Static)
        for _ in range(1500):
            await pilot.pause(0.02)
            if "shown" in notice.classes:
                break
        text = str(notice.visual)
        assert "Ollama is not available" in text  # and what kb does without it
        app.set_focus(None)
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        screen.query_one("#search-box", Input).value = "sensor tile"
        for _ in range(1500):
            await pilot.pause(0.02)
            if screen.hits:
                break
        assert screen.hits[0].title == "Reward hacking in small gridworlds"
    assert not app.runtime.llm_loaded  # telling Ollama is missing loaded no model


async def test_a_digest_stored_by_the_digest_builder(make_app, archive, store):
    from digest.render import render
    from digest.repo import save_digest

    data = {
        "date": "2025-03-12", "timezone": "UTC", "model": "fake@0", "prompt_version": "p1",
        "posts": [
            {"n": 1, "id": archive["toy"], "title": "Interpretability of toy transformers",
             "url": "https://example-alignment.blog/toy-transformers", "authors": ["Dee Author"],
             "source": "blog", "status": "ok", "summary": "A head copies the smallest token."},
            {"n": 2, "id": archive["grid"], "title": "Reward hacking in small gridworlds",
             "url": "https://www.lesswrong.com/posts/GridWorldRewardAb/x", "authors": [],
             "source": "lesswrong", "status": "ok", "summary": "Proxies leak [2]."},
        ],
        "themes": [{"name": "Proxy gaming", "numbers": [2], "summary": ["Proxies leak [2]."],
                    "implications": "Test at scale."}],
        "connections": "", "also_published": [], "updated": [],
    }
    save_digest(store, "2025-03-12", data, render(data), "fake@0", "h", True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        days = app.screen.query_one("#day-list", OptionList)
        assert days.get_option_at_index(0).id == "2025-03-12"
        assert "Proxy gaming" in app.screen.query_one("#digest-md", Markdown).source
        posts = app.screen.query_one("#digest-posts", OptionList)
        labels = [str(posts.get_option_at_index(i).prompt) for i in range(posts.option_count)]
        assert labels == ["● key post  Reward hacking in small gridworlds",  # ● unread
                          "● summary  Interpretability of toy transformers"]


def test_kb_tui_command_is_registered():
    from click.testing import CliRunner

    from kb.cli import cli

    out = CliRunner().invoke(cli, ["tui", "--help"])
    assert out.exit_code == 0
    assert "--screen" in out.output and "--post" in out.output and "--light" in out.output


async def test_open_post_at_start(make_app, archive):
    app = make_app(open_post="https://example-alignment.blog/toy-transformers")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert app.screen.post.id == archive["toy"]
