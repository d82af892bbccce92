"""The Search screen over a real store: FTS5 + an in-memory vector index (a deterministic
embedder here; the real ONNX embedder and Chroma on disk in test_tui_real.py), debounce,
filters, Enter → the passage highlighted, the keyword fallback when the vector side fails."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Static

from kb.index.fake import FakeIndex
from kb.index.vector import VectorIndexError
from tui.screens.post import PostScreen
from tui.screens.search import SearchScreen
from tui.widgets.post_body import PostBody

SIZE = (110, 32)


async def _wait_results(pilot, serial_before: int) -> SearchScreen:
    """Wait until the results of the last query are shown and no debounced search is still
    to come (on a slow machine the debounce can fire mid-word: "proxy lea", then "proxy
    leaked")."""
    from tui.screens.search import DEBOUNCE

    screen = pilot.app.screen
    for _ in range(1500):
        await pilot.pause(0.02)
        if screen.serial > serial_before and screen.shown_serial == screen.serial:
            settled = screen.serial
            await pilot.pause(DEBOUNCE * 2)
            if screen.serial == settled and screen.shown_serial == settled:
                break
    await pilot.pause()
    return screen


def _titles(screen: SearchScreen) -> list[str]:
    return [h.title for h in screen.hits]


async def test_typing_searches_after_a_pause_and_enter_opens_the_passage(make_app, indexed):
    app = make_app(start="search")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        assert app.focused is screen.query_one("#search-box", Input)
        await pilot.press(*"proxy leaked")
        # debounce: one search for the whole burst of keystrokes, not one per key
        screen = await _wait_results(pilot, 0)
        assert screen.serial < len("proxy leaked") / 2  # not one search per keystroke
        assert _titles(screen)[0] == "Reward hacking in small gridworlds"
        results = screen.query_one("#results", OptionList)
        assert results.option_count == len(screen.hits) >= 1
        assert "results" in str(screen.query_one("#search-status", Static).visual)
        hit = screen.hits[0]
        await pilot.press("enter")  # query box -> results
        assert app.focused is results
        await pilot.press("enter")  # open the first result
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, PostScreen)
        body = app.screen.query_one(PostBody)
        assert body.passage_blocks, "the matching passage is highlighted"
        assert hit.text.strip().splitlines()[-1][:30] in body.source
        post_text = app.screen.post.text
        passage = post_text[hit.start:hit.end]
        assert " ".join(passage.split()) in " ".join(body.passage_text.split())


async def test_filters_narrow_results_and_bad_dates_are_named(make_app, indexed):
    app = make_app(start="search", search_mode="keyword")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#search-box", Input).value = "debate judges transformer"
        screen = await _wait_results(pilot, 0)
        assert set(_titles(screen)) >= {"Notes on scalable oversight",
                                        "Interpretability of toy transformers"}
        serial = screen.serial
        screen.query_one("#author", Input).value = "cy writer"
        screen = await _wait_results(pilot, serial)
        assert _titles(screen) == ["Notes on scalable oversight"]
        serial = screen.serial
        screen.query_one("#author", Input).value = ""
        screen.query_one("#since", Input).value = "2025-03-12"
        screen = await _wait_results(pilot, serial)
        assert _titles(screen) == []
        serial = screen.serial
        screen.query_one("#since", Input).value = "last week"
        for _ in range(1500):
            await pilot.pause(0.02)
            status = str(screen.query_one("#search-status", Static).visual)
            if "not a date" in status:
                break
        assert "since" in status and "not a date" in status


async def test_markup_in_results_is_literal(make_app, indexed):
    app = make_app(start="search", search_mode="keyword")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#search-box", Input).value = "escape codes literally"
        screen = await _wait_results(pilot, 0)
        prompt = str(screen.query_one("#results", OptionList).get_option_at_index(0).prompt)
        assert "[bold red]x[/]" in prompt and "\x1b" not in prompt
        assert "[bold]markup[/bold]" in prompt


class BrokenIndex(FakeIndex):
    """A vector index that cannot be queried (e.g. a damaged Chroma directory)."""

    def query(self, embedding, k, where=None):
        raise VectorIndexError("vector index: cannot open the collection (damaged)")


async def test_hybrid_falls_back_to_keywords_with_a_note(make_app, settings, store, indexed,
                                                         embedder):
    from kb.runtime import Runtime

    runtime = Runtime(settings, store=store, embedder=embedder,
                      index=BrokenIndex(embedder.model_id, embedder.dim))
    app = make_app(runtime=runtime, start="search")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#search-box", Input).value = "sensor tile"
        screen = await _wait_results(pilot, 0)
        assert _titles(screen)[0] == "Reward hacking in small gridworlds"
        status = str(screen.query_one("#search-status", Static).visual)
        assert "hybrid search unavailable" in status and "damaged" in status
        assert "showing keyword results" in status
