"""`kb backfill`: the past posts of forums and blogs, with progress bars and a summary line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from kb.cli.app import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_USAGE,
    App,
    KbError,
    console,
    emit_json,
    err_console,
)
from kb.cli.complete import complete_sources
from kb.cli.progress import progress_bars

if TYPE_CHECKING:
    from digest.jobs import BackfillOutcome

pass_app = click.make_pass_decorator(App)


def _day(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise KbError(f"{option} {value!r}: expected a date like 2025-03-20", EXIT_USAGE) from None
    return day.replace(tzinfo=UTC)


def _finish(outcome: BackfillOutcome, *, as_json: bool, verbose: bool) -> int:
    report = outcome.backfill
    for _where, note in report.total.notes:
        if verbose or "no reachable archive" in note or "failed in a row" in note:
            err_console.print(f"note: {note}", style="dim", markup=False, highlight=False,
                              soft_wrap=True)
    for _where, message in report.failures:
        err_console.print(f"error: {message}", style="red", markup=False, highlight=False,
                          soft_wrap=True)
    if outcome.index_error:
        err_console.print(f"error: {outcome.index_error}", style="red", markup=False,
                          highlight=False, soft_wrap=True)
    if as_json:
        emit_json(outcome.to_json())
    else:
        console.print(report.line(), markup=False, highlight=False, soft_wrap=True)
    if report.total.errors == 0:
        return EXIT_PARTIAL if outcome.index_error else EXIT_OK
    failed = {w for w, _ in report.failures}
    return EXIT_PARTIAL if len(report.sources) > len(failed) else EXIT_ERROR


@click.command()
@click.option("--since", metavar="YYYY-MM-DD",
              help="From this day (default: backfill.since_days back, one year).")
@click.option("--until", metavar="YYYY-MM-DD", help="Up to and including this day "
                                                    "(default: now).")
@click.option("--source", "source", metavar="N", help="Only this source (name, id or URL).",
              shell_complete=complete_sources)
@click.option("--no-index", is_flag=True, help="Do not index the posts as they arrive.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="Also print non-fatal notes.")
@pass_app
def backfill(app: App, since: str | None, until: str | None, source: str | None,
             no_index: bool, as_json: bool, no_progress: bool, verbose: bool) -> int:
    """Fill the archive with past posts: forums (LessWrong, the Alignment Forum) by date
    window, blogs through their archives (WordPress, Substack, sitemaps).

    Resumable: progress is checkpointed in the archive, so an interrupted run continues where
    it stopped and a finished window is never fetched again; running it twice adds nothing.
    Ends with `backfill: N new, M updated, E errors in 9m12s`.  Exit code 3 when some sources
    failed (see the errors) or indexing failed, 1 when all failed."""
    from digest.jobs import backfill_and_index
    from ingest.pipeline import IngestError

    now = datetime.now(UTC).replace(microsecond=0)
    start = _day(since, "--since") or (now - timedelta(days=app.settings.backfill.since_days)
                                       ).replace(hour=0, minute=0, second=0)
    last = _day(until, "--until")
    end = min(now, last + timedelta(days=1)) if last is not None else now
    if start >= end:
        raise KbError(f"nothing to do: --since {start.date()} is not before the end "
                      f"{end.date()}", EXIT_USAGE)
    rt = app.runtime
    app.store  # noqa: B018 - a store that cannot be opened is a clean error, first
    try:
        with progress_bars(not (as_json or no_progress)) as on_progress:
            outcome = backfill_and_index(rt, since=start, until=end, source=source,
                                         index=False if no_index else None,
                                         on_progress=on_progress)
    except IngestError as exc:
        raise KbError(str(exc)) from exc
    return _finish(outcome, as_json=as_json, verbose=verbose)
