"""What `kb backfill` walks: a source's archive, one window at a time, page by page.

A :class:`Walker` yields ``(page, position, done)`` for a window from its stored position on:
the page's posts, the window's position once they are stored, and whether the window is then
complete.  The backfill stores each page with that position in one transaction
(:func:`ingest.save.save_page`), so the walker itself keeps no state.  ``grid`` walkers
(ordered by date: forums, WordPress) get windows of ``backfill.window_days``; the others
(Substack's archive, sitemaps) one window spanning the range asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from kb.store.backfill import Window
from kb.store.posts import PostRecord


@dataclass
class Page:
    records: list[PostRecord] = field(default_factory=list)
    count: int = 0  # items the archive gave (before kb's own filters)
    skipped: int = 0  # left out: outside the window, filtered, already stored, unreadable
    total: int | None = None  # the window's size, when the archive says
    notes: list[str] = field(default_factory=list)


class ArchiveError(ValueError):
    """An archive page could not be read; the message names the source and where."""


class NoArchive(ValueError):
    """A source has no archive kb can walk; the message says what was looked for."""


class Walker(Protocol):
    name: str  # the source's name, for messages
    kind: str  # "forum", "wordpress", "substack", "sitemap"
    grid: bool

    def estimate(self, since: datetime, until: datetime) -> int | None: ...

    def pages(self, window: Window) -> Iterator[tuple[Page, int, bool]]: ...
