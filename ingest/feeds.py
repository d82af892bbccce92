"""RSS/Atom feeds → :class:`PostRecord` s (feedparser, our own HTML → Markdown).

feedparser runs with HTML sanitizing and relative-URI resolving off (10-20x faster; we
convert to text ourselves and resolve links with :func:`kb.ids.join_url`).  The document is
defused first (:mod:`ingest.safexml`) and always handed over as a stream, never as a string
feedparser could mistake for a URL or a path.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ingest import lw
from ingest.safexml import defuse
from ingest.text import iso_utc, strip_tags, to_markdown
from kb.ids import LW_CANONICAL, fix_doubled_url, is_af_url, join_url, normalize_url
from kb.store.posts import PostRecord

LW_FEED_ORIGIN = "lesswrong/alignmentforum feed"  # LW and AF feeds carry the same text


class FeedError(ValueError):
    """The document is not a feed we can read; the message names the source."""


@dataclass
class ParsedFeed:
    title: str
    link: str | None = None  # the site the feed belongs to (its channel link)
    records: list[PostRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_feed(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Every readable item of a feed document.  Raises :class:`FeedError` when nothing in it
    can be read; partial problems (ill-formed XML, odd items) become ``notes``."""
    import feedparser

    if not body.strip():
        raise FeedError(f"{url}: empty response body (expected an RSS or Atom feed)")
    body, defused = defuse(body)
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    fp = _parse(feedparser, body, headers, url)
    notes = [defused] if defused else []
    if fp.get("bozo") and fp["bozo_exception"].__class__.__name__ == "CharacterEncodingOverride":
        # the declared encoding is wrong (typically "utf-8" on legacy bytes): detect it
        from charset_normalizer import from_bytes

        best = from_bytes(body).best()
        if best is not None and best.encoding:
            retry = _parse(feedparser, body, {**headers, "content-type":
                                              f"application/xml; charset={best.encoding}"}, url)
            if not retry.get("bozo") and len(retry.get("entries", [])) >= len(fp.get("entries", [])):
                notes.append(f"feed is not in the encoding it declares "
                             f"({_bozo_text(fp['bozo_exception'])}); decoded as "
                             f"{best.encoding} (detected)")
                fp = retry
    feed = fp.get("feed", {})
    entries = fp.get("entries", [])
    is_feed = bool(entries or fp.get("version") or feed.get("title") or feed.get("link"))
    if not is_feed:
        head = body.lstrip()[:512].lower()
        if b"<html" in head or b"<!doctype html" in head:
            raise FeedError(f"{url}: got an HTML page, not an RSS/Atom feed (track it with "
                            "`kb sources add URL --kind page` to watch the page itself)")
        problem = _bozo_text(fp.get("bozo_exception")) if fp.get("bozo") else "no channel or items"
        raise FeedError(f"{url}: not a readable RSS/Atom feed: {problem}")
    if fp.get("bozo"):
        exc = fp.get("bozo_exception")
        problem, kind = _bozo_text(exc), exc.__class__.__name__
        if kind == "CharacterEncodingOverride":
            notes.append(f"feed encoding problem ({problem}); text decoded with "
                         f"{fp.get('encoding') or 'a guessed encoding'}")
        elif kind != "NonXMLContentType":
            notes.append(f"feed is not well-formed ({problem}); read leniently")
    feed_link = fix_doubled_url(feed.get("link") or "") or None
    parsed = ParsedFeed(title=strip_tags(feed.get("title", "")) or url, link=feed_link,
                        notes=notes)
    base = url if "://" in url and not url.startswith("file:") else (feed_link or url)
    skipped = 0
    for entry in entries:
        try:
            rec = entry_record(entry, feed=feed, base=base, feed_link=feed_link, source_url=url)
        except Exception as exc:  # one odd item never loses the others
            parsed.notes.append(f"item {entry.get('title', '?')!r} skipped: {exc}")
            continue
        if rec is None:
            skipped += 1
        else:
            parsed.records.append(rec)
    parsed.records = _one_per_post(parsed.records)
    if skipped:
        parsed.notes.append(f"{skipped} empty item(s) without a link or text skipped")
    return parsed


def _one_per_post(records: list[PostRecord]) -> list[PostRecord]:
    """A feed that lists one post twice (a podcast's LW and AF copies) gives one record: the
    longest text, every URL.  Otherwise the two would alternate as "edits" on every run."""
    out: dict[str, PostRecord] = {}
    for rec in records:
        key = rec.lw_id or normalize_url(rec.urls[0])
        seen = out.get(key)
        if seen is None:
            out[key] = rec
            continue
        keep, other = (rec, seen) if len(rec.text) > len(seen.text) else (seen, rec)
        keep.urls = list(dict.fromkeys([*keep.urls, *other.urls]))
        keep.is_af = keep.is_af or other.is_af
        keep.authors = keep.authors or other.authors
        out[key] = keep
    return list(out.values())


