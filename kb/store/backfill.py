"""Checkpoints of `kb backfill`: which windows of a source's history are stored, and how far.

A source's history is walked in windows ``[start, end)`` (ISO 8601 UTC).  Each window's row
records how far its pages are stored (``position``: an offset, a page number or an index into
a list, whatever the walker counts) and when it was completed.  The walker advances the
position in the same transaction as the posts of the page, so an interrupted run resumes at
the first page it had not stored, and a finished window is never asked for again: planning
subtracts every finished window of the source from the range asked for.

Windows of date-ordered archives (forums, WordPress) sit on a fixed grid of ``grid_days``
from 1970-01-01, so runs with different ``--since``/``--until`` share their windows.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kb.store.db import Store, utcnow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Window:
    id: int
    source_id: int
    start: str
    end: str
    position: int = 0
    seen: int = 0
    done_at: str | None = None

    @property
    def label(self) -> str:
        """``2025-01-01..2025-01-31`` (the last day included)."""
        last = parse_iso(self.end) - timedelta(seconds=1)
        return f"{self.start[:10]}..{last.date().isoformat()}"


def parse_iso(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    """Second-precision ISO 8601 UTC with a Z."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Interval = tuple[datetime, datetime]


def subtract(span: Interval, taken: list[Interval]) -> list[Interval]:
    """The parts of ``span`` no interval of ``taken`` covers, in order."""
    pieces = [span]
    for a, b in sorted(taken):
        nxt: list[Interval] = []
        for s, e in pieces:
            if b <= s or a >= e:
                nxt.append((s, e))
                continue
            if a > s:
                nxt.append((s, a))
            if b < e:
                nxt.append((b, e))
        pieces = nxt
    return [(s, e) for s, e in pieces if e > s]


def split_on_grid(span: Interval, grid_days: int) -> list[Interval]:
    """``span`` cut at every multiple of ``grid_days`` days since 1970-01-01."""
    step = timedelta(days=max(1, grid_days))
    s, e = span
    out: list[Interval] = []
    k = (s - EPOCH) // step
    cut = EPOCH + (k + 1) * step
    while cut < e:
        out.append((s, cut))
        s, cut = cut, cut + step
    out.append((s, e))
    return out


def _window(r: sqlite3.Row) -> Window:
    return Window(id=r["id"], source_id=r["source_id"], start=r["start"], end=r["end"],
                  position=r["position"], seen=r["seen"], done_at=r["done_at"])


def done_intervals(store: Store, source_id: int) -> list[Interval]:
    return [(parse_iso(r[0]), parse_iso(r[1])) for r in store.conn.execute(
        "SELECT start, end FROM backfill_windows WHERE source_id = ? AND done_at IS NOT NULL",
        (source_id,))]


def plan(store: Store, source_id: int, since: datetime, until: datetime, *,
         grid_days: int | None) -> list[Window]:
    """The windows still to walk for ``[since, until)``, oldest first: what no finished window
    covers, cut on the grid (or, with ``grid_days`` None, one window spanning it all, for
    archives that are not ordered by date).  Rows are created for new windows; a window
    started earlier keeps its position."""
    remaining = subtract((since, until), done_intervals(store, source_id))
    if not remaining:
        return []
    if grid_days is None:
        spans = [(remaining[0][0], remaining[-1][1])]
    else:
        spans = [p for r in remaining for p in split_on_grid(r, grid_days)]
    now = utcnow()
    out: list[Window] = []
    with store.tx() as conn:
        for s, e in spans:
            conn.execute("INSERT OR IGNORE INTO backfill_windows (source_id, start, end, "
                         "started_at, updated_at) VALUES (?,?,?,?,?)",
                         (source_id, iso(s), iso(e), now, now))
            row = conn.execute("SELECT * FROM backfill_windows WHERE source_id = ? AND start = ? "
                               "AND end = ?", (source_id, iso(s), iso(e))).fetchone()
            out.append(_window(row))
    return [w for w in out if w.done_at is None]


def advance(conn: sqlite3.Connection, window: Window, *, position: int, seen: int,
            done: bool) -> None:
    """Record that ``window`` is stored up to ``position`` (inside the caller's transaction,
    the one that stored the page's posts)."""
    now = utcnow()
    conn.execute("UPDATE backfill_windows SET position = ?, seen = seen + ?, updated_at = ?, "
                 "done_at = CASE WHEN ? THEN ? ELSE done_at END WHERE id = ?",
                 (position, seen, now, int(done), now, window.id))
    window.position = position
    window.seen += seen
    if done:
        window.done_at = now


def summary(store: Store, source_id: int) -> dict[str, Any] | None:
    """A source's backfill checkpoint for `kb sources list`: windows done and open, the span
    completed, the window in progress and its position (None when never backfilled)."""
    rows = [_window(r) for r in store.conn.execute(
        "SELECT * FROM backfill_windows WHERE source_id = ? ORDER BY start", (source_id,))]
    if not rows:
        return None
    done = [w for w in rows if w.done_at]
    open_ = [w for w in rows if not w.done_at]
    current = next((w for w in open_ if w.position), open_[0] if open_ else None)
    return {
        "windows_done": len(done),
        "windows_open": len(open_),
        "posts_seen": sum(w.seen for w in rows),
        "done_from": min((w.start for w in done), default=None),
        "done_until": max((w.end for w in done), default=None),
        "current": None if current is None else {
            "start": current.start, "end": current.end, "position": current.position},
    }
