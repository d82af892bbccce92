"""What the TUI reads from the store, in one place (plain functions, no textual).

Digests and summaries come from the ``digests``/``summaries`` tables when the store has them
(their columns are checked at run time) and otherwise from ``$KB_HOME/digests/YYYY-MM-DD.md``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.store import posts as posts_repo
from kb.store.db import Store

DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.md$")
LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)(?:\s+\"[^\"]*\")?\)")
KB_LINK = re.compile(r"^kb:(?://)?(?:post/)?([\w-]+)$")


def tables(store: Store) -> set[str]:
    return {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def columns(store: Store, table: str) -> list[str]:
    return [r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")]


def _first(cols: list[str], *names: str) -> str | None:
    return next((n for n in names if n in cols), None)


# --- digests --------------------------------------------------------------------------------
@dataclass
class DigestPost:
    post_id: str
    title: str
    kind: str  # "key post" | "summary" | "linked"


@dataclass
class Digest:
    day: str
    markdown: str
    posts: list[DigestPost] = field(default_factory=list)
    origin: str = ""  # "store" or the file path


def _digest_table(store: Store) -> tuple[str, str] | None:
    """(day column, markdown column) of the digests table, if it has usable ones."""
    if "digests" not in tables(store):
        return None
    cols = columns(store, "digests")
    day = _first(cols, "day", "date", "digest_date")
    md = _first(cols, "markdown", "text", "body", "content")
    return (day, md) if day and md else None


def digest_days(store: Store, digests_dir: Path) -> list[str]:
    """Every day with a digest, newest first."""
    days: set[str] = set()
    found = _digest_table(store)
    if found:
        days |= {str(r[0])[:10] for r in store.conn.execute(f"SELECT {found[0]} FROM digests")}
    if digests_dir.is_dir():
        days |= {m.group(1) for p in digests_dir.iterdir() if (m := DAY_FILE.match(p.name))}
    return sorted(days, reverse=True)


def load_digest(store: Store, digests_dir: Path, day: str) -> Digest | None:
    found = _digest_table(store)
    if found:
        row = store.conn.execute(
            f"SELECT * FROM digests WHERE substr({found[0]}, 1, 10) = ? ORDER BY rowid DESC LIMIT 1",
            (day,)).fetchone()
        if row is not None and row[found[1]]:
            d = Digest(day, row[found[1]], origin="store")
            d.posts = digest_posts(store, d.markdown, dict(row))
            return d
    path = digests_dir / f"{day}.md"
    if path.is_file():
        md = path.read_text(encoding="utf-8", errors="replace")
        return Digest(day, md, digest_posts(store, md, {}), origin=str(path))
    return None


def resolve_link(store: Store, href: str) -> str | None:
    """The post id a digest link points at (``kb:post/<id>``, a post id, or any post URL)."""
    href = href.strip().strip("<>")
    m = KB_LINK.match(href)
    ref = m.group(1) if m else href
    post = posts_repo.get_post(store, ref, with_text=False)
    return post.id if post else None


KINDS = ("key post", "summary", "updated", "also published", "linked")
BARE_URL = re.compile(r"(?<![(<])\bhttps?://[^\s)>\]]+")


def _section_kind(heading: str) -> str:
    h = heading.lower()
    return ("key post" if "key" in h else "summary" if "summar" in h
            else "updated" if "updated" in h else "also published" if "also" in h else "linked")


def _from_json(store: Store, raw: str) -> list[DigestPost]:
    """Posts of a stored digest's JSON (digest.build): theme posts are key posts."""
    import json

    try:
        d = json.loads(raw)
    except ValueError:
        return []
    posts = {p.get("n"): p for p in d.get("posts", []) if isinstance(p, dict)}
    key = [n for t in d.get("themes") or [] for n in t.get("numbers", [])]
    out: list[DigestPost] = []
    for kind, items in (("key post", [posts[n] for n in key if n in posts]),
                        ("summary", list(posts.values())), ("updated", d.get("updated") or []),
                        ("also published", d.get("also_published") or [])):
        for item in items:
            pid = item.get("id") or resolve_link(store, item.get("url", ""))
            if pid:
                out.append(DigestPost(pid, str(item.get("title", pid)), kind))
    return out


def _from_markdown(store: Store, markdown: str) -> list[DigestPost]:
    """Links of a digest file, classed by the level-2 heading they are under."""
    out: list[DigestPost] = []
    section = "linked"
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("## "):
            section = _section_kind(stripped[3:])
        elif stripped.startswith("**key post"):
            section = "key post"
        found = [(m.group(2), m.group(1)) for m in LINK.finditer(line)]
        found += [(m.group(0), "") for m in BARE_URL.finditer(LINK.sub("", line))]
        for href, label in found:
            pid = resolve_link(store, href)
            if pid:
                post = posts_repo.get_post(store, pid, with_text=False)
                out.append(DigestPost(pid, post.title if post else label, section))
    return out


def digest_posts(store: Store, markdown: str, row: dict[str, Any]) -> list[DigestPost]:
    """Posts a digest mentions, each once, key posts first, then summaries, updated posts,
    other posts of the day and anything else linked."""
    found = _from_json(store, row["json"]) if isinstance(row.get("json"), str) else []
    found = found or _from_markdown(store, markdown)
    best: dict[str, DigestPost] = {}
    for p in found:
        if p.post_id not in best or KINDS.index(p.kind) < KINDS.index(best[p.post_id].kind):
            best[p.post_id] = p
    order = {pid: i for i, pid in reversed(list(enumerate(p.post_id for p in found)))}
    return sorted(best.values(), key=lambda p: (KINDS.index(p.kind), order[p.post_id]))


# --- posts ----------------------------------------------------------------------------------
def summary_for(store: Store, post_id: str) -> str | None:
    """The newest summary of a post, if the store has one."""
    if "summaries" not in tables(store):
        return None
    cols = columns(store, "summaries")
    col = _first(cols, "summary", "text", "markdown", "body", "content")
    if col is None or "post_id" not in cols:
        return None
    order = _first(cols, "created_at", "updated_at", "version", "id") or "rowid"
    row = store.conn.execute(
        f"SELECT {col} FROM summaries WHERE post_id = ? AND {col} IS NOT NULL "
        f"ORDER BY {order} DESC LIMIT 1", (post_id,)).fetchone()
    return str(row[0]) if row and row[0] else None


def version_text(store: Store, post_id: str, version: int) -> str | None:
    row = store.conn.execute("SELECT text FROM post_versions WHERE post_id = ? AND version = ?",
                             (post_id, version)).fetchone()
    return row[0] if row else None


def version_diff(store: Store, post_id: str, version: int) -> str:
    """Unified diff from the version before ``version`` to ``version`` ("" for version 1)."""
    new = version_text(store, post_id, version)
    old = version_text(store, post_id, version - 1) if version > 1 else None
    if new is None or old is None:
        return ""
    return "\n".join(difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=f"version {version - 1}",
        tofile=f"version {version}", n=2, lineterm=""))


def has_posts(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM posts LIMIT 1").fetchone() is not None


def passage_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """0-based line range [first, last) of the characters ``start:end`` of ``text``."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    first = text.count("\n", 0, start)
    last = text.count("\n", 0, max(start, end - 1)) + 1
    return first, last
