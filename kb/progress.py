"""Progress reports: long jobs call ``on_progress(Progress(...))``; only the faces draw.

The CLI turns these events into Rich progress bars (:mod:`kb.cli.progress`), the TUI into its
progress bar and status line.  Code below the faces never prints a bar.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` items of ``task`` (``total`` None: unknown).  The first event of a
    task announces its total with ``done=0``.  ``label`` names the item just finished (text from
    feeds: show it escaped)."""

    task: str  # "ingest", "chunking", "embedding", "summarizing", ...
    done: int
    total: int | None
    unit: str = ""  # what is counted: "sources", "posts", "chunks"
    label: str = ""


OnProgress = Callable[[Progress], None]


def ignore(_event: Progress) -> None:
    """The ``on_progress`` of a caller that shows no progress."""


class Counter:
    """Counts finished items of one task and reports each step (from any thread)."""

    def __init__(self, on_progress: OnProgress | None, task: str, total: int | None,
                 unit: str = "") -> None:
        self._emit = on_progress or ignore
        self._lock = threading.Lock()
        self.task, self.total, self.unit, self.done = task, total, unit, 0
        self._emit(Progress(task, 0, total, unit))

    def advance(self, n: int = 1, label: str = "") -> None:
        with self._lock:
            self.done += n
            self._emit(Progress(self.task, self.done, self.total, self.unit, label))
