"""Posts, their URLs and versions: one canonical record per post.

:func:`save_post` is the only way ingest writes a post.  It resolves identity (LW/AF id,
any known URL, the ``original_url`` a blog copy points at, else a URL-derived id), merges
URLs, and adds a version only when the text from that origin changed — all in one
transaction, so a post never exists without its version.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kb.ids import (
    AF_CANONICAL,
    LW_CANONICAL,
    content_hash,
    host_of,
    is_af_url,
    is_lw_id,
    lw_post_id,
    normalize_url,
    url_post_id,
)
from kb.store.db import Store, utcnow


class SaveResult(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass
class PostRecord:
    """A post as one source saw it.  ``urls[0]`` is the URL the source gave for it."""

    title: str
    text: str  # clean Markdown
    urls: list[str]
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601 UTC
    lw_id: str | None = None  # the 17-char LW/AF id when known (feed guid, GraphQL _id)
    original_url: str | None = None  # a copy's pointer at the original (front matter, rel=canonical)
    is_af: bool = False
    origin: str = ""  # where the text came from; versions are compared per origin
    modified: str | None = None  # the page's own "last modified" date, if any
    prefer_text: bool = True  # False for partial copies (podcast excerpts): never replace better text
    tags: list[str] | None = None  # forum tags / feed categories; None: this source gives none


@dataclass
class Post:
    id: str
    title: str
    authors: list[str]
    published: str | None
    site: str
    canonical_url: str
    is_af: bool
    source_id: int | None
    first_seen_at: str
    changed_at: str | None
    urls: list[str] = field(default_factory=list)
    version: int = 0
    text: str = ""
    tags: list[str] = field(default_factory=list)  # as the sources gave them (for mute_tags)

    def to_json(self, *, versions: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "authors": self.authors,
            "published": self.published,
            "site": self.site,
            "canonical_url": self.canonical_url,
            "is_af": self.is_af,
            "urls": self.urls,
            "changed_at": self.changed_at,
            "version": self.version,
            "text": self.text,
        }
        if versions is not None:
            out["versions"] = versions
        return out


def _resolve_id(conn: sqlite3.Connection, rec: PostRecord) -> tuple[str, bool]:
    """(post id, exists already) for a record."""
    candidates = [u for u in [*rec.urls, rec.original_url] if u]
    lw_id = rec.lw_id if is_lw_id(rec.lw_id) else None
    if lw_id is None:
        for u in candidates:
            lw_id = lw_post_id(u)
            if lw_id:
                break
    if lw_id:
        row = conn.execute("SELECT id FROM posts WHERE id = ?", (lw_id,)).fetchone()
        return lw_id, row is not None
    for u in candidates:
        row = conn.execute("SELECT post_id FROM post_urls WHERE url = ?",
                           (normalize_url(u),)).fetchone()
        if row:
            return row[0], True
    pid = url_post_id(rec.original_url or rec.urls[0])
    row = conn.execute("SELECT id FROM posts WHERE id = ?", (pid,)).fetchone()
    return pid, row is not None


def _canonical(post_id: str, urls: list[str], is_af: bool) -> str:
    """AF URL for AF posts, else the lesswrong.com one, else the first URL we saw."""
    if is_af:
        for u in urls:
            if is_af_url(u):
                return u
        for u in urls:
            if lw_post_id(u) == post_id:
                return AF_CANONICAL + u[u.index("/posts/"):]
    for u in urls:
        if host_of(u) == "www.lesswrong.com":
            return u
    return urls[0]


def save_post(store: Store, rec: PostRecord, *, source_id: int | None = None) -> tuple[str, SaveResult]:
    """Insert or merge ``rec``.  Returns (post id, new|updated|unchanged)."""
    if not rec.urls:
        raise ValueError(f"post {rec.title!r} has no URL")
    text = rec.text.strip()
    urls = [normalize_url(u) for u in rec.urls]
    if rec.original_url:
        urls.append(normalize_url(rec.original_url))
    now = utcnow()
    chash = content_hash(text)
    with store.tx() as conn:
        pid, exists = _resolve_id(conn, rec)
        is_af = rec.is_af or any(is_af_url(u) for u in urls)
        if is_lw_id(pid):
            # every AF post is also on lesswrong.com: record both mirrors
            for u in list(urls):
                if is_af_url(u) and lw_post_id(u) == pid:
                    urls.append(LW_CANONICAL + u[u.index("/posts/"):])
        known = [r[0] for r in conn.execute("SELECT url FROM post_urls WHERE post_id = ?", (pid,))]
        all_urls = list(dict.fromkeys([*known, *urls]))
        if exists:
            row = conn.execute("SELECT * FROM posts WHERE id = ?", (pid,)).fetchone()
            is_af = is_af or bool(row["is_af"])
            # LW/AF URLs beat copies for the canonical link
            ordered = sorted(all_urls, key=lambda u: (lw_post_id(u) != pid, all_urls.index(u)))
            canonical = _canonical(pid, ordered, is_af)
            authors = json.loads(row["authors"]) or rec.authors
            if rec.authors and len(rec.authors) > len(authors):
                authors = rec.authors  # feeds carry only the first author; archives all of them
            published = row["published"] or rec.published
            if rec.published and is_lw_id(pid) and rec.lw_id == pid:
                published = rec.published  # the LW/AF record itself knows the true posting date
            title = row["title"] if row["title"] and (rec.lw_id != pid or not rec.title) else rec.title
            conn.execute(
                "UPDATE posts SET title=?, authors=?, published=?, canonical_url=?, is_af=?, "
                "site=? WHERE id=?",
                (title or rec.title, json.dumps(authors), published, canonical, int(is_af),
                 host_of(canonical), pid),
            )
        else:
            ordered = sorted(all_urls, key=lambda u: (lw_post_id(u) != pid, all_urls.index(u)))
            canonical = _canonical(pid, ordered, is_af)
            conn.execute(
                "INSERT INTO posts (id, title, authors, published, site, canonical_url, is_af, "
                "source_id, first_seen_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (pid, rec.title or canonical, json.dumps(rec.authors), rec.published,
                 host_of(canonical), canonical, int(is_af), source_id, now),
            )
        for u in all_urls:
            conn.execute("INSERT OR IGNORE INTO post_urls (url, post_id) VALUES (?, ?)", (u, pid))
        if rec.tags is not None:
            _save_tags(conn, pid, rec.tags)

        result = _save_version(conn, pid, rec, text, chash, now, exists)
        if result is not SaveResult.UNCHANGED or not exists:
            _refresh_fts(conn, pid)
        elif exists:
            # titles can change without the text changing
            conn.execute("UPDATE posts_fts SET title = (SELECT title FROM posts WHERE id = ?) "
                         "WHERE post_id = ?", (pid, pid))
    return pid, (SaveResult.NEW if not exists else result)


def _save_tags(conn: sqlite3.Connection, pid: str, tags: list[str]) -> None:
    """The post's tags as a source reports them now (a copy without tags keeps them)."""
    clean = list(dict.fromkeys(" ".join(t.split())[:100] for t in tags if t and t.strip()))
    if not clean:
        return
    conn.execute("DELETE FROM post_tags WHERE post_id = ?", (pid,))
    conn.executemany("INSERT OR IGNORE INTO post_tags (post_id, tag) VALUES (?, ?)",
                     [(pid, t) for t in clean])


