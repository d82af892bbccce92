"""Reading state in the TUI: unread posts are marked in every list of posts, opening a post
marks it read, `s` saves the post under the cursor (or the open post), the Digests screen
counts each day's unread posts; `c` copies the passage or the citation under the cursor."""

from __future__ import annotations

from textual.widgets import Input, Label, OptionList, Static
from tui_fixtures import DIGEST_DAY, GRID_PASSAGE, GRID_TEXT, GRID_URL, OLDER_DAY

from kb.models.fake import FakeLLM
from kb.store import reading
from tui.screens.ask import AskScreen
from tui.screens.digests import DigestsScreen
from tui.screens.post import PostScreen
from tui.screens.search import SearchScreen

SIZE = (110, 32)


async def _pause(pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause()


def _prompts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_digests_count_unread_and_opening_a_post_marks_it_read(make_app, archive, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        assert isinstance(screen, DigestsScreen)
        days = screen.query_one("#day-list", OptionList)
        posts = screen.query_one("#digest-posts", OptionList)
        assert _prompts(days) == [f"{DIGEST_DAY} ●3", f"{OLDER_DAY} ●1"]
        assert all(p.startswith("● ") for p in _prompts(posts))
        assert "3 unread" in str(screen.query_one("#digest-posts-title", Label).visual)
        await pilot.press("enter", "enter")  # to the posts, open the key post
        await _pause(pilot)
        assert isinstance(app.screen, PostScreen)
        assert reading.is_read(store, archive["grid"])
        assert not reading.is_read(store, archive["toy"])
        await pilot.press("escape")
        await _pause(pilot)
        assert app.screen is screen
        labels = _prompts(posts)
        assert not labels[0].startswith("●") and labels[1].startswith("● ")
        assert _prompts(days) == [f"{DIGEST_DAY} ●2", f"{OLDER_DAY} ●1"]
        assert "2 unread" in str(screen.query_one("#digest-posts-title", Label).visual)
        assert posts.highlighted == 0  # the cursor stayed on the post just read
        # read elsewhere (kb posts mark-read): the day without unread posts shows no count
        reading.mark_read(store, [archive["toy"]])
        app.open_post(archive["oversight"])
        await _pause(pilot)
        await pilot.press("escape")
        await _pause(pilot)
        assert _prompts(days) == [DIGEST_DAY, OLDER_DAY]


async def test_s_saves_the_post_under_the_cursor_and_elsewhere_goes_to_search(make_app,
                                                                                archive, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        posts = screen.query_one("#digest-posts", OptionList)
        posts.focus()
        await pilot.press("down", "s")  # the second post: oversight
        await _pause(pilot)
        assert reading.is_saved(store, archive["oversight"])
        assert not reading.is_saved(store, archive["grid"])
        assert "★" in _prompts(posts)[1] and "★" not in _prompts(posts)[0]
        assert posts.highlighted == 1
        await pilot.press("s")  # again: unsaved
        await _pause(pilot)
        assert not reading.is_saved(store, archive["oversight"])
        assert "★" not in _prompts(posts)[1]
        await pilot.press("c")  # the citation of the post under the cursor
        assert "Notes on scalable oversight" in app.clipboard
        assert "https://example-alignment.blog/notes-on-scalable-oversight" in app.clipboard
        screen.query_one("#day-list", OptionList).focus()
        await pilot.press("s")  # not on a post: the app's Search key
        await _pause(pilot)
        assert isinstance(app.screen, SearchScreen)
        assert reading.saved_ids(store) == []


async def test_post_screen_saves_copies_and_marks_unread(make_app, archive, store):
    app = make_app()
    start = GRID_TEXT.index(GRID_PASSAGE)
    end = GRID_TEXT.index("\n", start)
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        app.open_post(archive["grid"], start=start, end=end)
        await _pause(pilot, 5)
        screen = app.screen
        assert isinstance(screen, PostScreen)
        assert reading.is_read(store, archive["grid"])
        await pilot.press("s")
        await _pause(pilot)
        assert reading.is_saved(store, archive["grid"])
        assert "saved" in str(screen.query_one("#post-meta", Static).visual)
        await pilot.press("c")
        assert app.clipboard == GRID_TEXT[start:end]
        assert any("copied the passage" in str(n.message) for n in app._notifications)
        await pilot.press("u")
        assert not reading.is_read(store, archive["grid"])
        await pilot.press("escape")
        await _pause(pilot)
        app.open_post(archive["toy"])  # no passage: `c` copies the citation
        await _pause(pilot, 5)
        await pilot.press("c")
        assert app.clipboard.startswith('Dee Author. "Interpretability of toy transformers."')
        assert app.clipboard.endswith("https://example-alignment.blog/toy-transformers")
        await pilot.press("s", "s")
        assert not reading.is_saved(store, archive["toy"])
        assert reading.saved_ids(store) == [archive["grid"]]


async def test_search_results_marks_save_and_copy(make_app, indexed, store):
    reading.mark_read(store, [indexed["oversight"]])
    app = make_app(start="search", search_mode="keyword")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        screen.query_one("#search-box", Input).value = "proxy judges"
        for _ in range(500):
            await pilot.pause(0.02)
            if screen.hits:
                break
        await pilot.press("enter")  # to the results
        await _pause(pilot)
        results = screen.query_one("#results", OptionList)
        assert results.has_focus
        marks = {h.post_id: p for h, p in zip(screen.hits, _prompts(results), strict=True)}
        assert not marks[indexed["oversight"]].startswith("●")
        assert all(p.startswith("● ") for pid, p in marks.items() if pid != indexed["oversight"])
        hit = screen.hits[results.highlighted or 0]
        await pilot.press("c")
        assert app.clipboard == hit.text.strip()
        await pilot.press("s")
        await _pause(pilot)
        assert reading.saved_ids(store) == [hit.post_id]
        assert "★" in _prompts(results)[results.highlighted or 0]
        await pilot.press("enter")  # opened: read, and marked so back in the list
        await _pause(pilot, 5)
        await pilot.press("escape")
        await _pause(pilot)
        assert not _prompts(results)[results.highlighted or 0].startswith("●")


REPLY = ("Every proxy we tried leaked somewhere, and the agent found the leak first [1]. "
         "Debate may help weak judges a little [2].")
BOTH = "Did every proxy we tried leak somewhere, and does debate help weak judges?"


async def test_ask_sources_copy_the_citation_and_save(make_app, indexed, store):
    app = make_app(llm=FakeLLM([REPLY]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        assert isinstance(screen, AskScreen)
        box = screen.query_one("#question", Input)
        box.value = BOTH
        await pilot.press("enter")
        for _ in range(1500):
            await pilot.pause(0.02)
            if screen.turns:
                break
        await pilot.press("ctrl+o")
        await _pause(pilot)
        await pilot.press("c")
        assert app.clipboard.startswith('Ada Example and Ben Sample. "Reward hacking in small')
        assert app.clipboard.endswith(GRID_URL)
        await pilot.press("s")
        await _pause(pilot)
        assert reading.saved_ids(store) == [indexed["grid"]]
        options = screen.query_one("#ask-sources", OptionList)
        assert "★" in _prompts(options)[0]


async def test_older_days_are_counted_in_a_worker(make_app, archive, monkeypatch):
    monkeypatch.setattr(DigestsScreen, "COUNT_NOW", 1)  # only the newest day at once
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        days = app.screen.query_one("#day-list", OptionList)
        for _ in range(200):
            await pilot.pause(0.02)
            if _prompts(days)[-1] != OLDER_DAY:
                break
        assert _prompts(days) == [f"{DIGEST_DAY} ●3", f"{OLDER_DAY} ●1"]
