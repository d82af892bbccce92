"""The CLI's one progress display: :class:`kb.progress.Progress` events as Rich bars on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kb.progress import OnProgress, Progress, ignore

if TYPE_CHECKING:
    from rich.progress import Task
    from rich.text import Text


MIN_RATE_SECONDS = 1.0  # a rate over less time than this says nothing: none is shown


def rate_text(done: float, elapsed: float | None, speed: float | None, unit: str,
              finished: bool = False) -> str:
    """A bar's rate ("16.2 chunks/s"), once the task has run for :data:`MIN_RATE_SECONDS`
    (eight cached summaries done in 60 µs are not "131928.6 posts/s"); else nothing.  While it
    runs, rich's recent ``speed``; once finished, the whole task's average (six sources failing
    at once at the end are not "41.3 sources/s" for a run of eight in a second)."""
    if not elapsed or elapsed < MIN_RATE_SECONDS:
        return ""
    return f"{(None if finished else speed) or done / elapsed:.1f} {unit}/s"


@contextmanager
def progress_bars(enabled: bool = True) -> Iterator[OnProgress]:
    """Yields an ``on_progress`` that draws one bar per task (with its rate, e.g. "16.2
    chunks/s", and the item just done); a no-op when not ``enabled`` (--json, cron)."""
    if not enabled:
        yield ignore
        return
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as Bars
    from rich.text import Text

    from kb.cli.app import err_console, inert

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(rate_text(task.completed, task.elapsed, task.speed,
                                  task.fields.get("unit") or "items", task.finished),
                        style="dim")

    bars = Bars(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                TimeRemainingColumn(), TextColumn("[dim]{task.fields[label]}"),
                console=err_console, transient=False)
    tasks: dict[str, TaskID] = {}

    def on_progress(event: Progress) -> None:
        if event.task not in tasks:
            if not event.total:
                return  # nothing to count: no bar
            tasks[event.task] = bars.add_task(event.task, total=event.total, unit=event.unit,
                                              label="")
        bars.update(tasks[event.task], completed=event.done, total=event.total,
                    label=escape(inert(" ".join(event.label.split())[:60])))

    with bars:
        yield on_progress
