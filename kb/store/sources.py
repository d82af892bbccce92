"""Sources kb fetches (feeds, feedless pages and forums) and their per-source fetch state.

A ``forum`` source is a ForumMagnum GraphQL endpoint (LessWrong, the Alignment Forum, the EA
Forum); it may keep only posts with some karma (``min_karma``) or one of some tags
(``tags``), and remembers where its last window ended (``window_until``).  A feed may know
its site's homepage (``home_url``), where `kb backfill` looks for the blog's archive.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal

from kb.store.db import Store, utcnow

Kind = Literal["feed", "page", "forum"]
KINDS: tuple[Kind, ...] = ("feed", "page", "forum")

# The karma minimum of the default LessWrong source: the threshold of LessWrong's own
# frontpage feed, so the archive holds what LW readers see (all of the Alignment Forum is
# kept, whatever its karma).
LW_DEFAULT_MIN_KARMA = 30


@dataclass(frozen=True)
class DefaultSource:
    name: str
    url: str
    kind: Kind
    min_karma: int | None = None
    home_url: str | None = None


# Sensible defaults on first run: LessWrong and the Alignment Forum through their GraphQL API
# (every post of each day, all authors), a few alignment research blogs, and one page.
DEFAULT_SOURCES: tuple[DefaultSource, ...] = (
    DefaultSource("lesswrong", "https://www.lesswrong.com/graphql", "forum",
                  min_karma=LW_DEFAULT_MIN_KARMA),
    DefaultSource("alignmentforum", "https://www.alignmentforum.org/graphql", "forum",
                  min_karma=0),
    DefaultSource("lilianweng", "https://lilianweng.github.io/index.xml", "feed",
                  home_url="https://lilianweng.github.io/"),
    DefaultSource("turntrout", "https://turntrout.com/rss.xml", "feed",
                  home_url="https://turntrout.com/"),
    DefaultSource("joecarlsmith", "https://joecarlsmith.com/rss.xml", "feed",
                  home_url="https://joecarlsmith.com/"),
    DefaultSource("niplav-automated", "https://niplav.site/automated.html", "page"),
)


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
    min_karma: int | None = None
    tags: list[str] | None = None
    home_url: str | None = None
    archive: str | None = None
    window_until: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row(r: Any) -> Source:
    d = dict(r)
    d["last_counts"] = json.loads(d["last_counts"]) if d.get("last_counts") else None
    d["tags"] = json.loads(d["tags"]) if d.get("tags") else None
    return Source(**d)


def looks_like_forum(url: str) -> bool:
    """A ForumMagnum GraphQL endpoint (``…/graphql``)."""
    from urllib.parse import urlsplit

    return urlsplit(url).path.rstrip("/").endswith("/graphql")


def _default_name(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    base = (parts.hostname or parts.path.rsplit("/", 1)[-1] or "source").removeprefix("www.")
    return base


def add_source(store: Store, url: str, *, name: str | None = None, kind: Kind | None = None,
               min_karma: int | None = None, tags: list[str] | None = None,
               home_url: str | None = None) -> Source:
    """Track ``url`` (stored as given).  Without ``kind``: ``…/graphql`` is a forum, an
    ``.html`` page a page, anything else a feed.  ``min_karma`` and ``tags`` apply to forums."""
    url = url.strip()
    if not url:
        raise SourceError("a source needs a URL or a path")
    if "://" not in url:  # a local path
        from pathlib import Path

        url = Path(url).expanduser().resolve().as_uri()
    # keep the URL as given: it is what we fetch (normalizing would turn http into https)
    kind = kind or ("forum" if looks_like_forum(url) else
                    "page" if url.endswith((".html", ".htm")) else "feed")
    if kind not in KINDS:
        raise SourceError(f"unknown source kind {kind!r} (feed, page or forum)")
    if kind != "forum" and (min_karma is not None or tags):
        raise SourceError("a karma minimum and tags apply to forum sources only")
    name = name or _default_name(url)
    conn = store.conn
    base, n = name, 2
    with store.tx():
        if conn.execute("SELECT 1 FROM sources WHERE url = ?", (url,)).fetchone():
            raise SourceError(f"source {url} is already tracked")
        while conn.execute("SELECT 1 FROM sources WHERE name = ?", (name,)).fetchone():
            name, n = f"{base}-{n}", n + 1
        conn.execute("INSERT INTO sources (name, url, kind, added_at, min_karma, tags, home_url) "
                     "VALUES (?,?,?,?,?,?,?)",
                     (name, url, kind, utcnow(), min_karma, _tags_json(tags), home_url))
    src = get_source(store, name)
    assert src is not None
    return src


def _tags_json(tags: list[str] | None) -> str | None:
    clean = [t.strip() for t in tags or [] if t.strip()]
    return json.dumps(list(dict.fromkeys(clean))) if clean else None


def set_filters(store: Store, ref: str, *, min_karma: int | None = None,
                tags: list[str] | None = None, clear: bool = False) -> Source:
    """Change a forum source's karma minimum and tag filter (``clear`` removes both first)."""
    src = get_source(store, ref)
    if src is None:
        raise SourceError(f"no source named {ref!r} (see `kb sources list`)")
    if src.kind != "forum":
        raise SourceError(f"source {src.name} is a {src.kind}: a karma minimum and tags apply "
                          "to forum sources only")
    karma = None if clear else src.min_karma
    kept = [] if clear else list(src.tags or [])
    with store.tx() as conn:
        conn.execute("UPDATE sources SET min_karma = ?, tags = ? WHERE id = ?",
                     (min_karma if min_karma is not None else karma,
                      _tags_json([*kept, *(tags or [])]), src.id))
    out = get_source(store, src.id)
    assert out is not None
    return out


def set_window_until(conn: sqlite3.Connection, source_id: int, until: str) -> None:
    """Record where a forum source's last complete window ended (inside the caller's
    transaction, with the posts of that window)."""
    conn.execute("UPDATE sources SET window_until = ? WHERE id = ?", (until, source_id))


def set_archive(store: Store, source_id: int, archive: str) -> None:
    """Remember which archive a blog source has (so it is not looked for again)."""
    with store.tx() as conn:
        conn.execute("UPDATE sources SET archive = ? WHERE id = ?", (archive, source_id))


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
        for d in DEFAULT_SOURCES:
            conn.execute("INSERT OR IGNORE INTO sources (name, url, kind, added_at, min_karma, "
                         "home_url) VALUES (?,?,?,?,?,?)",
                         (d.name, d.url, d.kind, utcnow(), d.min_karma, d.home_url))
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
