"""Links a model writes are never shown: the only links kb shows are those of cited posts,
taken from the store.

A small model invents plausible URLs ("https://www.alignmentforum.org/posts/abc/…"), and a
Markdown renderer turns ``[text](url)`` into something a reader clicks.  :func:`strip_links`
keeps the visible words of a link and drops its target, in every form Markdown and HTML
offer: inline and reference links, images, autolinks, bare URLs, ``www.`` addresses, bare
domains with a common top-level domain and e-mail addresses, ``<a href>`` tags.  Citation markers (``[3]``, ``[2, 5]``) are not links and stay.
"""

from __future__ import annotations

import re

_TARGET = r"\s*<?(?:[^()\n]|\([^()\n]*\))*>?\s*"  # a link target, one level of (parens)
_IMAGE = re.compile(r"!\[([^\]\n]*)\]\(" + _TARGET + r"\)")
_INLINE = re.compile(r"\[([^\]\n]+)\]\(" + _TARGET + r"\)")
_REFERENCE_DEF = re.compile(r"(?m)^[ \t]{0,3}\[([^\]\n]+)\]:[ \t]*\S+.*$")
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto|file|javascript|data):[^>\s]*>", re.IGNORECASE)
_EMAIL_AUTOLINK = re.compile(r"<[^\s<>@]+@[^\s<>@]+\.[^\s<>@]+>")
_HTML_A = re.compile(r"<a\b[^>]*>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"</?(?:a|img|link|iframe|script)\b[^>]*>", re.IGNORECASE)
_URL_CHAR = r"[^\s<>\"'\]()]"
_BARE = re.compile(
    r"(?:(?:https?|ftp|file|javascript|data|mailto):|www\.)"
    rf"(?:{_URL_CHAR}|\({_URL_CHAR}*\))*(?:[^\s<>\"'\]().,;:!?]|\({_URL_CHAR}*\))",
    re.IGNORECASE)
# a bare domain a reader could copy ("arxiv.org/abs/2401.01234", "evil.com"); common
# top-level domains only, so "e.g." or "Node.js" are left alone
_DOMAIN = re.compile(
    r"(?<![\w@/.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|org|net|io|ai|edu|gov|dev|app|info|co|uk|de|fr|xyz|me|ly|so|gg|ru|cn|us|ca)"
    r"(?![\w-])(?:/[^\s<>\"'\]]*[^\s<>\"'\]).,;:!?])?",
    re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
_SPACES = re.compile(r"[ \t]{2,}")
_EMPTY_PARENS = re.compile(r"\(\s*\)|\[\s*\]")


def _marker(text: str) -> bool:
    return bool(re.fullmatch(r"\s*\d{1,3}(?:\s*,\s*\d{1,3})*\s*", text))


def strip_links(text: str) -> tuple[str, list[str]]:
    """``text`` without link targets (the link's words stay), and what was removed."""
    removed: list[str] = []

    def keep_words(m: re.Match[str]) -> str:
        removed.append(m.group(0))
        return m.group(1)

    def drop(m: re.Match[str]) -> str:
        removed.append(m.group(0))
        return ""

    out = _HTML_A.sub(keep_words, text)
    out = _HTML_TAG.sub(drop, out)
    out = _IMAGE.sub(keep_words, out)

    def inline(m: re.Match[str]) -> str:
        removed.append(m.group(0))
        words = m.group(1)
        return words if not _marker(words) else f"[{words.strip()}]"

    out = _INLINE.sub(inline, out)
    labels = {m.group(1).strip().lower() for m in _REFERENCE_DEF.finditer(out)}
    out = _REFERENCE_DEF.sub(drop, out)  # without its definition "[text][ref]" links nowhere
    if labels:  # "[text][ref]" and "[text][]" read as their words
        out = re.sub(r"\[([^\]\n]+)\]\[([^\]\n]*)\]",
                     lambda m: m.group(1) if (m.group(2) or m.group(1)).strip().lower() in labels
                     and not _marker(m.group(1)) else m.group(0), out)
    out = _AUTOLINK.sub(drop, out)
    out = _EMAIL_AUTOLINK.sub(drop, out)
    out = _BARE.sub(drop, out)
    out = _EMAIL.sub(drop, out)
    out = _DOMAIN.sub(drop, out)
    if removed:
        out = _EMPTY_PARENS.sub("", out)
        out = re.sub(r"[ \t]+([.,;:!?])", r"\1", out)
        out = _SPACES.sub(" ", out)
        out = re.sub(r"\n{3,}", "\n\n", out)
    return out.strip() if removed else out, removed


class StreamFilter:
    """:func:`strip_links` for text arriving in pieces: holds text back until a line or a
    sentence ends (a link never spans one), so a link split across pieces is still caught."""

    _BOUNDARY = re.compile(r"(?:\n|[.!?][\"'”’)]*[ \t])(?![^\[]*\]\()")

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        self._held += piece
        cut = 0
        for m in self._BOUNDARY.finditer(self._held):
            cut = m.end()
        if not cut:
            return ""
        ready, self._held = self._held[:cut], self._held[cut:]
        return _clean_piece(ready)

    def flush(self) -> str:
        ready, self._held = self._held, ""
        return _clean_piece(ready)


def _clean_piece(text: str) -> str:
    out, removed = strip_links(text)
    if not removed:
        return text
    lead = text[:len(text) - len(text.lstrip())]  # strip_links trims; the stream keeps
    trail = text[len(text.rstrip()):]  # its spacing
    return lead + out + trail
