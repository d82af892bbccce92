"""The Connections section said from the data, each statement with its citations:

- key phrases two themes share (a phrase among the key phrases of both, used by posts of both);
- authors who wrote posts in more than one theme;
- a post of one theme linking to a post of another (links in its text, resolved against the
  archive's post URLs);
- themes that continue a thread of an earlier digest.

Theme names and author names come from posts, so they are escaped for Markdown here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from digest.render import esc
from digest.theme_extract import Phrase
from kb.ids import lw_post_id
from kb.store.db import Store
from kb.store.posts import get_post

MAX_STATEMENTS = 5
_LINK = re.compile(r"https?://[^\s<>()\[\]\"']+")


@dataclass
class ThemeFacts:
    name: str
    numbers: list[int]
    phrases: list[Phrase] = field(default_factory=list)
    continues: dict[str, Any] | None = None


@dataclass
class PostFacts:
    n: int
    post_id: str
    authors: list[str]
    text: str


def _cite(nums: Sequence[int]) -> str:
    return "[" + ", ".join(map(str, sorted(set(nums)))) + "]"


def _q(name: str) -> str:
    return f"“{esc(name)}”"


def linked_post_ids(store: Store | None, text: str) -> list[str]:
    """Ids of archive posts that ``text`` links to (LW/AF links by post id, others by URL)."""
    out: list[str] = []
    for url in _LINK.findall(text or ""):
        url = url.rstrip(".,;:!?")
        pid = lw_post_id(url)
        if pid is None and store is not None:
            post = get_post(store, url, with_text=False)
            pid = post.id if post else None
        if pid and pid not in out:
            out.append(pid)
    return out


def _shared_phrases(themes: Sequence[ThemeFacts]) -> list[str]:
    out = []
    for i, a in enumerate(themes):
        for b in themes[i + 1:]:
            top_b = {p.key: p for p in b.phrases[:15]}
            shared = [(p, top_b[p.key]) for p in a.phrases[:15] if p.key in top_b]
            if not shared:
                continue
            words = " and ".join(f"“{esc(p.shown)}”" for p, _ in shared[:2])
            nums = [n for p, q in shared[:2] for n in p.posts + q.posts]
            out.append(f"{_q(a.name)} and {_q(b.name)} both discuss {words} {_cite(nums)}.")
    return out


def _shared_authors(themes: Sequence[ThemeFacts], posts: dict[int, PostFacts]) -> list[str]:
    where: dict[str, dict[int, list[int]]] = {}
    for i, t in enumerate(themes):
        for n in t.numbers:
            for a in posts[n].authors if n in posts else []:
                if a and a.lower() not in ("unknown", "anonymous"):
                    where.setdefault(a, {}).setdefault(i, []).append(n)
    out = []
    for author, by_theme in sorted(where.items()):
        if len(by_theme) < 2:
            continue
        parts = [f"{_q(themes[i].name)} {_cite(nums)}" for i, nums in sorted(by_theme.items())]
        out.append(f"{esc(author)} wrote posts in both " + " and ".join(parts[:2]) + "."
                   if len(parts) == 2 else
                   f"{esc(author)} wrote posts in " + ", ".join(parts[:-1]) + f" and {parts[-1]}.")
    return out


def _links(store: Store | None, themes: Sequence[ThemeFacts], posts: dict[int, PostFacts]
           ) -> list[str]:
    theme_of = {n: i for i, t in enumerate(themes) for n in t.numbers}
    by_id = {p.post_id: p.n for p in posts.values()}
    out = []
    for n in sorted(theme_of):
        if n not in posts:
            continue
        for pid in linked_post_ids(store, posts[n].text):
            m = by_id.get(pid)
            if m is None or m == n or theme_of.get(m) is None or theme_of[m] == theme_of[n]:
                continue
            out.append(f"Post [{n}] of {_q(themes[theme_of[n]].name)} links to post [{m}] of "
                       f"{_q(themes[theme_of[m]].name)}.")
    return out


def _threads(themes: Sequence[ThemeFacts]) -> list[str]:
    return [f"{_q(t.name)} {_cite(t.numbers)} continues the thread “{esc(t.continues['name'])}” "
            f"of the digest of {t.continues['date']}."
            for t in themes if t.continues]


def connections(store: Store | None, themes: Sequence[ThemeFacts], posts: Sequence[PostFacts]
                ) -> str:
    """The Connections text: what the data says links the themes, or one short honest line."""
    by_n = {p.n: p for p in posts}
    found = (_links(store, themes, by_n) + _shared_authors(themes, by_n)
             + _shared_phrases(themes))[:MAX_STATEMENTS] + _threads(themes)
    if found:
        return " ".join(found)
    if len(themes) == 1:
        return "All of the day's posts on these topics fall under the one theme above."
    return "The day's themes share no key phrase, author or link between their posts."
