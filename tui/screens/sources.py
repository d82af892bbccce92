"""Sources: what kb follows, the last fetch status and error; run ingest or daily; add one."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, ProgressBar, Static
from textual.worker import Worker, WorkerState

from kb.store import sources as sources_repo
from tui.safe import one_line

COLUMNS = ("name", "kind", "url", "last fetch", "status", "error")


class SourcesScreen(Screen[None]):
    TITLE_TEXT = "Sources"
    HELP = (
        "The feeds and pages kb follows, with when each was last fetched, its status and the "
        "last error.\n\n"
        "`i` runs ingest for every source in the background (`Enter` on a row: only that "
        "source); `y` runs the whole daily job (ingest, index, summaries, digest). A progress "
        "bar shows how far it got; you can keep reading meanwhile. `n` adds a source (a feed "
        "URL, a page to watch, or a local path). `r` reloads the table."
    )
    BINDINGS = [
        Binding("i", "ingest", "Run ingest"),
        Binding("y", "daily", "Run daily"),
        Binding("n", "add_source", "Add source"),
        Binding("r", "refresh", "Reload"),
    ]

    class Progress(Message):
        def __init__(self, done: int, total: int | None, label: str) -> None:
            super().__init__()
            self.done, self.total, self.label = done, total, label

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="sources-table", cursor_type="row", zebra_stripes=True)
        with Vertical(id="job"):
            yield ProgressBar(id="job-progress", show_eta=False)
            yield Static("Press i to run ingest, y to run daily, n to add a source.",
                         id="job-status")
        yield Footer()

    @property
    def _app(self) -> Any:
        return self.app

    def on_mount(self) -> None:
        self.sub_title = "Sources"
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        sources_repo.ensure_default_sources(self._app.store)
        self.action_refresh()
        table.focus()

    def action_refresh(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for s in sources_repo.list_sources(self._app.store):
            status_style = {"error": "bold red", "ok": "green"}.get(s.last_status or "", "")
            table.add_row(
                Text(one_line(s.name)), Text(s.kind), Text(one_line(s.url)),
                Text((s.last_fetched_at or "never").replace("T", " ").rstrip("Z")),
                Text(one_line(s.last_status or ""), style=status_style),
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
        src = sources_repo.get_source(self._app.store, str(event.row_key.value))
        if src is not None:
            self.action_ingest(src.name)

    def action_daily(self) -> None:
        if self._start("daily: ingest, index, summaries, digest…"):
            self._daily()

    @work(thread=True, exclusive=False, group="job")
    def _ingest(self, only: str | None) -> str:
        from ingest.pipeline import run_ingest

        app = self._app
        names = [only] if only else [s.name for s in sources_repo.list_sources(app.store)]
        totals = {"new": 0, "updated": 0, "unchanged": 0, "errors": 0}
        failures: list[str] = []
        for i, name in enumerate(names):
            self.post_message(self.Progress(i, len(names), f"ingesting {name} ({i + 1}/{len(names)})"))
            try:
                report = run_ingest(app.settings, app.store, source=name, progress=False)
            except Exception as exc:
                totals["errors"] += 1
                failures.append(f"{name}: {exc}")
                continue
            for key in totals:
                totals[key] += int(getattr(report, key, 0) or 0)
            failures += [f"{s}: {m}" for s, m in getattr(report, "failures", [])]
        changed = totals["new"] + totals["updated"]
        if changed and app.settings.ingest.index:
            self.post_message(self.Progress(len(names), len(names) + 1,
                                            f"indexing {changed} new or updated posts"))
            try:
                from kb.index.indexer import run_index

                run_index(app.settings, app.store, progress=False)
            except Exception as exc:  # the posts are stored; `kb index` can finish later
                failures.append(f"index: {exc} (run `kb index` to retry)")
        self.post_message(self.Progress(1, 1, "done"))
        summary = ", ".join(f"{v} {k}" for k, v in totals.items())
        return "ingest finished: " + summary + ("\n" + "\n".join(failures[:5]) if failures else "")

    @work(thread=True, exclusive=False, group="job")
    def _daily(self) -> str:
        from digest.daily import run_daily

        app = self._app

        def echo(line: str) -> None:
            self.post_message(self.Progress(0, None, line))

        code = run_daily(app.settings, progress=False, echo=echo, store=app.store, llm=app.llm)
        meaning = {0: "finished", 3: "finished with some failures (see the sources table)",
                   75: "skipped: another kb daily is running"}
        return f"daily {meaning.get(code, f'failed (exit code {code})')}"

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        bar = self.query_one("#job-progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        self.query_one("#job-status", Static).update(Text(one_line(message.label)))
        self.action_refresh()

    @on(Worker.StateChanged)
    def _job_done(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "job" or event.state not in (
                WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            return
        self.query_one("#job-progress", ProgressBar).remove_class("running")
        if event.state == WorkerState.SUCCESS:
            text = Text(str(event.worker.result or "done"))
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
