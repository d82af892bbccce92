"""`kb ingest` and `kb import`."""

from __future__ import annotations

from typing import Any

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

pass_app = click.make_pass_decorator(App)


def _finish(app: App, report: Any, *, no_index: bool, as_json: bool,
            verbose: bool) -> int:
    for _where, note in report.notes if verbose else []:
        err_console.print(f"note: {note}", style="dim", markup=False, highlight=False,
                          soft_wrap=True)
    for _where, message in report.failures:
        err_console.print(f"error: {message}", style="red", markup=False, highlight=False,
                          soft_wrap=True)
    if as_json:
        emit_json(report.to_json())
    else:
        console.print(report.line(), markup=False, highlight=False, soft_wrap=True)
    if not no_index and app.settings.ingest.index and (report.new or report.updated):
        _index(app, progress=not as_json)
    if report.errors == 0:
        return EXIT_OK
    succeeded = report.attempted - len({w for w, _ in report.failures})
    return EXIT_PARTIAL if succeeded > 0 else EXIT_ERROR


def _index(app: App, *, progress: bool) -> None:
    try:
        from kb.index.indexer import run_index
    except ImportError as exc:
        if exc.name and exc.name.startswith("kb.index"):
            err_console.print("indexing skipped: the vector index is not available in this "
                              "build", style="dim")
            return
        raise
    run_index(app.settings, app.store, progress=progress)


@click.command()
@click.option("--source", "source", metavar="N", help="Only this source (name, id or URL).")
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also print non-fatal notes per source.")
@pass_app
def ingest(app: App, source: str | None, no_index: bool, as_json: bool, verbose: bool) -> int:
    """Fetch every source (feeds and pages) and store new and changed posts.

    Prints `N new, M updated, K unchanged, E errors`.  Exit code 3 when some sources failed
    (see `kb sources list` for each error), 1 when all did."""
    from ingest.pipeline import IngestError, run_ingest

    try:
        report = run_ingest(app.settings, app.store, source=source, progress=not as_json)
    except IngestError as exc:
        raise KbError(str(exc)) from exc
    return _finish(app, report, no_index=no_index, as_json=as_json, verbose=verbose)


@click.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@click.option("--no-index", is_flag=True, help="Do not update the search index afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="Also print skipped entries and notes.")
@pass_app
def import_(app: App, paths: tuple[str, ...], no_index: bool, as_json: bool,
            verbose: bool) -> int:
    """Import local archives: Markdown with YAML front matter, LessWrong/AF GraphQL JSON
    (single posts or lists), RSS/Atom files and saved HTML pages.  Directories are walked.

    Running it again adds nothing new; blog copies whose `original_url` points at a known
    LessWrong/AF post merge into that post."""
    from ingest.pipeline import run_import

    report = run_import(app.settings, app.store, list(paths), progress=not as_json)
    if report.notes and not verbose and not as_json:
        err_console.print(f"{len(report.notes)} note(s), e.g. skipped entries; -v shows them",
                          style="dim")
    return _finish(app, report, no_index=no_index, as_json=as_json, verbose=verbose)
