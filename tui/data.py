"""What the TUI reads from the archive, in one place (plain functions, no textual, no SQL).

Everything goes through the store and digest APIs.  A day's digest is the one
``kb daily`` stored (its posts come from the digest's JSON) or, for days with no stored digest,
the Markdown file ``$KB_HOME/digests/YYYY-MM-DD.md`` (its posts are the links it holds).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest import repo as digest_repo
from kb.store import posts as posts_repo
from kb.store import reading
from kb.store.db import Store

DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.md$")
LINK = re.compile(r"\[([^\]\n]+)\]\((\S+?)(?:\s+\"[^\"]*\")?\)")
KB_LINK = re.compile(r"^kb:(?://)?(?:post/)?([\w-]+)$")
BARE_URL = re.compile(r"(?<![(<])\bhttps?://[^\s)>\]]+")
# the order the Posts list shows a digest's posts in (and the kind kept for a post met twice)
KINDS = ("key post", "summary", "updated", "also published", "linked")


# --- digests --------------------------------------------------------------------------------
@dataclass
class DigestPost:
    post_id: str
    title: str
    kind: str  # one of KINDS


@dataclass
class Digest:
    day: str
    markdown: str
    posts: list[DigestPost] = field(default_factory=list)
    origin: str = ""  # "store" or the file path


def _file_days(digests_dir: Path) -> set[str]:
    if not digests_dir.is_dir():
        return set()
    return {m.group(1) for p in digests_dir.iterdir() if (m := DAY_FILE.match(p.name))}


def digest_days(store: Store, digests_dir: Path) -> list[str]:
    """Every day with a digest (stored or as a file), newest first."""
    days = set(digest_repo.digest_days(store)) | _file_days(digests_dir)
    return sorted(days, reverse=True)


def load_digest(store: Store, digests_dir: Path, day: str) -> Digest | None:
    """The digest of ``day``: the stored one, else the file; None when there is neither."""
    stored = digest_repo.get_digest(store, day)
    if stored is not None and stored.markdown:
        found = _from_json(store, stored.data) or _from_markdown(store, stored.markdown)
        return Digest(day, stored.markdown, _unique(found), "store")
    path = digests_dir / f"{day}.md"
    if path.is_file():
        md = path.read_text(encoding="utf-8", errors="replace")
        return Digest(day, md, _unique(_from_markdown(store, md)), str(path))
    return None


def resolve_link(store: Store, href: str) -> str | None:
    """The post id a digest link points at (``kb:post/<id>``, a post id, or any post URL)."""
    href = href.strip().strip("<>")
    m = KB_LINK.match(href)
    post = posts_repo.get_post(store, m.group(1) if m else href, with_text=False)
    return post.id if post else None


def _entries(value: object) -> list[Mapping[str, Any]]:
    """The dict items of a JSON list (anything else in it is skipped)."""
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _from_json(store: Store, data: Mapping[str, Any]) -> list[DigestPost]:
    """Posts of a stored digest (see digest.build): the posts its themes are about are key
    posts, the other listed posts summaries, then updated and off-topic ("also") posts."""
    listed = {p.get("n"): p for p in _entries(data.get("posts"))}
    key = [n for theme in _entries(data.get("themes"))
           for n in (theme.get("numbers") or []) if n in listed]
    groups: list[tuple[str, Iterable[Mapping[str, Any]]]] = [
        ("key post", [listed[n] for n in key]), ("summary", listed.values()),
        ("updated", _entries(data.get("updated"))),
        ("also published", _entries(data.get("also_published")))]
    out: list[DigestPost] = []
    for kind, items in groups:
        for item in items:
            pid = item.get("id") or resolve_link(store, str(item.get("url") or ""))
            if pid:
                out.append(DigestPost(str(pid), str(item.get("title") or pid), kind))
    return out


def _section_kind(heading: str) -> str:
    h = heading.lower()
    return ("key post" if "key" in h else "summary" if "summar" in h
            else "updated" if "updated" in h else "also published" if "also" in h else "linked")


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


def _unique(found: list[DigestPost]) -> list[DigestPost]:
    """Each post once, under its most prominent kind, key posts first, then in the order
    the digest mentions them."""
    best: dict[str, DigestPost] = {}
    for p in found:
        if p.post_id not in best or KINDS.index(p.kind) < KINDS.index(best[p.post_id].kind):
            best[p.post_id] = p
    order: dict[str, int] = {}
    for i, p in enumerate(found):
        order.setdefault(p.post_id, i)
    return sorted(best.values(), key=lambda p: (KINDS.index(p.kind), order[p.post_id]))


# --- posts ----------------------------------------------------------------------------------
def summary_for(store: Store, post_id: str) -> str | None:
    """The post's newest good summary (a newer pending row, left by a failed model call, never
    hides it)."""
    summary = digest_repo.latest_ok_summary(store, post_id)
    return summary.summary if summary is not None and summary.summary else None


def version_diff(store: Store, post_id: str, version: int) -> str:
    """Unified diff from the version before ``version`` to ``version`` ("" for version 1)."""
    new = posts_repo.version_text(store, post_id, version)
    old = posts_repo.version_text(store, post_id, version - 1) if version > 1 else None
    if new is None or old is None:
        return ""
    return "\n".join(difflib.unified_diff(
        old.splitlines(), new.splitlines(), fromfile=f"version {version - 1}",
        tofile=f"version {version}", n=2, lineterm=""))


def passage_lines(text: str, start: int, end: int) -> tuple[int, int]:
    """0-based line range [first, last) of the characters ``start:end`` of ``text``."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    first = text.count("\n", 0, start)
    last = text.count("\n", 0, max(start, end - 1)) + 1
    return first, last


# --- reading state and citations --------------------------------------------------------------
@dataclass
class Marks:
    """Which of the posts a list shows are unread and which are saved."""

    unread: set[str] = field(default_factory=set)
    saved: set[str] = field(default_factory=set)


def marks_for(store: Store, post_ids: Iterable[str]) -> Marks:
    ids = list(post_ids)
    return Marks(reading.unread_ids(store, ids), set(reading.saved_ids(store)) & set(ids))


def unread_counts(store: Store, digests_dir: Path,
                  days: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Day -> (unread posts, posts) of each day's digest (days without one are left out)."""
    out: dict[str, tuple[int, int]] = {}
    for day in days:
        digest = load_digest(store, digests_dir, day)
        if digest is not None:
            ids = [p.post_id for p in digest.posts]
            out[day] = (len(reading.unread_ids(store, ids)), len(ids))
    return out


def toggle_saved(store: Store, post_id: str) -> bool | None:
    """Save the post, or unsave it when it was saved: its new state (None: no such post)."""
    if posts_repo.get_post(store, post_id, with_text=False) is None:
        return None
    saved = not reading.is_saved(store, post_id)
    reading.set_saved(store, post_id, saved)
    return saved


def citation(store: Store, post_id: str) -> str | None:
    """The post's plain-text citation, as `kb posts cite ID --format plain` writes it."""
    from kb.citation import to_plain

    post = posts_repo.get_post(store, post_id, with_text=False)
    return None if post is None else to_plain(post).strip()
