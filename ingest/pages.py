"""Feedless pages → one :class:`PostRecord` each (trafilatura for HTML, as-is for Markdown).

A page source is one post whose versions change when its content changes.  The page's own
"modified" date is recorded with each version: niplav-style header lines
(``created: 2025-05-30, modified: 2025-06-20``), ``article:modified_time`` /
``dateModified`` metadata.
"""

from __future__ import annotations

import re
from typing import Any

from ingest.text import decode_text, iso_utc, looks_like_html, tidy
from kb.ids import host_of, join_url, normalize_url
from kb.store.posts import PostRecord

_CREATED = re.compile(r"\bcreated:\s*(\d{4}-\d{2}-\d{2})", re.I)
_MODIFIED = re.compile(r"\bmodified:\s*(\d{4}-\d{2}-\d{2})", re.I)
_META_MODIFIED = re.compile(
    r"(?:article:modified_time|og:updated_time|dateModified)[\"']?\s*(?:content=|:)\s*[\"']"
    r"([0-9][0-9T:+.Z -]{9,40})[\"']", re.I)
_ATX = re.compile(r"^#{1,3}\s+(.+?)\s*#*\s*$", re.M)
_SETEXT = re.compile(r"^([^\n]+)\n(?:=+|-+)\s*$", re.M)


class PageError(ValueError):
    """A page gave no article text; the message names it."""


def header_dates(text: str) -> tuple[str | None, str | None]:
    """(created, modified) from a "created: …, modified: …" line near the top of a page."""
    head = text[:3000]
    c, m = _CREATED.search(head), _MODIFIED.search(head)
    return (iso_utc(c.group(1)) if c else None, iso_utc(m.group(1)) if m else None)


def markdown_title(text: str) -> str | None:
    """The first real heading of a Markdown document (setext or ATX)."""
    cands = []
    for rx in (_SETEXT, _ATX):
        for m in rx.finditer(text):
            title = m.group(1).strip().strip("*_ ")
            if title and not title.startswith(("[", "!", "|", "-", "*")):
                cands.append((m.start(), title))
                break
    return min(cands)[1] if cands else None


def extract_page(body: bytes, *, url: str, content_type: str | None = None,
                 origin: str | None = None) -> tuple[PostRecord, list[str]]:
    """(record, notes) for a fetched page.  Raises :class:`PageError` when it has no text."""
    if not body.strip():
        raise PageError(f"{url}: empty response body (expected a page)")
    text, note = decode_text(body, content_type)
    notes = [f"{url}: {note}"] if note else []
    ctype = (content_type or "").lower()
    is_md = "markdown" in ctype or url.lower().endswith((".md", ".markdown")) or (
        "html" not in ctype and not looks_like_html(text))
    rec = _markdown_page(text, url) if is_md else _html_page(text, url)
    rec.origin = origin or url
    if not rec.text.strip():
        raise PageError(f"{url}: no article text found in the page")
    return rec, notes


def _markdown_page(text: str, url: str) -> PostRecord:
    text = tidy(text)
    created, modified = header_dates(text)
    title = markdown_title(text) or url.rstrip("/").rsplit("/", 1)[-1]
    author = re.search(r"\bauthor:\s*([^,*\n]+)", text[:3000], re.I)
    return PostRecord(title=title, text=text, urls=[url], published=created, modified=modified,
                      authors=[author.group(1).strip()] if author else [])


def _html_page(html: str, url: str) -> PostRecord:
    import trafilatura

    out = trafilatura.extract(html, url=url, output_format="markdown", with_metadata=True,
                              include_links=True, include_formatting=True,
                              include_comments=False, include_tables=True)
    meta, text = _split_front_matter(out or "")
    text = tidy(text)
    created, modified = header_dates(text)
    m = _META_MODIFIED.search(html[:50_000])
    if m and not modified:
        modified = iso_utc(m.group(1))
    authors = [a.strip() for a in str(meta.get("author") or "").split(";") if a.strip()]
    rec = PostRecord(title=str(meta.get("title") or "").strip() or markdown_title(text) or url,
                     text=text, urls=[url], authors=authors,
                     published=iso_utc(meta.get("date")) or created, modified=modified)
    canonical = str(meta.get("url") or "").strip()
    if canonical.startswith(("http://", "https://")):
        canonical = join_url(url, canonical)
        path = canonical.split(host_of(canonical), 1)[-1]
        # a canonical link that names another specific page makes this page a copy of it
        if path.strip("/") and normalize_url(canonical) != normalize_url(url):
            rec.original_url = canonical
    return rec


def _split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---\n"):
        return {}, text
    end = text.find("\n---", 4)
    if end < 0:
        return {}, text
    import yaml

    try:
        meta = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError:
        meta = {}
    return (meta if isinstance(meta, dict) else {}), text[end + 4:].lstrip("\n")
