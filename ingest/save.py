"""Storing one page of posts: every post and the page's checkpoint in one transaction.

Forum windows and `kb backfill` store page by page.  A page is one transaction — its posts and
the checkpoint saying how far the walk got — so a run killed at any point has either stored a
page and recorded it, or neither, and resumes with at most that page repeated.  Each post has
its own savepoint: one that cannot be stored is reported (naming the source) and the rest of
the page is kept.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

from kb.store.posts import PostRecord, SaveResult, save_post

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport
    from kb.store.db import Store

Checkpoint = Callable[[sqlite3.Connection], None]


def save_page(store: Store, records: list[PostRecord], report: IngestReport, *, where: str,
              source_id: int | None, label: str,
              checkpoint: Checkpoint | None = None) -> dict[str, int]:
    """Store ``records`` and run ``checkpoint`` in the same transaction; returns the counts
    of new, updated and unchanged posts."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    done: list[tuple[str, str]] = []
    with store.tx() as conn:
        for rec in records:
            try:
                with store.savepoint():
                    pid, result = save_post(store, rec, source_id=source_id)
            except Exception as exc:  # one bad record never loses the rest of the page
                report.fail(where, f"{label}: could not store {rec.urls[:1]}: "
                                   f"{exc.__class__.__name__}: {exc}")
                continue
            counts[result.value] += 1
            done.append((pid, result.value))
        if checkpoint is not None:
            checkpoint(conn)
    for pid, value in done:  # counted once committed
        report.count(pid, SaveResult(value))
    return counts
