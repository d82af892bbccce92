"""SVG snapshots of every screen at a fixed terminal size, on fixed data (no clock, fixed
dates).  textual is pinned (pyproject test extra) so the rendering is stable; regenerate with
``pytest tests/tui/test_tui_snapshots.py --snapshot-update`` after an intended change."""

from __future__ import annotations

import pytest
from textual.widgets import Input
from tui_fixtures import GRID_PASSAGE, GRID_TEXT

from kb.models.fake import FakeLLM

SIZE = (110, 32)


async def _settle(pilot, until=lambda: True, tries: int = 1500) -> None:
    for _ in range(tries):
        await pilot.pause(0.02)
        if until():
            break
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def test_digests(snap_compare, make_app, archive):
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_digests_light_theme(snap_compare, make_app, archive):
    assert snap_compare(make_app(theme="textual-light"), terminal_size=SIZE)


def test_empty_archive(snap_compare, make_app):
    assert snap_compare(make_app(), terminal_size=SIZE)


def test_post_at_passage(snap_compare, make_app, archive):
    start = GRID_TEXT.index(GRID_PASSAGE)

    async def run_before(pilot) -> None:
        pilot.app.open_post(archive["grid"], start=start, end=start + len(GRID_PASSAGE))
        await _settle(pilot, tries=10)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_post_untrusted_title(snap_compare, make_app, archive):
    async def run_before(pilot) -> None:
        pilot.app.open_post(archive["evil"])
        await _settle(pilot, tries=5)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_versions_diff(snap_compare, make_app, archive):
    async def run_before(pilot) -> None:
        pilot.app.open_post(archive["oversight"])
        await _settle(pilot, tries=5)
        await pilot.press("v")
        await _settle(pilot, tries=5)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_search_results(snap_compare, make_app, indexed):
    async def run_before(pilot) -> None:
        screen = pilot.app.screen
        box = screen.query_one("#search-box", Input)
        box.cursor_blink = False  # else the cursor's blink phase decides the picture
        box.value = "proxy judges"
        await _settle(pilot, lambda: bool(screen.hits))

    app = make_app(start="search", search_mode="keyword")
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_ask_answer(snap_compare, make_app, indexed):
    """Real hybrid retrieval over the indexed fixture archive; the question covers both cited
    posts, so both citations are supported."""
    reply = ("Every proxy the authors tried leaked somewhere, and the agent found the leak "
             "first [1]. Debate may help weak judges a little [2].")
    app = make_app(llm=FakeLLM([reply]), start="ask")

    async def run_before(pilot) -> None:
        screen = pilot.app.screen
        box = screen.query_one("#question", Input)
        box.cursor_blink = False  # the cursor is drawn however long the answer takes
        box.value = "Did every proxy we tried leak somewhere, and does debate help weak judges?"
        await pilot.press("enter")
        await _settle(pilot, lambda: screen.turns == 1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_sources(snap_compare, make_app, store):
    assert snap_compare(make_app(start="sources"), terminal_size=(120, 24))


@pytest.mark.parametrize("start", ["digests", "search"])
def test_help(snap_compare, make_app, archive, start):
    assert snap_compare(make_app(start=start), press=["f1"], terminal_size=SIZE)
