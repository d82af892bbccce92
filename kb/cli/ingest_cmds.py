"""`kb ingest` and `kb import`: the jobs of :mod:`digest.jobs`, with bars and a summary line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kb.cli.app import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_PARTIAL,
    App,
    KbError,
    console,
    emit_json,
    err_console,
)
from kb.cli.complete import complete_sources
from kb.cli.progress import progress_bars

if TYPE_CHECKING:
    from digest.jobs import IngestOutcome

pass_app = click.make_pass_decorator(App)


def _finish(outcome: IngestOutcome, *, as_json: bool, verbose: bool) -> int:
    report = outcome.ingest
    for _where, note in report.notes if verbose else []:
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
    if report.errors == 0:
        return EXIT_PARTIAL if outcome.index_error else EXIT_OK
    succeeded = report.attempted - len({w for w, _ in report.failures})
    return EXIT_PARTIAL if succeeded > 0 else EXIT_ERROR


@click.command()
@click.option("--source", "source", metavar="N", help="Only this source (name, id or URL).",
              shell_complete=complete_sources)
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True,
              help="No progress bars, even on a terminal (the output is otherwise the same).")
@click.option("-v", "--verbose", is_flag=True, help="Also print non-fatal notes per source.")
@pass_app
def ingest(app: App, source: str | None, no_index: bool, as_json: bool, no_progress: bool,
           verbose: bool) -> int:
    """Fetch every source (feeds, pages and forums) and store new and changed posts.

    Prints `N new, M updated, K unchanged, E errors`.  Exit code 3 when some sources failed
    (see `kb sources list` for each error) or indexing failed, 1 when all sources failed."""
    from digest.jobs import ingest_and_index
    from ingest.pipeline import IngestError

    rt = app.runtime
    app.store  # noqa: B018 - a store that cannot be opened is a clean error, first
    try:
        with progress_bars(not (as_json or no_progress)) as on_progress:
            outcome = ingest_and_index(rt, source=source, index=False if no_index else None,
                                       on_progress=on_progress)
    except IngestError as exc:
        raise KbError(str(exc)) from exc
    return _finish(outcome, as_json=as_json, verbose=verbose)


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("-v", "--verbose", is_flag=True, help="Also print skipped entries and notes.")
@pass_app
def import_(app: App, paths: tuple[str, ...], no_index: bool, as_json: bool, no_progress: bool,
            verbose: bool) -> int:
    """Import local archives: Markdown with YAML front matter, LessWrong/AF GraphQL JSON
    (single posts or lists), RSS/Atom files and saved HTML pages.  Directories are walked.

    Running it again adds nothing new; blog copies whose `original_url` points at a known
    LessWrong/AF post merge into that post."""
    from digest.jobs import import_and_index

    rt = app.runtime
    app.store  # noqa: B018
    with progress_bars(not (as_json or no_progress)) as on_progress:
        outcome = import_and_index(rt, list(paths), index=False if no_index else None,
                                   on_progress=on_progress)
    notes = outcome.ingest.notes
    if notes and not verbose and not as_json:
        err_console.print(f"{len(notes)} note(s), e.g. skipped entries; -v shows them",
                          style="dim")
    return _finish(outcome, as_json=as_json, verbose=verbose)