def _save_version(conn: sqlite3.Connection, pid: str, rec: PostRecord, text: str, chash: str,
                  now: str, exists: bool) -> SaveResult:
    latest = conn.execute(
        "SELECT version, content_hash, origin FROM post_versions WHERE post_id = ? "
        "ORDER BY version DESC LIMIT 1", (pid,)).fetchone()
    if latest is not None:
        if latest["content_hash"] == chash:
            return SaveResult.UNCHANGED
        same_origin = conn.execute(
            "SELECT content_hash FROM post_versions WHERE post_id = ? AND origin = ? "
            "ORDER BY version DESC LIMIT 1", (pid, rec.origin)).fetchone()
        if same_origin is None:
            # a second copy of a known post (crosspost, blog copy, podcast excerpt): its text
            # is not an edit.  Keep the existing text unless it is empty and this one is real.
            current = conn.execute("SELECT length(text) FROM post_versions WHERE post_id=? "
                                   "AND version=?", (pid, latest["version"])).fetchone()[0]
            if current > 0 or not text or not rec.prefer_text:
                return SaveResult.UNCHANGED
        elif same_origin["content_hash"] == chash:
            return SaveResult.UNCHANGED
    version = (latest["version"] + 1) if latest else 1
    conn.execute(
        "INSERT INTO post_versions (post_id, version, content_hash, text, origin, fetched_at, "
        "modified) VALUES (?,?,?,?,?,?,?)",
        (pid, version, chash, text, rec.origin, now, rec.modified),
    )
    if latest is not None:
        conn.execute("UPDATE posts SET changed_at = ? WHERE id = ?", (now, pid))
        return SaveResult.UPDATED
    return SaveResult.NEW


def _refresh_fts(conn: sqlite3.Connection, pid: str) -> None:
    conn.execute("DELETE FROM posts_fts WHERE post_id = ?", (pid,))
    conn.execute(
        "INSERT INTO posts_fts (post_id, title, text) SELECT p.id, p.title, v.text FROM posts p "
        "JOIN post_versions v ON v.post_id = p.id WHERE p.id = ? ORDER BY v.version DESC LIMIT 1",
        (pid,),
    )


