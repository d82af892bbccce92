"""LessWrong / Alignment Forum specifics: feed-item wrappers, posting dates, podcast copies.

A LW/AF feed item's description is the whole post, wrapped as
``Published on March 11, 2025 6:52 PM GMT<br/><br/>`` + body +
``<br/><br/><a href="…#comments">Discuss</a>``.  The posting date comes from that line
(moment.js ``LLL z``); pubDate is when the post crossed the feed's karma threshold.

The Nonlinear Library podcast feed republishes LW/AF/EA Forum posts as truncated text with
a "Welcome to The Nonlinear Library…" preamble and guids like ``<id>_NL_AF``: such items map
to the LW/AF post id but never replace better text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from kb.ids import is_lw_id, is_lw_or_af, lw_post_id

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
# "Published on March 11, 2025 6:52 PM GMT" (HTML) or the same line from html2text (Markdown)
_PUBLISHED = re.compile(
    rf"^\s*(?:<p>\s*)?Published on\s+((?:{_MONTHS}) \d{{1,2}}, \d{{4}}(?: \d{{1,2}}:\d{{2}} [AP]M)?)"
    r"(?: ([A-Z]{2,5}|[+-]\d{2}:?\d{2}))?\s*(?:(?:<br\s*/?>|</br>|</p>)\s*)*", re.I)
_DISCUSS_HTML = re.compile(
    r"(?:\s|<br\s*/?>|</br>)*<a\s+href=[\"'][^\"']*[\"'][^>]*>\s*Discuss\s*</a>\s*(?:</p>)?\s*$",
    re.I)
_DISCUSS_MD = re.compile(r"(?:\s*\n)\s*(?:\[Discuss\]\([^)]*\)|Discuss)\s*$")
_TZ_OFFSETS = {"GMT": 0, "UTC": 0, "Z": 0}
_NL_GUID = re.compile(r"^([A-Za-z0-9]{17})_NL_(AF|LW|EA)$")
_NL_PREAMBLE = re.compile(
    r"^\s*Welcome to The Nonlinear Library.*?This is: (?P<title>.*?), published by (?P<author>.*?) "
    rf"on (?P<date>(?:{_MONTHS}) \d{{1,2}}, \d{{4}}) on (?P<site>[^\n]*?)\.\s*\n", re.S)
_NL_TITLE = re.compile(r"^(?:AF|LW|EA)\s+-\s+")
_NL_WELCOME = re.compile(r"^\s*Welcome to The Nonlinear Library[^.]*\.\s*")
_NL_OUTRO = re.compile(r"\s*Thanks for listening\. To help us out with The Nonlinear Library.*$",
                       re.S)


def parse_published_line(value: str) -> str | None:
    """ISO UTC of a "March 11, 2025 6:52 PM GMT" posting-date string."""
    value = value.strip()
    m = re.match(r"^(.*?)(?: ([A-Z]{2,5}))?$", value)
    assert m is not None
    when, tz = m.group(1), m.group(2) or "GMT"
    for fmt in ("%B %d, %Y %I:%M %p", "%B %d, %Y"):
        try:
            dt = datetime.strptime(when, fmt)
        except ValueError:
            continue
        if tz.upper() not in _TZ_OFFSETS:
            return None  # an unknown zone abbreviation: better the feed's own date than a guess
        return dt.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def strip_wrapper(body: str) -> tuple[str, str | None]:
    """(body without the "Published on" line and the trailing Discuss link, posting date)."""
    published = None
    m = _PUBLISHED.match(body)
    if m:
        published = parse_published_line(m.group(1) + (f" {m.group(2)}" if m.group(2) else ""))
        body = body[m.end():]
    body = _DISCUSS_HTML.sub("", body)
    body = _DISCUSS_MD.sub("", body) if not body.rstrip().endswith(">") else body
    if body.strip() == "Discuss":
        body = ""
    return body, published


def is_lw_item(link: str, guid: str | None, feed_link: str | None) -> str | None:
    """The LW/AF post id of a feed item from LessWrong or the Alignment Forum, else None."""
    pid = lw_post_id(link) if link else None
    if pid and (guid is None or guid == pid or not is_lw_id(guid)):
        return pid
    if guid and is_lw_id(guid) and (is_lw_or_af(link or "") or is_lw_or_af(feed_link or "")):
        return guid
    return None


def nonlinear_guid(guid: str | None) -> tuple[str, str] | None:
    """(post id, "AF"|"LW"|"EA") for a Nonlinear Library podcast guid like ``<id>_NL_AF``."""
    m = _NL_GUID.match((guid or "").strip())
    return (m.group(1), m.group(2)) if m else None


def strip_nonlinear(title: str, text: str, author: str | None) -> tuple[str, str, str | None, str | None]:
    """(title, text, author, posting date) of a Nonlinear Library item without the podcast
    preamble, the "AF - … by Author" title decoration and the closing outro."""
    published = None
    m = _NL_PREAMBLE.match(text)
    if m:
        title = m.group("title").strip() or title
        author = author or m.group("author").strip()
        published = parse_published_line(m.group("date"))
        text = text[m.end():]
    else:
        text = _NL_WELCOME.sub("", text)
        if _NL_TITLE.match(title):
            title = _NL_TITLE.sub("", title)
            if author and title.endswith(f" by {author}"):
                title = title[: -len(f" by {author}")]
            elif " by " in title:
                title = title.rsplit(" by ", 1)[0]
    text = _NL_OUTRO.sub("", text)
    return title.strip(), text.strip(), author, published
