"""The Sources screen: the table with status and error, ingest in a background worker with a
progress bar (a real local feed file through the real ingest pipeline), adding a source."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input, ProgressBar, Static

from kb.store import posts as posts_repo
from kb.store import sources as sources_repo
from tui.screens import sources as sources_screen
from tui.screens.add_source import AddSourceScreen
from tui.screens.sources import SourcesScreen

SIZE = (120, 30)

FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
<title>Test alignment notes</title><link>https://notes.example/</link>
<description>fixture</description>
<item><title>Corrigibility as a training target</title>
<link>https://notes.example/corrigibility</link>
<guid>https://notes.example/corrigibility</guid>
<pubDate>Tue, 11 Mar 2025 09:00:00 +0000</pubDate>
<description>&lt;p&gt;We ask whether an agent can be trained to accept correction.&lt;/p&gt;</description>
</item>
<item><title>A note on [bold]markup[/bold] in titles</title>
<link>https://notes.example/markup</link>
<guid>https://notes.example/markup</guid>
<pubDate>Tue, 11 Mar 2025 10:00:00 +0000</pubDate>
<description>&lt;p&gt;Titles are untrusted text.&lt;/p&gt;</description>
</item>
</channel></rss>
"""


def _only_local_sources(store, tmp_path: Path) -> tuple[str, Path]:
    """Mark defaults as added, then track one local feed and one missing file."""
    sources_repo.ensure_default_sources(store)
    for s in sources_repo.list_sources(store):
        sources_repo.remove_source(store, s.name)
    feed = tmp_path / "feed.xml"
    feed.write_text(FEED, encoding="utf-8")
    sources_repo.add_source(store, str(feed), name="local-notes", kind="feed")
    sources_repo.add_source(store, str(tmp_path / "missing.xml"), name="[red]gone[/red]",
                            kind="feed")
    return "local-notes", feed


def _cells(table: DataTable, row: int) -> list[str]:
    return [str(c) for c in table.get_row_at(row)]


async def _wait_job(pilot, screen) -> None:
    for _ in range(3000):
        await pilot.pause(0.02)
        if not screen.busy:
            break
    await pilot.pause()


async def test_ingest_runs_in_the_background_and_the_table_shows_status(make_app, settings,
                                                                         store, tmp_path,
                                                                         monkeypatch):
    settings.ingest.index = False
    _only_local_sources(store, tmp_path)
    drawn: list[str] = []  # the status lines drawn from the job's progress events

    progress_line = sources_screen.progress_line

    def spy(event):
        drawn.append(progress_line(event))
        return drawn[-1]

    monkeypatch.setattr(sources_screen, "progress_line", spy)
    app = make_app(start="sources")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SourcesScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 2
        assert _cells(table, 0)[:2] == ["local-notes", "feed"]
        assert _cells(table, 0)[3] == "never"
        assert _cells(table, 1)[0] == "[red]gone[/red]"  # literal, not markup
        await pilot.press("i")
        await pilot.pause()
        bar = screen.query_one("#job-progress", ProgressBar)
        assert "running" in bar.classes or not screen.busy
        await _wait_job(pilot, screen)
        assert "running" not in bar.classes
        status = str(screen.query_one("#job-status", Static).visual)
        assert status.startswith("ingest finished: 2 new")
        assert "missing.xml" in status  # the failing source is named
        ok, bad = _cells(table, 0), _cells(table, 1)
        assert ok[4] == "ok" and ok[3] != "never"
        assert bad[4] == "error" and "missing.xml" in bad[6]
    # one line per event: the total first, then each source as it finishes (in any order)
    assert drawn[0] == "ingest 0/2 sources"
    assert [line.split(" · ")[0] for line in drawn[1:]] == ["ingest 1/2 sources",
                                                           "ingest 2/2 sources"]
    assert sorted(line.split(" · ")[1] for line in drawn[1:]) == ["[red]gone[/red]",
                                                                 "local-notes"]
    titles = {p.title for p in posts_repo.list_posts(store)}
    assert titles == {"Corrigibility as a training target", "A note on [bold]markup[/bold] in titles"}


async def test_enter_on_a_row_ingests_only_that_source(make_app, settings, store, tmp_path):
    settings.ingest.index = False
    _only_local_sources(store, tmp_path)
    app = make_app(start="sources")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("enter")  # the cursor is on local-notes
        await pilot.pause()
        await _wait_job(pilot, screen)
        status = str(screen.query_one("#job-status", Static).visual)
        assert status.startswith("ingest finished: 2 new") and "missing" not in status
        assert _cells(screen.query_one(DataTable), 1)[3] == "never"


async def test_add_a_source_with_the_form(make_app, store, tmp_path):
    _only_local_sources(store, tmp_path)
    app = make_app(start="sources")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, AddSourceScreen)
        # a duplicate is refused with the reason, the form stays open
        app.screen.query_one("#add-url", Input).value = str(tmp_path / "feed.xml")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, AddSourceScreen)
        assert "already tracked" in str(app.screen.query_one("#add-source-error", Static).visual)
        app.screen.query_one("#add-url", Input).value = "https://blog.example/feed.xml"
        app.screen.query_one("#add-name", Input).value = "example-blog"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SourcesScreen)
        table = app.screen.query_one(DataTable)
        assert [_cells(table, i)[0] for i in range(table.row_count)][-1] == "example-blog"
    assert sources_repo.get_source(store, "example-blog").url == "https://blog.example/feed.xml"


async def test_daily_runs_in_the_background_and_writes_todays_digest(make_app, settings, store,
                                                                     tmp_path):
    """`y` runs the whole daily job (ingest, index, summaries, digest) in a worker: the real
    pipeline on a local feed of today's posts, a scripted model, a deterministic embedder and
    an in-memory vector index."""
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from digest_fakes import fake_llm

    from digest.repo import get_digest

    now = datetime.now(UTC)
    when = format_datetime(max(now - timedelta(minutes=5),
                               now.replace(hour=0, minute=1, second=0, microsecond=0)))
    sources_repo.ensure_default_sources(store)
    for s in sources_repo.list_sources(store):
        sources_repo.remove_source(store, s.name)
    feed = tmp_path / "today.xml"
    feed.write_text(FEED.replace("Tue, 11 Mar 2025 09:00:00 +0000", when)
                    .replace("Tue, 11 Mar 2025 10:00:00 +0000", when), encoding="utf-8")
    sources_repo.add_source(store, str(feed), name="local-notes", kind="feed")
    app = make_app(start="sources", llm=fake_llm())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        await pilot.press("y")
        await pilot.pause()
        await _wait_job(pilot, screen)
        status = str(screen.query_one("#job-status", Static).visual)
        assert status == "daily finished", status
        assert _cells(screen.query_one(DataTable), 0)[4] == "ok"
    digest = get_digest(store, now.date().isoformat())
    assert digest is not None and "Corrigibility as a training target" in digest.markdown