def _row_to_post(conn: sqlite3.Connection, row: sqlite3.Row, *, with_text: bool) -> Post:
    post = Post(
        id=row["id"], title=row["title"], authors=json.loads(row["authors"]),
        published=row["published"], site=row["site"], canonical_url=row["canonical_url"],
        is_af=bool(row["is_af"]), source_id=row["source_id"], first_seen_at=row["first_seen_at"],
        changed_at=row["changed_at"],
    )
    post.urls = [r[0] for r in conn.execute(
        "SELECT url FROM post_urls WHERE post_id = ? ORDER BY url = ? DESC, url",
        (post.id, post.canonical_url))]
    v = conn.execute(
        f"SELECT version{', text' if with_text else ''} FROM post_versions WHERE post_id = ? "
        "ORDER BY version DESC LIMIT 1", (post.id,)).fetchone()
    if v is not None:
        post.version = v["version"]
        if with_text:
            post.text = v["text"]
    post.tags = [r[0] for r in conn.execute("SELECT tag FROM post_tags WHERE post_id = ? "
                                            "ORDER BY tag", (post.id,))]
    return post


def get_post(store: Store, ref: str, *, with_text: bool = True) -> Post | None:
    """A post by id, or by any of its URLs."""
    conn = store.conn
    row = conn.execute("SELECT * FROM posts WHERE id = ?", (ref,)).fetchone()
    if row is None and "/" in ref:
        found = conn.execute("SELECT post_id FROM post_urls WHERE url = ?",
                             (normalize_url(ref),)).fetchone()
        if found:
            row = conn.execute("SELECT * FROM posts WHERE id = ?", (found[0],)).fetchone()
    return _row_to_post(conn, row, with_text=with_text) if row else None


def list_posts(store: Store, *, since: str | None = None, until: str | None = None,
               source: str | None = None, limit: int | None = None, unread: bool = False,
               saved: bool = False) -> list[Post]:
    """Posts newest first.  ``since``/``until`` are ISO dates (inclusive, by posting date);
    ``source`` is a source name or id; ``unread``/``saved`` keep only unread or saved posts
    (reading state: kb.store.reading)."""
    sql = "SELECT p.* FROM posts p"
    where, args = [], []  # type: tuple[list[str], list[Any]]
    if unread:
        where.append("NOT EXISTS (SELECT 1 FROM post_reads r WHERE r.post_id = p.id)")
    if saved:
        where.append("EXISTS (SELECT 1 FROM post_saves v WHERE v.post_id = p.id)")
    if source:
        sql += " LEFT JOIN sources s ON s.id = p.source_id"
        where.append("(s.name = ? OR CAST(s.id AS TEXT) = ? OR p.site = ?)")
        args += [source, source, source]
    if since:
        where.append("p.published >= ?")
        args.append(since)
    if until:
        where.append("p.published < ?")
        args.append(_next_day(until))
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY p.published DESC, p.id"
    if limit:
        sql += f" LIMIT {int(limit)}"
    conn = store.conn
    return [_row_to_post(conn, r, with_text=False) for r in conn.execute(sql, args)]


def _next_day(day: str) -> str:
    """'2025-03-12' -> '2025-03-13' (exclusive upper bound); full timestamps pass through."""
    if len(day) == 10:
        from datetime import date, timedelta

        return (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    return day


def list_versions(store: Store, post_id: str, *, with_text: bool = False) -> list[dict[str, Any]]:
    cols = "version, content_hash, origin, fetched_at, modified, length(text) AS chars"
    if with_text:
        cols += ", text"
    return [dict(r) for r in store.conn.execute(
        f"SELECT {cols} FROM post_versions WHERE post_id = ? ORDER BY version", (post_id,))]


def version_text(store: Store, post_id: str, version: int) -> str | None:
    """The text of one version of a post (None when there is no such version)."""
    row = store.conn.execute("SELECT text FROM post_versions WHERE post_id = ? AND version = ?",
                             (post_id, version)).fetchone()
    return str(row[0]) if row else None


def post_chunks(store: Store, post_id: str, version: int) -> list[tuple[str, int, int]]:
    """(text, start, end) of the indexed passages of one version of a post, in order (empty
    when that version is not chunked)."""
    return [(str(r[0]), int(r[1]), int(r[2])) for r in store.conn.execute(
        'SELECT text, start, "end" FROM chunks WHERE post_id = ? AND version = ? '
        "ORDER BY position", (post_id, version))]


def has_posts(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM posts LIMIT 1").fetchone() is not None


def unchunked_posts(store: Store) -> int:
    """Posts not split into passages yet (`kb index` has not seen them)."""
    return int(store.conn.execute(
        "SELECT count(*) FROM posts p WHERE NOT EXISTS "
        "(SELECT 1 FROM chunk_state s WHERE s.post_id = p.id)").fetchone()[0])


def stats(store: Store) -> dict[str, int]:
    """Counts for `kb stats --json`."""
    return {
        "posts": store.count("posts"),
        "post_urls": store.count("post_urls"),
        "versions": store.count("post_versions"),
        "sources": store.count("sources"),
        "chunks": store.count("chunks"),
        "summaries": store.count("summaries"),
        "digests": store.count("digests"),
        "embedded_chunks": int(store.conn.execute(
            "SELECT count(*) FROM chunks WHERE embedded_model IS NOT NULL").fetchone()[0]),
    }
