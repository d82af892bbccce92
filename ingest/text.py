"""HTML → Markdown, dates → ISO UTC, bytes → text: the small conversions every reader needs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from kb.ids import join_url

_TAG_RE = re.compile(r"<[^>]+>")
_HTML_HINT = re.compile(r"<(p|div|br|a|em|strong|h[1-6]|ul|ol|li|img|span|blockquote|pre|table)"
                        r"[\s/>]", re.I)
_BLANKS = re.compile(r"\n{3,}")


def looks_like_html(text: str) -> bool:
    return bool(_HTML_HINT.search(text))


def html_to_markdown(html: str, base_url: str | None = None) -> str:
    """Clean Markdown from post HTML; links and images made absolute against ``base_url``
    (never glued onto an already absolute URL)."""
    from markdownify import MarkdownConverter

    class _Converter(MarkdownConverter):
        def convert_a(self, el: Any, text: str, parent_tags: Any) -> str:
            href = el.get("href")
            if href:
                el["href"] = join_url(base_url, href.strip().strip("()"))
            return str(super().convert_a(el, text, parent_tags))  # type: ignore[misc]

        def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
            src = el.get("src")
            if src:
                el["src"] = join_url(base_url, src.strip())
            return str(super().convert_img(el, text, parent_tags))  # type: ignore[misc]

        def convert_script(self, el: Any, text: str, parent_tags: Any) -> str:
            return ""

        convert_style = convert_script

    md = _Converter(heading_style="ATX", bullets="*",
                    escape_misc=False).convert(html)
    return tidy(md)


def tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\xa0", " ")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", text).strip()


def strip_tags(text: str) -> str:
    import html

    return " ".join(html.unescape(_TAG_RE.sub(" ", text)).split())


def to_markdown(value: str, *, content_type: str | None = None, base_url: str | None = None) -> str:
    """A feed field as Markdown: HTML is converted, plain text kept as is."""
    if not value:
        return ""
    if (content_type and "html" in content_type) or looks_like_html(value):
        return html_to_markdown(value, base_url)
    return tidy(value)


def iso_utc(value: Any) -> str | None:
    """ISO 8601 UTC ('YYYY-MM-DDTHH:MM:SSZ') from a datetime, date, struct_time or string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif hasattr(value, "tm_year"):  # time.struct_time from feedparser (already UTC)
        try:
            y, mo, d, h, mi, sec = tuple(value)[:6]
            dt = datetime(y, mo, d, h, mi, min(sec, 59), tzinfo=UTC)
        except (TypeError, ValueError):
            return None
    else:
        s = str(value).strip()
        if not s or s.lower() in ("none", "null"):
            return None
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            try:
                from dateutil import parser as dparser

                dt = dparser.parse(s)
            except (ValueError, OverflowError, TypeError):
                return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        return None


def decode_text(body: bytes, content_type: str | None = None) -> tuple[str, str | None]:
    """(text, note): decode with the declared charset, else UTF-8, else the best guess —
    with a note naming what happened when the bytes were not what they claimed."""
    declared = None
    if content_type:
        m = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
        declared = m.group(1) if m else None
    if declared is None:
        mb = re.search(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:4096], re.I)
        declared = mb.group(1).decode("ascii", "replace") if mb else None
    if body.startswith(b"\xef\xbb\xbf"):
        body, declared = body[3:], "utf-8"
    for enc in filter(None, [declared, "utf-8"]):
        try:
            return body.decode(enc), None
        except (LookupError, UnicodeDecodeError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(body).best()
    guess = best.encoding if best else "windows-1252"
    said = f"declared {declared}" if declared else "no charset declared"
    return (body.decode(guess, errors="replace"),
            f"body is not valid UTF-8 ({said}); decoded as {guess}")
