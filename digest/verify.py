"""The verifier every rendered digest must pass before it is stored or written.

- every URL is the canonical URL of a stored post, and no URL contains a second scheme
  (the ``https://www.alignmentforum.org/https://www.alignmentforum.org/posts/…`` failure);
- every linked or headed title is the stored title of that post;
- no post appears twice in Individual Post Summaries (crossposts are one post), nor both
  there and under Also Published;
- the sections are there, in order; every theme has Key Posts that are posts of the day's
  list and cites at least one post; every citation marker points at a numbered post.
"""

from __future__ import annotations

import re

from digest.citations import find_markers
from digest.render import (
    ALSO,
    CONNECTIONS,
    CONTROL_CHARS,
    HEADER,
    INDIVIDUAL,
    THEMES,
    UPDATED,
    unesc,
)
from kb.store.db import Store


class DigestVerificationError(ValueError):
    """A rendered digest broke a rule; ``problems`` lists each one."""

    def __init__(self, day: str, problems: list[str]) -> None:
        self.day = day
        self.problems = problems
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8
                                            else "")
        super().__init__(f"the digest for {day} failed verification and was not written: {shown}")


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s<>()\]\[\"']*")
# a Markdown link on one line; an escaped bracket ("\\[", as render.esc writes) opens none
_LINK = re.compile(r"(?<!\\)\[((?:\\.|[^\]\\\n])*)\]\(([^()\s]*)\)")
_HEAD = re.compile(r"^### (\d+)\. (.+)$")
_LINKLINE = re.compile(r"^Link: (\S+)$")


def _sections(md: str) -> dict[str, str]:
    """Text of each top-level (##) section and of the connections (###) section."""
    out: dict[str, str] = {}
    names = [THEMES, INDIVIDUAL, UPDATED, ALSO]
    lines = md.split("\n")
    current: str | None = None
    for line in lines:
        if line in names:
            current = line
            out[current] = ""
            continue
        if line == "---" and current in (INDIVIDUAL, UPDATED, ALSO):
            current = None
        if current:
            out[current] += line + "\n"
    return out


def check(md: str, store: Store, day: str) -> list[str]:
    """Every problem of ``md`` (empty when the digest may be written)."""
    problems: list[str] = []
    conn = store.conn
    lines = md.split("\n")
    if not lines or lines[0] != HEADER.format(day=day):
        problems.append(f"the first line is not {HEADER.format(day=day)!r}")

    titles: dict[str, str] = {}
    for url in dict.fromkeys(u.rstrip(".,;:") for u in _URL.findall(md)):
        if url.count("://") > 1 or len(re.findall(r"https?:/", url, re.I)) > 1:
            problems.append(f"the URL {url} contains a second scheme (a doubled link)")
            continue
        row = conn.execute("SELECT title FROM posts WHERE canonical_url = ?", (url,)).fetchone()
        if row is None:
            problems.append(f"the link {url} is not the canonical URL of any stored post")
        else:
            titles[url] = row[0]

    for text, url in _LINK.findall(md):
        if url in titles and " ".join(unesc(text).split()) != _shown(titles[url]):
            problems.append(f"the link text {unesc(text)!r} is not the stored title of {url} "
                            f"({titles[url]!r})")

    positions = [md.find("\n" + s + "\n") for s in (THEMES, INDIVIDUAL)]
    if -1 in positions or positions != sorted(positions):
        problems.append(f"the sections {THEMES!r} and {INDIVIDUAL!r} are missing or out of order")
    sections = _sections(md)

    # Individual Post Summaries: numbered, each post once, heading = stored title
    numbered: dict[int, str] = {}
    seen_urls: dict[str, int] = {}
    head: tuple[int, str] | None = None
    for line in sections.get(INDIVIDUAL, "").split("\n"):
        m = _HEAD.match(line)
        if m:
            head = (int(m.group(1)), unesc(m.group(2)))
            continue
        m = _LINKLINE.match(line)
        if m and head:
            n, title = head
            url = m.group(1)
            if url in seen_urls:
                problems.append(f"post {url} appears twice in Individual Post Summaries "
                                f"(as {seen_urls[url]} and {n})")
            seen_urls[url] = n
            numbered[n] = url
            if url in titles and " ".join(title.split()) != _shown(titles[url]):
                problems.append(f"summary {n} is headed {title!r}, not the stored title "
                                f"{titles[url]!r}")
            head = None
    for _, url in _LINK.findall(sections.get(ALSO, "")):
        if url in seen_urls:
            problems.append(f"post {url} is both summarized and listed under Also Published")

    # markers and themes
    for n in find_markers(md):
        if n not in numbered:
            problems.append(f"citation [{n}] does not point at a numbered post summary")
    themes_text = sections.get(THEMES, "").split("\n" + CONNECTIONS + "\n")[0]
    blocks = re.split(r"^### \d+\. .*$", themes_text, flags=re.M)[1:]
    for i, block in enumerate(blocks, 1):
        # Broader Implications is left out when none of the theme's posts states one
        if "**Key Posts:**" not in block or "**Summary:**" not in block:
            problems.append(f"theme {i} lacks Key Posts or Summary")
            continue
        key_part, rest = block.split("**Summary:**", 1)
        keys = [url for _, url in _LINK.findall(key_part)]
        if not keys:
            problems.append(f"theme {i} has no Key Posts")
        for url in keys:
            if url not in seen_urls:
                problems.append(f"theme {i} names {url} as a Key Post but it is not one of the "
                                "day's summarized posts")
        if not find_markers(rest):
            problems.append(f"theme {i} cites no post")
    return problems


def verify(md: str, store: Store, day: str) -> None:
    problems = check(md, store, day)
    if problems:
        raise DigestVerificationError(day, problems)


def _shown(title: str) -> str:
    """A stored title as the digest shows it (control characters dropped, spaces collapsed)."""
    return " ".join(CONTROL_CHARS.sub("", title).split())
