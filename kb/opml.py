"""OPML import/export of sources."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit
from xml.sax.saxutils import quoteattr


class OpmlError(ValueError):
    pass


def parse_opml(data: bytes, *, where: str = "OPML",
               problems: list[tuple[str, str]] | None = None) -> list[tuple[str, str, str]]:
    """(title, url, kind) of every outline with an ``xmlUrl`` (feed) or, failing that, an
    ``htmlUrl`` marked ``type="page"``.  Entity declarations are refused (no expansion bombs).

    ``problems``, when given, receives (title, reason) for each outline that says it is a feed
    (``type="rss"``/``"atom"``) but has no ``xmlUrl``."""
    if b"<!ENTITY" in data[:4096].upper():
        raise OpmlError(f"{where}: refusing an OPML file that declares XML entities")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"{where}: not valid OPML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise OpmlError(f"{where}: not an OPML document (root element <{root.tag}>)")
    out = []
    for el in root.iter("outline"):
        url = el.get("xmlUrl")
        kind = "feed"
        if not url and el.get("type") == "page" and el.get("htmlUrl"):
            url, kind = el.get("htmlUrl"), "page"
        title = (el.get("title") or el.get("text") or "").strip()
        if url:
            out.append((title, url.strip(), kind))
        elif problems is not None and (el.get("type") or "").lower() in ("rss", "atom"):
            problems.append((title, "the outline has no xmlUrl"))
    return out


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a source read from an OPML file (None when it can): kb fetches
    http(s) addresses with a host, and file:// URLs.  A bare word or a relative path is refused
    here (outside OPML, `kb sources add` takes local paths)."""
    url = url.strip()
    if not url:
        return "invalid URL: empty"
    if any(c.isspace() for c in url):
        return f"invalid URL {url!r}: contains whitespace"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"invalid URL {url!r}: {exc}"
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None if parts.hostname else f"invalid URL {url!r}: no host"
    if scheme == "file":
        return None if parts.path else f"invalid URL {url!r}: no path"
    if not scheme:
        return f"invalid URL {url!r}: not an absolute http(s) URL"
    return f"invalid URL {url!r}: unsupported scheme {scheme!r} (http, https or file)"


def to_opml(entries: list[tuple[str, str, str]]) -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">',
             "  <head><title>kb sources</title></head>", "  <body>"]
    for name, url, kind in entries:
        if kind == "page":
            lines.append(f'    <outline type="page" text={quoteattr(name)} title={quoteattr(name)} '
                         f"htmlUrl={quoteattr(url)}/>")
        else:
            lines.append(f'    <outline type="rss" text={quoteattr(name)} title={quoteattr(name)} '
                         f"xmlUrl={quoteattr(url)}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines)
