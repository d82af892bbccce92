"""OPML import/export of sources."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from xml.sax.saxutils import quoteattr


class OpmlError(ValueError):
    pass


def parse_opml(data: bytes, *, where: str = "OPML") -> list[tuple[str, str, str]]:
    """(title, url, kind) of every outline with an ``xmlUrl`` (feed) or, failing that, an
    ``htmlUrl`` marked ``type="page"``.  Entity declarations are refused (no expansion bombs)."""
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
        if url:
            title = el.get("title") or el.get("text") or ""
            out.append((title.strip(), url.strip(), kind))
    return out


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
