"""The Sources screen shows each source's kind, last fetch and backfill state, and removes a
source after a confirmation (its posts stay in the archive)."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.widgets import DataTable

from kb.store import backfill as backfill_repo
from kb.store import sources as sources_repo
from tui.screens.confirm import ConfirmScreen
from tui.screens.sources import COLUMNS, SourcesScreen, backfill_state

SIZE = (140, 30)


def _setup(store) -> None:
    sources_repo.ensure_default_sources(store)
    for s in sources_repo.list_sources(store):
        sources_repo.remove_source(store, s.name)
    sources_repo.add_source(store, "https://notes.example/feed.xml", name="notes", kind="feed")
    forum = sources_repo.add_source(store, "https://forum.example/graphql", name="forum",
                                    kind="forum")
    sources_repo.record_fetch(store, forum.id, status="ok")
    # three windows on the 30-day grid: the first walked, the second half way
    windows = backfill_repo.plan(store, forum.id, datetime(2025, 1, 1, tzinfo=UTC),
                                 datetime(2025, 2, 15, tzinfo=UTC), grid_days=30)
    assert len(windows) == 3
    with store.tx() as conn:
        backfill_repo.advance(conn, windows[0], position=3, seen=40, done=True)
        backfill_repo.advance(conn, windows[1], position=1, seen=10, done=False)


def _row(table: DataTable, name: str) -> dict[str, str]:
    for i in range(table.row_count):
        cells = [str(c) for c in table.get_row_at(i)]
        if cells[0] == name:
            return dict(zip(COLUMNS, cells, strict=True))
    raise AssertionError(f"no row {name}")


async def _pause(pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause()


async def test_sources_table_shows_kind_last_fetch_and_backfill(make_app, store):
    _setup(store)
    app = make_app(start="sources")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        table = app.screen.query_one(DataTable)
        notes, forum = _row(table, "notes"), _row(table, "forum")
        assert notes["kind"] == "feed" and forum["kind"] == "forum"
        assert notes["last fetch"] == "never" and forum["last fetch"][:2] == "20"
        assert notes["backfill"] == "never"
        assert forum["backfill"].startswith("1/3 windows (2025-01-01..2025-01-12")


def test_backfill_state_words():
    assert backfill_state(None) == "never"
    done = {"windows_done": 2, "windows_open": 0, "posts_seen": 9, "current": None,
            "done_from": "2024-12-02T00:00:00Z", "done_until": "2025-01-31T00:00:00Z"}
    assert backfill_state(done) == "done 2024-12-02..2025-01-31"
    partial = dict(done, windows_open=3)
    assert backfill_state(partial) == "2/5 windows (2024-12-02..2025-01-31)"


async def test_remove_a_source_after_confirming(make_app, store, archive):
    _setup(store)
    app = make_app(start="sources")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        assert isinstance(screen, SourcesScreen)
        table = screen.query_one(DataTable)
        table.move_cursor(row=[str(c) for c in table.get_column_at(0)].index("forum"))
        # cancelled: nothing removed
        await pilot.press("x")
        await _pause(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "forum" in str(app.screen.question)
        await pilot.press("escape")
        await _pause(pilot)
        assert app.screen is screen
        assert sources_repo.get_source(store, "forum") is not None
        # Enter on the focused button is Cancel: never removes by accident
        await pilot.press("x")
        await _pause(pilot)
        await pilot.press("enter")
        await _pause(pilot)
        assert sources_repo.get_source(store, "forum") is not None
        # confirmed with y
        await pilot.press("x")
        await _pause(pilot)
        await pilot.press("y")
        await _pause(pilot)
        assert app.screen is screen
        assert sources_repo.get_source(store, "forum") is None
        assert sources_repo.get_source(store, "notes") is not None
        names = [str(c) for c in table.get_column_at(0)]
        assert names == ["notes"]
        assert any("removed source forum" in str(n.message) for n in app._notifications)
    from kb.store.posts import get_post

    assert get_post(store, archive["grid"], with_text=False) is not None  # posts stay
