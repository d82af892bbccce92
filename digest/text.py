"""Helpers that turn model output into safe, plain digest text.

Model text is never trusted to carry structure: links, bare URLs, headings, list markers,
HTML and line breaks are removed, so nothing a post (or a confused model) writes can add a
section or a link to a digest.  Citation markers like ``[3]`` survive.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_URL = re.compile(r"(?:https?|ftp|file|javascript|data):/*[^\s<>()\]]*", re.I)
_WWW = re.compile(r"\bwww\.[a-z0-9-]+\.[^\s<>()\]]+", re.I)
_HTML = re.compile(r"</?[a-zA-Z][^>]*>")
_LINE_START = re.compile(r"^\s*(?:#{1,6}\s*|>+\s*|[-*+•]\s+|\d{1,2}[.)]\s+|={3,}|-{3,}|\|)", re.M)
_SPACES = re.compile(r"\s+")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.M)


def plain(text: str, *, max_chars: int = 2000) -> str:
    """One paragraph of plain text: no links, URLs, HTML, headings, list markers, newlines,
    control characters."""
    if not text:
        return ""
    t = str(text).replace("\r", "\n")
    t = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]", "", t)  # ANSI escapes, bells
    t = _REF_DEF.sub("", t)
    t = _MD_LINK.sub(lambda m: m.group(1), t)
    t = _HTML.sub("", t)
    t = _URL.sub("", t)
    t = _WWW.sub("", t)
    t = _LINE_START.sub("", t)
    t = t.replace("`", "").replace("**", "").replace("__", "")
    t = t.replace("#", "")
    t = _SPACES.sub(" ", t).strip()
    t = re.sub(r"\(\s*\)", "", t)
    t = re.sub(r"\s+([.,;:!?])", r"\1", t).strip()
    if len(t) > max_chars:
        cut = t[:max_chars]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        t = cut[: end + 1] if end > max_chars // 2 else cut.rstrip() + "…"
    return t


_WORD = re.compile(r"\S+")
_TRAILING = re.compile(r"[\s,;:–—-]*\b(?:and|or|but|of|the|a|an|to|with|in|is|are)?[\s,;:–—-]*$", re.I)


def cut_repetition(text: str, n: int = 4) -> str:
    """Cut a degenerate loop ("… a simple model, and a simple model, and a simple …") at the
    start of its first repeat, which small models produce at temperature 0.  Text without a
    repeated ``n``-word sequence is returned unchanged."""
    words = [m for m in _WORD.finditer(text)]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words) - n + 1):
        gram = tuple(re.sub(r"\W", "", w.group()).lower() for w in words[i:i + n])
        if gram in seen:
            head = _TRAILING.sub("", text[:words[i].start()]).rstrip()
            return head + ("" if head.endswith((".", "!", "?")) else ".")
        seen.add(gram)
    return text


_PREFIX = re.compile(r"^(?:(?:here is |here's )?(?:a |the )?(?:summary|tl;?dr|answer|implications?|"
                     r"notes?)(?: of the post)?\s*[:\-–]\s*)+", re.I)
DATA_ECHO = re.compile(r"^\s*(?:title|authors?)\s*:", re.I)


_LEAD_JUNK = re.compile(r"^[^\w\"“‘'(\[]+")


def strip_data_echo(text: str, title: str, authors: list[str]) -> str:
    """Drop what a small model copies from the prompt before its summary: stray JSON
    punctuation (``} ,``) and ``Title: <the title> Authors: <names>`` preambles."""
    t = _LEAD_JUNK.sub("", text.strip())
    for _ in range(4):
        m = re.match(r"[\"“']?\s*(?:post\s+)?(?:(title|authors?)\s*:|(by)\s)\s*", t, re.I)
        if not m:
            break
        label = (m.group(1) or m.group(2)).lower()
        rest = t[m.end():]
        if label == "title":
            bare = title.strip()
            for cand in (f"“{bare}”", f'"{bare}"', bare):
                if rest.lower().startswith(cand.lower()):
                    rest = rest[len(cand):]
                    break
        else:
            names = "|".join(re.escape(a) for a in sorted(authors, key=len, reverse=True) if a)
            run = re.match(rf"(?:(?:{names})\s*(?:,|and|&)?\s*)+", rest, re.I) if names else None
            if run:
                rest = rest[run.end():]
            elif label == "by":  # "By design, …" is prose, not a byline
                break
        t = _LEAD_JUNK.sub("", rest.lstrip())
    return t


def tidy_sentence(text: str) -> str:
    """Drop a "Summary of the post:" style preamble; capitalize; end with a full stop."""
    t = _PREFIX.sub("", text.strip()).strip()
    if not t:
        return ""
    t = t[0].upper() + t[1:]
    t = re.sub(r"[\s,;:–—-]+([.!?]?)$", r"\1", t)
    return t if t.endswith((".", "!", "?", "]", "\u201d", '"')) else t + "."


def has_junk_word(text: str, limit: int = 35) -> bool:
    """A "word" longer than ``limit`` characters (``a-day-post-to-the-internet-to-the-…``) is
    a degenerate model loop, not prose."""
    return any(len(w) > limit for w in text.split())


def one_line(text: str, *, max_words: int = 12, max_chars: int = 100) -> str:
    """A short title-like line (theme names)."""
    t = plain(text, max_chars=400).strip(" .:;-\"'")
    words = t.split()
    if len(words) > max_words:
        t = " ".join(words[:max_words])
    if len(t) > max_chars:
        t = t[:max_chars].rsplit(" ", 1)[0]
    return t.strip(" .:;-")


def sentences(text: str) -> list[str]:
    """Rough sentence split (good enough to count and trim model prose)."""
    t = text.strip()
    if not t:
        return []
    return [s.strip() for s in _SENTENCE.split(t) if s.strip()]


def first_sentences(text: str, n: int) -> str:
    return " ".join(sentences(text)[:n])


def extract_json(raw: str) -> dict[str, Any] | None:
    """The first JSON object in ``raw`` (code fences and chatter around it tolerated)."""
    if not raw:
        return None
    t = _FENCE.sub("", raw.strip())
    try:
        obj = json.loads(t)
        return obj if isinstance(obj, dict) else None
    except json.JSONDecodeError:
        pass
    start = t.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(t)):
            c = t[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    try:
                        obj = json.loads(t[start : i + 1])
                    except json.JSONDecodeError:
                        break
                    return obj if isinstance(obj, dict) else None
        start = t.find("{", start + 1)
    return None


_FIELD = re.compile(r'"?(summary|relevance|implications)"?\s*[:=]\s*"?', re.I)


def labelled_fields(raw: str) -> dict[str, str]:
    """Best-effort parse of text like ``Summary: ... Relevance: core Implications: ...`` or of
    truncated JSON (``{"summary": "...`` with no closing brace)."""
    out: dict[str, str] = {}
    matches = list(_FIELD.finditer(raw or ""))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(raw)
        value = raw[m.end() : end].strip().rstrip(",}").strip().strip('"').strip()
        value = value.replace('\\"', '"').replace("\\n", " ")
        out.setdefault(m.group(1).lower(), value)
    return out
