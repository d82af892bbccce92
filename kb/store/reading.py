"""Reading state: which posts are read and which are saved.

A post is unread until it is marked read.  Every function that takes post ids checks them:
an id that is not in the archive raises :class:`UnknownPostError` naming it (never a silent
no-op), and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from kb.store.db import Store, StoreError, utcnow

# chunk IN (...) lists well under SQLite's variable limit
_CHUNK = 500


class UnknownPostError(StoreError):
    """One or more post ids are not in the archive; ``ids`` lists them."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        shown = ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")
        noun = "post" if len(ids) == 1 else "posts"
        super().__init__(f"no {noun} {shown} in the archive (try `kb posts list` or `kb search`)")


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i:i + _CHUNK]


def _checked(store: Store, post_ids: Iterable[str]) -> list[str]:
    """The ids, deduplicated in order; raise when any is not a post."""
    ids = list(dict.fromkeys(post_ids))
    known: set[str] = set()
    for part in _chunks(ids):
        marks = ",".join("?" * len(part))
        known.update(r[0] for r in store.conn.execute(
            f"SELECT id FROM posts WHERE id IN ({marks})", part))
    missing = [i for i in ids if i not in known]
    if missing:
        raise UnknownPostError(missing)
    return ids


def mark_read(store: Store, post_ids: Iterable[str]) -> int:
    """Mark posts read; returns how many were unread before."""
    ids = _checked(store, post_ids)
    now = utcnow()
    changed = 0
    with store.tx() as conn:
        for pid in ids:
            cur = conn.execute("INSERT OR IGNORE INTO post_reads (post_id, read_at) VALUES (?, ?)",
                               (pid, now))
            changed += cur.rowcount
    return changed


def mark_unread(store: Store, post_ids: Iterable[str]) -> int:
    """Mark posts unread again; returns how many were read before."""
    ids = _checked(store, post_ids)
    changed = 0
    with store.tx() as conn:
        for part in _chunks(ids):
            marks = ",".join("?" * len(part))
            changed += conn.execute(f"DELETE FROM post_reads WHERE post_id IN ({marks})",
                                    part).rowcount
    return changed


def mark_all_read(store: Store, before: str | None = None) -> int:
    """Mark every post read, or with ``before`` (an ISO date, YYYY-MM-DD) every post published
    before that day (posts without a date are left alone then).  Returns how many changed."""
    sql = ("INSERT OR IGNORE INTO post_reads (post_id, read_at) SELECT id, ? FROM posts p "
           "WHERE NOT EXISTS (SELECT 1 FROM post_reads r WHERE r.post_id = p.id)")
    args: list[str] = [utcnow()]
    if before is not None:
        try:
            day = date.fromisoformat(before[:10]).isoformat()
        except ValueError as exc:
            raise ValueError(f"--before: {before!r} is not a date (YYYY-MM-DD)") from exc
        sql += " AND p.published IS NOT NULL AND p.published < ?"
        args.append(day)
    with store.tx() as conn:
        return int(conn.execute(sql, args).rowcount)


def unread_ids(store: Store, post_ids: Iterable[str]) -> set[str]:
    """Which of these posts are unread (ids not in the archive are left out, not raised: this
    is the query the lists use on whatever they show)."""
    ids = list(dict.fromkeys(post_ids))
    out: set[str] = set()
    for part in _chunks(ids):
        marks = ",".join("?" * len(part))
        out.update(r[0] for r in store.conn.execute(
            f"SELECT p.id FROM posts p WHERE p.id IN ({marks}) AND NOT EXISTS "
            "(SELECT 1 FROM post_reads r WHERE r.post_id = p.id)", part))
    return out


def is_read(store: Store, post_id: str) -> bool:
    _checked(store, [post_id])
    return store.conn.execute("SELECT 1 FROM post_reads WHERE post_id = ?",
                              (post_id,)).fetchone() is not None


def set_saved(store: Store, post_id: str, saved: bool) -> bool:
    """Save or unsave a post.  False when there is no such post (the only silent case: the
    caller asked a yes/no question about one id); True otherwise, changed or not."""
    if store.conn.execute("SELECT 1 FROM posts WHERE id = ?", (post_id,)).fetchone() is None:
        return False
    with store.tx() as conn:
        if saved:
            conn.execute("INSERT OR IGNORE INTO post_saves (post_id, saved_at) VALUES (?, ?)",
                         (post_id, utcnow()))
        else:
            conn.execute("DELETE FROM post_saves WHERE post_id = ?", (post_id,))
    return True


def saved_ids(store: Store) -> list[str]:
    """Saved posts, the most recently saved first."""
    return [r[0] for r in store.conn.execute(
        "SELECT post_id FROM post_saves ORDER BY saved_at DESC, rowid DESC")]


def is_saved(store: Store, post_id: str) -> bool:
    _checked(store, [post_id])
    return store.conn.execute("SELECT 1 FROM post_saves WHERE post_id = ?",
                              (post_id,)).fetchone() is not None


def read_ids(store: Store) -> set[str]:
    """Every post marked read."""
    return {r[0] for r in store.conn.execute("SELECT post_id FROM post_reads")}