def _parse(feedparser: Any, body: bytes, headers: dict[str, str], url: str) -> Any:
    try:
        return feedparser.parse(io.BytesIO(body), sanitize_html=False, resolve_relative_uris=False,
                                response_headers=headers)
    except Exception as exc:  # feedparser promises not to raise; be sure anyway
        raise FeedError(f"{url}: feed parser failed: {exc.__class__.__name__}: {exc}") from exc


def _bozo_text(exc: Any) -> str:
    if exc is None:
        return "unknown problem"
    text = str(exc).strip() or exc.__class__.__name__
    return text.replace("<unknown>:", "line ")


def _content(entry: Any) -> tuple[str, str | None]:
    """The longest body the entry has (content:encoded, Atom content, summary) and its type."""
    best, btype = "", None
    for c in entry.get("content", []) or []:
        value = c.get("value") or ""
        if len(value) > len(best):
            best, btype = value, c.get("type")
    summary = entry.get("summary") or ""
    if len(summary) > len(best):
        detail = entry.get("summary_detail") or {}
        best, btype = summary, detail.get("type")
    return best, btype


def _authors(entry: Any, feed: Any) -> list[str]:
    names = [strip_tags(a.get("name") or "") for a in entry.get("authors", []) or []]
    names = [n for n in names if n]
    if not names and entry.get("author"):
        names = [strip_tags(entry["author"])]
    if not names and feed.get("author"):
        names = [strip_tags(feed["author"])]
    return list(dict.fromkeys(names))


def _title(entry: Any) -> str:
    title = entry.get("title") or ""
    detail = entry.get("title_detail") or {}
    if "html" in (detail.get("type") or ""):
        return strip_tags(title)
    return " ".join(title.split())


def _date(entry: Any, *keys: str) -> str | None:
    for key in keys:
        value = entry.get(f"{key}_parsed")
        if value:
            iso = iso_utc(value)
            if iso:
                return iso
    return None


def entry_record(entry: Any, *, feed: Any, base: str, feed_link: str | None,
                 source_url: str) -> PostRecord | None:
    """One feed item as a PostRecord (None when it has no link at all)."""
    guid = (entry.get("id") or "").strip() or None
    link = (entry.get("link") or "").strip()
    if not link and guid and guid.startswith(("http://", "https://")):
        link = guid
    raw, ctype = _content(entry)
    title = _title(entry)
    if not link:
        # no address of its own: keep it under the feed's address, keyed by guid or content
        if not (title or raw.strip()):
            return None
        key = guid or f"{title}\n{raw}"
        link = f"{feed_link or base}?kb-item={hashlib.sha256(key.encode()).hexdigest()[:12]}"
    link = join_url(base, link)
    authors = _authors(entry, feed)
    published = _date(entry, "published", "created", "updated")
    updated = _date(entry, "updated")
    rec = PostRecord(title=title, text="", urls=[link], authors=authors, published=published,
                     origin=source_url, modified=updated if updated != published else None)
    terms = [strip_tags(str(t.get("term") or "")) for t in entry.get("tags") or []
             if isinstance(t, dict)]
    rec.tags = [t for t in terms if t] or None  # feed categories (for mute_tags)
    for extra in entry.get("links", []) or []:
        if extra.get("rel") == "canonical" and extra.get("href"):
            rec.original_url = join_url(link, extra["href"])

    nl = lw.nonlinear_guid(guid)
    if nl is not None:
        post_id, site = nl
        text = to_markdown(raw, content_type=ctype, base_url=link)
        title, text, author, posted = lw.strip_nonlinear(title, text, authors[0] if authors else None)
        rec.title, rec.text, rec.prefer_text = title, text, False
        rec.authors = [author] if author else authors
        rec.published = posted or published
        if site in ("AF", "LW"):
            rec.lw_id = post_id
            rec.is_af = site == "AF" or is_af_url(link)
        return rec

    lw_id = lw.is_lw_item(link, guid, feed_link)
    if lw_id is not None:
        body, posted = lw.strip_wrapper(raw)
        # resolve against lesswrong.com for LW and AF copies alike (every AF post is on LW
        # too), so the same post from both feeds converts to the same text
        lw_base = LW_CANONICAL + urlsplit(link).path
        rec.text = to_markdown(body, content_type=ctype, base_url=lw_base)
        rec.lw_id, rec.is_af, rec.origin = lw_id, is_af_url(link), LW_FEED_ORIGIN
        rec.published = posted or published  # pubDate is the karma-threshold time, not posting
        rec.modified = None
        return rec
    rec.text = to_markdown(raw, content_type=ctype, base_url=link)
    if not title:
        rec.title = strip_tags(rec.text)[:80] or link
    return rec
