"""Sources kb fetches (feeds and feedless pages) and their per-source fetch state."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from kb.store.db import Store, utcnow

Kind = Literal["feed", "page"]

# Sensible defaults on first run: the LW and AF feeds and a few alignment research blogs.
DEFAULT_SOURCES: list[tuple[str, str, Kind]] = [
    ("lesswrong", "https://www.lesswrong.com/feed.xml?view=curated-rss", "feed"),
    ("lesswrong-frontpage", "https://www.lesswrong.com/feed.xml?view=frontpage-rss&karmaThreshold=30", "feed"),
    ("alignmentforum", "https://www.alignmentforum.org/feed.xml?view=rss&karmaThreshold=0", "feed"),
    ("lilianweng", "https://lilianweng.github.io/index.xml", "feed"),
    ("turntrout", "https://turntrout.com/rss.xml", "feed"),
    ("joecarlsmith", "https://joecarlsmith.com/rss.xml", "feed"),
    ("niplav-automated", "https://niplav.site/automated.html", "page"),
]


class SourceError(ValueError):
    pass


@dataclass
class Source:
    id: int
    name: str
    url: str
    kind: Kind
    added_at: str
    etag: str | None = None
    last_modified: str | None = None
    last_fetched_at: str | None = None
    last_success_at: str | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_counts: dict[str, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(r: Any) -> Source:
    d = dict(r)
    d["last_counts"] = json.loads(d["last_counts"]) if d.get("last_counts") else None
    return Source(**d)


def _default_name(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    base = (parts.hostname or parts.path.rsplit("/", 1)[-1] or "source").removeprefix("www.")
    return base


def add_source(store: Store, url: str, *, name: str | None = None, kind: Kind | None = None) -> Source:
    url = url.strip()
    if not url:
        raise SourceError("a source needs a URL or a path")
    if "://" not in url:  # a local path
        from pathlib import Path

        url = Path(url).expanduser().resolve().as_uri()
    # keep the URL as given: it is what we fetch (normalizing would turn http into https)
    kind = kind or ("page" if url.endswith((".html", ".htm")) else "feed")
    if kind not in ("feed", "page"):
        raise SourceError(f"unknown source kind {kind!r} (feed or page)")
    name = name or _default_name(url)
    conn = store.conn
    base, n = name, 2
    with store.tx():
        if conn.execute("SELECT 1 FROM sources WHERE url = ?", (url,)).fetchone():
            raise SourceError(f"source {url} is already tracked")
        while conn.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone():
            name, n = f"{base}-{n}", n + 1
        conn.execute("INSERT INTO sources (name, url, kind, added_at) VALUES (?,?,?,?)",
                     (name, url, kind, utcnow()))
    src = get_source(store, name)
    assert src is not None
    return src


def get_source(store: Store, ref: str | int) -> Source | None:
    r = store.conn.execute("SELECT * FROM sources WHERE name = ? OR CAST(id AS TEXT) = ? OR url = ?",
                           (str(ref), str(ref), str(ref))).fetchone()
    return _row(r) if r else None


def list_sources(store: Store) -> list[Source]:
    return [_row(r) for r in store.conn.execute("SELECT * FROM sources ORDER BY id")]


def remove_source(store: Store, ref: str) -> Source:
    """Stop tracking a source.  Its posts stay in the archive."""
    src = get_source(store, ref)
    if src is None:
        raise SourceError(f"no source named {ref!r} (see `kb sources list`)")
    with store.tx() as conn:
        conn.execute("DELETE FROM sources WHERE id = ?", (src.id,))
    return src


def ensure_default_sources(store: Store) -> bool:
    """Add the default sources the first time kb runs (an empty sources table that was never
    initialised).  Returns True when it added them."""
    conn = store.conn
    with store.tx():
        if conn.execute("SELECT 1 FROM kv WHERE key = 'default_sources_added'").fetchone():
            return False
        for name, url, kind in DEFAULT_SOURCES:
            conn.execute("INSERT OR IGNORE INTO sources (name, url, kind, added_at) "
                         "VALUES (?,?,?,?)", (name, url, kind, utcnow()))
        conn.execute("INSERT INTO kv (key, value) VALUES ('default_sources_added', ?)", (utcnow(),))
    return True


def record_fetch(store: Store, source_id: int, *, status: str, error: str | None = None,
                 etag: str | None = None, last_modified: str | None = None,
                 counts: dict[str, int] | None = None) -> None:
    now = utcnow()
    with store.tx() as conn:
        conn.execute(
            "UPDATE sources SET last_fetched_at = ?, last_status = ?, last_error = ?, "
            "etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified), "
            "last_success_at = CASE WHEN ? = 'error' THEN last_success_at ELSE ? END, "
            "last_counts = COALESCE(?, last_counts) WHERE id = ?",
            (now, status, error, etag, last_modified, status, now,
             json.dumps(counts) if counts is not None else None, source_id),
        )
