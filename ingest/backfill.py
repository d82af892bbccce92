"""`kb backfill`: fill the archive with a source's past posts, resumably.

For each source (forum, or a blog whose archive :mod:`ingest.archive_find` finds) the range
``[since, until)`` minus the windows already finished is walked window by window, page by page
(:mod:`ingest.walking`).  Each page is stored together with the window's new position
(:func:`ingest.save.save_page`), so kill -9 at any point and a rerun gives the same archive,
never asks for a finished window again and repeats at most the page that was in flight.

Requests go through the runtime's fetcher, which keeps to one request per host at a time with
``ingest.delay`` between them and retries 429/5xx with backoff.  A window that fails (a
malformed page, GraphQL errors, a server that keeps failing) is reported naming the source and
the window; the walk goes on with the next window, and after ``backfill.max_failures``
failures in a row gives the source up for this run.  ``on_stored`` hears of every page's new
and updated posts, so the caller can index in batches while the rest is still coming.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ingest.pipeline import IngestError, IngestReport
from ingest.save import save_page
from ingest.walking import ArchiveError, NoArchive, Walker
from kb.fetch import Fetcher, FetchError
from kb.progress import Counter, OnProgress
from kb.store import backfill as checkpoints
from kb.store import sources as sources_repo

if TYPE_CHECKING:
    from kb.settings import Settings
    from kb.store.db import Store
    from kb.store.sources import Source

log = logging.getLogger("ingest.backfill")
OnStored = Callable[[list[str]], None]


@dataclass
class BackfillReport:
    """Totals and, per source, what the backfill stored and what failed."""

    since: str
    until: str
    total: IngestReport = field(default_factory=IngestReport)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failures(self) -> list[tuple[str, str]]:
        return self.total.failures

    def line(self) -> str:
        t = self.total
        return (f"backfill: {t.new:,} new, {t.updated:,} updated, {t.errors:,} errors in "
                f"{duration(self.seconds)}")

    def to_json(self) -> dict[str, Any]:
        t = self.total
        return {"new": t.new, "updated": t.updated, "unchanged": t.unchanged, "errors": t.errors,
                "since": self.since, "until": self.until, "seconds": round(self.seconds, 1),
                "sources": self.sources, "post_ids": t.post_ids,
                "failures": [list(f) for f in t.failures], "notes": [list(n) for n in t.notes]}


def duration(seconds: float) -> str:
    """``9m12s``, ``1h03m``, ``42s``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def backfill_sources(store: Store, source: str | None) -> list[Source]:
    """The sources a backfill walks: ``source`` (name, id or URL) or all but pages."""
    if source is not None:
        src = sources_repo.get_source(store, source)
        if src is None:
            raise IngestError(f"no source named {source!r} (see `kb sources list`)")
        return [src]
    sources_repo.ensure_default_sources(store)
    return [s for s in sources_repo.list_sources(store) if s.kind != "page"]


def run_backfill(settings: Settings, store: Store, fetcher: Fetcher, *, since: datetime,
                 until: datetime, source: str | None = None,
                 on_progress: OnProgress | None = None,
                 on_stored: OnStored | None = None) -> BackfillReport:
    """Walk ``[since, until)`` of every source (or of ``source``) and store what it finds."""
    from ingest.archive_find import walker_for

    report = BackfillReport(since=checkpoints.iso(since), until=checkpoints.iso(until))
    t0 = time.monotonic()
    todo = backfill_sources(store, source)
    report.total.attempted = len(todo)
    for src in todo:
        mine = IngestReport(attempted=1)
        entry: dict[str, Any] = {"kind": src.kind}
        report.sources[src.name] = entry
        try:
            walker = walker_for(settings, store, fetcher, src)
            entry["archive"] = walker.kind
            _walk(settings, store, src, walker, since, until, mine, entry, on_progress,
                  on_stored)
        except NoArchive as exc:
            mine.notes.append((src.name, str(exc)))
            entry["archive"] = "none"
        except (FetchError, ArchiveError) as exc:  # the archive could not even be looked at
            mine.fail(src.name, _named(src, str(exc)))
        except Exception as exc:  # one source's failure never ends the run
            log.exception("backfill of %s failed", src.name)
            mine.fail(src.name, _named(src, f"unexpected {exc.__class__.__name__}: {exc}"))
        entry.update(new=mine.new, updated=mine.updated, unchanged=mine.unchanged,
                     errors=mine.errors)
        _merge(report.total, mine)
    report.seconds = time.monotonic() - t0
    return report


def _named(src: Source, msg: str) -> str:
    return msg if msg.startswith(f"source {src.name}") else f"source {src.name}: {msg}"


def _merge(total: IngestReport, part: IngestReport) -> None:
    total.new += part.new
    total.updated += part.updated
    total.unchanged += part.unchanged
    total.errors += part.errors
    seen = set(total.post_ids)
    total.post_ids += [p for p in part.post_ids if p not in seen]
    total.failures += part.failures
    total.notes += part.notes


def _walk(settings: Settings, store: Store, src: Source, walker: Walker, since: datetime,
          until: datetime, report: IngestReport, entry: dict[str, Any],
          on_progress: OnProgress | None, on_stored: OnStored | None) -> None:
    grid = settings.backfill.window_days if walker.grid else None
    windows = checkpoints.plan(store, src.id, since, until, grid_days=grid)
    entry["windows"] = len(windows)
    entry["windows_done"] = 0
    if not windows:
        return
    total: int | None = None
    try:
        total = walker.estimate(checkpoints.parse_iso(windows[0].start),
                                checkpoints.parse_iso(windows[-1].end))
    except (FetchError, ArchiveError, ValueError) as exc:  # only the progress bar needs it
        log.info("source %s: no estimate of the posts to come: %s", src.name, exc)
    step = Counter(on_progress, f"backfill {src.name}", total, "posts")
    failed_in_a_row = 0
    for window in windows:
        try:
            for page, position, done in walker.pages(window):
                report.notes += [(src.name, n) for n in page.notes]
                n_before = len(report.post_ids)

                def checkpoint(conn: sqlite3.Connection, w: checkpoints.Window = window, pos: int = position,
                               last: bool = done, n: int = len(page.records)) -> None:
                    checkpoints.advance(conn, w, position=pos, seen=n, done=last)

                save_page(store, page.records, report, where=src.name, source_id=src.id,
                          label=f"source {src.name}", checkpoint=checkpoint)
                step.advance(page.count or len(page.records), label=window.label)
                fresh = report.post_ids[n_before:]
                if fresh and on_stored is not None:
                    on_stored(fresh)
            entry["windows_done"] += 1
            failed_in_a_row = 0
        except Exception as exc:  # a window's failure never ends the run
            # FetchError, ForumError (a malformed page, GraphQL errors), ArchiveError, or a bug
            known = isinstance(exc, FetchError | ArchiveError | ValueError)
            msg = str(exc) if known else f"unexpected {exc.__class__.__name__}: {exc}"
            if window.label not in msg:
                msg = f"window {window.label}: {msg}"
            report.fail(src.name, _named(src, msg))
            log.warning("%s", _named(src, msg))
            failed_in_a_row += 1
            if failed_in_a_row >= settings.backfill.max_failures:
                report.notes.append((src.name, f"source {src.name}: {failed_in_a_row} windows "
                                               "failed in a row; the rest is left for the next "
                                               "run (`kb backfill` resumes it)"))
                return
