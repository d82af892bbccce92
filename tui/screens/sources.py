"""Sources: what kb follows, the last fetch status and error; run ingest or daily; add one.

Ingest and daily run in thread workers through :mod:`digest.jobs` (the same jobs as `kb ingest`
and `kb daily`); their progress events and messages are posted back to the screen, which draws
them as a progress bar and a status line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static
from textual.worker import Worker, WorkerState

from kb.store import backfill as backfill_repo
from kb.store import sources as sources_repo
from tui.safe import clean, one_line
from tui.screens.base import KbScreen

if TYPE_CHECKING:
    from digest.jobs import IngestOutcome
    from kb.progress import Progress

COLUMNS = ("name", "kind", "url", "last fetch", "status", "backfill", "error")


def backfill_state(summary: dict[str, Any] | None) -> str:
    """A source's `kb backfill` checkpoint in a few words (see kb.store.backfill.summary)."""
    if summary is None:
        return "never"
    done, open_ = int(summary["windows_done"]), int(summary["windows_open"])
    span = ""
    if summary["done_from"] and summary["done_until"]:
        span = f"{str(summary['done_from'])[:10]}..{str(summary['done_until'])[:10]}"
    if not open_:
        return f"done {span}".strip()
    return f"{done}/{done + open_} windows" + (f" ({span})" if span else "")


def progress_line(event: Progress) -> str:
    """``ingest 2/5 sources · name`` (the label is feed text: shown literally by the caller)."""
    count = f"{event.done}/{event.total}" if event.total else str(event.done or "")
    line = " ".join(part for part in (event.task, count, event.unit) if part)
    return f"{line} · {event.label}" if event.label else line


def ingest_summary(outcome: IngestOutcome) -> str:
    """What an ingest did, then the first failures (each names its source)."""
    lines = [f"ingest finished: {outcome.ingest.line()}"]
    lines += [one_line(message) for _where, message in outcome.ingest.failures[:5]]
    if outcome.index_error:
        lines.append(one_line(outcome.index_error))
    return "\n".join(lines)


