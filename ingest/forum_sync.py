"""`kb ingest` of a forum source: everything posted since its last window, not "the latest N".

Each run asks for the window from where the previous one ended — minus
``forum.overlap_hours`` (``forum.karma_lookback_hours`` for a source with a karma minimum,
whose posts reach it late) — up to now, so no day has a gap however rarely kb runs.  A long
gap is walked in ``backfill.window_days`` windows; the end of each completed window is
recorded with its last page, so a run that fails or is killed resumes there.  Posts seen
again are unchanged unless their text was edited, which makes a new version.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ingest.forum import ForumError, ForumWalker
from ingest.save import save_page
from kb.fetch import Fetcher, FetchError
from kb.store import sources as sources_repo
from kb.store.backfill import Window, iso, parse_iso, split_on_grid

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport
    from kb.settings import Settings
    from kb.store.db import Store
    from kb.store.sources import Source


def window_start(settings: Settings, src: Source, now: datetime) -> datetime:
    """Where the next window of ``src`` starts."""
    if not src.window_until:
        return now - timedelta(days=settings.forum.first_days)
    reach = settings.forum.karma_lookback_hours if src.min_karma else \
        settings.forum.overlap_hours
    return parse_iso(src.window_until) - timedelta(hours=reach)


def sync_forum(settings: Settings, store: Store, fetcher: Fetcher, src: Source,
               report: IngestReport, *, now: datetime | None = None) -> None:
    """Store the posts of ``src`` since its last window; errors name the source and window
    and go to ``report`` and the source's status."""
    end = (now or datetime.now(UTC)).replace(microsecond=0)
    walker = ForumWalker(fetcher, src.name, src.url, settings.backfill.page_size,
                         min_karma=src.min_karma, tags=src.tags)
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    errors_before = report.errors
    start = min(window_start(settings, src, end),
                end - timedelta(hours=settings.forum.overlap_hours))  # even after a clock jump
    spans = split_on_grid((start, end), settings.backfill.window_days)
    try:
        for s, e in spans:
            window = Window(id=0, source_id=src.id, start=iso(s), end=iso(e))
            for page, _position, done in walker.pages(window):
                report.notes += [(src.name, n) for n in page.notes]

                def checkpoint(conn: sqlite3.Connection, w: Window = window,
                               last: bool = done) -> None:
                    if last:
                        sources_repo.set_window_until(conn, src.id, w.end)

                got = save_page(store, page.records, report, where=src.name, source_id=src.id,
                                label=f"source {src.name}", checkpoint=checkpoint)
                for k, v in got.items():
                    counts[k] += v
    except (ForumError, FetchError) as exc:
        msg = str(exc)
        if not msg.startswith(f"source {src.name}"):
            msg = f"source {src.name}: {msg}"
        report.fail(src.name, msg)
        sources_repo.record_fetch(store, src.id, status="error", error=msg, counts=counts)
        return
    failed = report.errors - errors_before
    sources_repo.record_fetch(
        store, src.id, status="ok" if not failed else "error",
        error=f"{failed} item(s) could not be stored" if failed else None, counts=counts)