class SourcesScreen(KbScreen):
    TITLE_TEXT = "Sources"
    HELP = (
        "The feeds and pages kb follows: each one's kind, when it was last fetched, its status, "
        "how far `kb backfill` walked its history, and the last error.\n\n"
        "`i` runs ingest for every source in the background (`Enter` on a row: only that "
        "source); `y` runs the whole daily job (ingest, index, summaries, digest). A progress "
        "bar shows how far it got; you can keep reading meanwhile. `n` adds a source (a feed "
        "URL, a page to watch, or a local path). `x` removes the source under the cursor, after "
        "you confirm (its posts stay in the archive). `r` reloads the table."
    )
    BINDINGS = [
        Binding("i", "ingest", "Run ingest"),
        Binding("y", "daily", "Run daily"),
        Binding("n", "add_source", "Add source"),
        Binding("x", "remove_source", "Remove source"),
        Binding("delete", "remove_source", "Remove source", show=False),
        Binding("r", "refresh", "Reload"),
    ]

    class JobProgress(Message):
        """A progress event of the running job."""

        def __init__(self, event: Progress) -> None:
            super().__init__()
            self.event = event

    class JobLine(Message):
        """A line the running job reports (daily's warnings and results)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sources-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="job"):
            yield ProgressBar(id="job-progress", show_eta=False)
            yield Static("Press i to run ingest, y to run daily, n to add a source.",
                         id="job-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Sources"
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        sources_repo.ensure_default_sources(self.runtime.store)
        self.action_refresh()
        table.focus()

    def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        store = self.runtime.store
        for s in sources_repo.list_sources(store):
            status_style = {"error": "bold red", "ok": "green"}.get(s.last_status or "", "")
            table.add_row(
                Text(one_line(s.name)), Text(s.kind), Text(one_line(s.url)),
                Text((s.last_fetched_at or "never").replace("T", " ").rstrip("Z")),
                Text(one_line(s.last_status or ""), style=status_style),
                Text(backfill_state(backfill_repo.summary(store, s.id)), style="dim"),
                Text(one_line(s.last_error or "")[:200], style="red"),
                key=str(s.id),
            )

    # --- background jobs --------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return any(w.group == "job" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                   for w in self.workers)

    def _start(self, label: str) -> bool:
        if self.busy:
            self.notify("a job is already running; wait for it to finish", severity="warning")
            return False
        bar = self.query_one("#job-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.add_class("running")
        self.query_one("#job-status", Static).update(Text(label))
        return True

    def action_ingest(self, source: str | None = None) -> None:
        if self._start(f"ingest {'of ' + source if source else 'of every source'}…"):
            self._ingest(source)

    @on(DataTable.RowSelected)
    def _row(self, event: DataTable.RowSelected) -> None:
        src = sources_repo.get_source(self.runtime.store, str(event.row_key.value))
        if src is not None:
            self.action_ingest(src.name)

    def action_daily(self) -> None:
        if self._start("daily: ingest, index, summaries, digest…"):
            self._daily()

    def _post_progress(self, event: Progress) -> None:
        """``on_progress`` of the jobs (called in the worker thread)."""
        self.post_message(self.JobProgress(event))

    @work(thread=True, exclusive=False, group="job")
    def _ingest(self, only: str | None) -> str:
        from digest.jobs import ingest_and_index

        outcome = ingest_and_index(self.runtime, source=only, on_progress=self._post_progress)
        return ingest_summary(outcome)

    @work(thread=True, exclusive=False, group="job")
    def _daily(self) -> str:
        from digest.jobs import run_daily

        def echo(line: str) -> None:
            self.post_message(self.JobLine(line))

        code = run_daily(self.runtime, echo=echo, on_progress=self._post_progress)
        meaning = {0: "finished", 3: "finished with some failures (see the sources table)",
                   75: "skipped: another kb daily is running"}
        return f"daily {meaning.get(code, f'failed (exit code {code})')}"

    @on(JobProgress)
    def _progress(self, message: JobProgress) -> None:
        event = message.event
        self.query_one("#job-progress", ProgressBar).update(total=event.total,
                                                            progress=event.done)
        self.query_one("#job-status", Static).update(Text(one_line(progress_line(event))))
        if event.task == "ingest":  # a source was fetched: its status changed
            self.action_refresh()

    @on(JobLine)
    def _line(self, message: JobLine) -> None:
        if message.text.strip():
            self.query_one("#job-status", Static).update(Text(one_line(message.text)))

    @on(Worker.StateChanged)
    def _job_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "job" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.query_one("#job-progress", ProgressBar).remove_class("running")
        if event.state == WorkerState.SUCCESS:
            text = Text(clean(event.worker.result or "done"))
        else:
            text = Text(f"failed: {one_line(event.worker.error)}", style="red")
        self.query_one("#job-status", Static).update(text)
        self.action_refresh()

    # --- add a source -----------------------------------------------------------------------
    def action_add_source(self) -> None:
        from tui.screens.add_source import AddSourceScreen

        def added(name: str | None) -> None:
            if name:
                self.action_refresh()
                self.notify(f"added source {name}", markup=False)

        self.app.push_screen(AddSourceScreen(), added)

    # --- remove a source --------------------------------------------------------------------
    def action_remove_source(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return
        if self.busy:
            self.notify("a job is running; remove the source when it has finished",
                        severity="warning")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        src = sources_repo.get_source(self.runtime.store, int(str(key)))
        if src is None:
            self.action_refresh()
            return
        from tui.screens.confirm import ConfirmScreen

        question = Text("Stop following ")
        question.append(one_line(src.name), style="bold")
        question.append(f" ({src.kind}, {one_line(src.url)})?\n\n")
        question.append("Its posts stay in the archive, in search and in past digests.",
                        style="dim")

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                removed = sources_repo.remove_source(self.runtime.store, src.name)
            except sources_repo.SourceError as exc:
                self.notify(one_line(exc), markup=False, severity="error")
                return
            self.action_refresh()
            self.notify(f"removed source {one_line(removed.name)} (its posts stay)",
                        markup=False)

        self.app.push_screen(ConfirmScreen(question, yes="Remove", title="Remove a source"),
                             answered)
