"""Post cards, the lever measured and NOT kept (README "Retrieval quality"): one extra passage per post — its title, authors and section headings as the
context header, and the post's own summary (its TL;DR / Summary / Abstract paragraph, else its
opening paragraphs) as the body — embedded beside the ordinary passages, so that a question
about what a post is *about* can find the post even when no single passage says it in those
words.

The design measured: a card stored as a chunk like any other (the last position of the
post's version), so it is indexed, embedded, reused and removed with the passages; its body a
verbatim span of the post (``text[start:end]``), so a card found by a search is shown and cited
like any passage; only its header differs (``by <authors> · <headings>``).  Measured on the
hard set with bench/retrieval_levers.py, it adds nothing once passages are aggregated per post,
so kb does not index cards; this module keeps the lever reproducible.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from kb.index.chunking import Chunk, header_for

CARD_VERSION = "card-1"  # bump when the card text changes: every card is re-embedded
CARD_TOKENS = 256
_ATX = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$")
_SUMMARY = re.compile(r"^(tl;?dr|summary|abstract|in short|short version|overview)\b[:.\s-]*",
                      re.IGNORECASE)
_SKIP = re.compile(r"^(epistemic (status|effort)|cross-?posted|(first|originally) posted|thanks to|this is a linkpost|"
                   r"produced as part|content warning|note:|\(?note|related:|see also|"
                   r"previously:|\[?click here)", re.IGNORECASE)
_MARKUP = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[\^[^\]]*\]|<[^>]+>|[*_`>#]+|\\")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def plain(text: str) -> str:
    """Markdown -> plain words: links keep their text, images, footnote marks and emphasis go."""
    return " ".join(_MARKUP.sub(" ", _LINK.sub(r"\1", text)).split())


def headings(text: str) -> list[str]:
    """The section headings of a Markdown text (ATX ``#`` and setext underlines), in order."""
    out: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _ATX.match(line)
        h = m.group(1) if m else None
        if h is None and i > 0 and _SETEXT.match(line) and lines[i - 1].strip() \
                and len(line.strip()) >= 3 and not _SETEXT.match(lines[i - 1]):
            h = lines[i - 1]
        if h is not None:
            h = plain(h)
            if h and h.lower() not in (x.lower() for x in out):
                out.append(h)
    return out


def _paragraphs(text: str) -> list[str]:
    paras = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines()
                 if not _ATX.match(ln) and not _SETEXT.match(ln)]
        p = plain(" ".join(lines))
        if p:
            paras.append(p)
    return paras


def summary(text: str) -> str:
    """The post's own summary paragraph (TL;DR, Summary, Abstract: that paragraph, or the one
    after such a heading), else its opening paragraphs (disclaimers and notes skipped)."""
    paras = _paragraphs(text)
    for i, p in enumerate(paras[:12]):
        m = _SUMMARY.match(p)
        if m:
            rest = p[m.end():].strip()
            if len(rest) >= 40:
                return rest
            if i + 1 < len(paras):
                return paras[i + 1]
    heads = [h.lower() for h in headings(text)[:3]]
    if any(_SUMMARY.match(h) for h in heads):  # "## Summary" heading: the paragraph under it
        lines = text.splitlines()
        for j, line in enumerate(lines):
            m = _ATX.match(line)
            if m and _SUMMARY.match(plain(m.group(1))):
                after = _paragraphs("\n".join(lines[j + 1:]))
                if after:
                    return after[0]
    body = [p for p in paras if len(p) >= 40 and not _SKIP.match(p)]
    return " ".join(body[:3])


def card_text(title: str, authors: list[str], text: str,
              count_tokens: Callable[[str], int], max_tokens: int = CARD_TOKENS) -> str:
    """The card: title, authors, headings and as much of the summary as fits ``max_tokens``
    (as counted by the embedder's tokenizer)."""
    head = " ".join(title.split())[:200]
    if authors:
        head += "\nby " + ", ".join(authors[:4])
    secs = headings(text)[:12]
    tail = ("\nSections: " + "; ".join(s[:80] for s in secs)) if secs else ""
    budget = min(max_tokens, CARD_TOKENS)
    while tail and count_tokens(head + tail) > budget // 2:  # headings: at most half
        secs = secs[:-1]
        tail = ("\nSections: " + "; ".join(s[:80] for s in secs)) if secs else ""
    words = summary(text).split()
    lo, hi = 0, len(words)
    while lo < hi:  # the longest prefix of the summary that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(f"{head}\n{' '.join(words[:mid])}{tail}") <= budget:
            lo = mid
        else:
            hi = mid - 1
    body = " ".join(words[:lo])
    return f"{head}\n{body}{tail}" if body else head + tail


def _blocks(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line separated block of ``text``."""
    out, pos = [], 0
    for m in re.finditer(r"\n[ \t]*\n", text):
        if text[pos:m.start()].strip():
            out.append((pos, m.start()))
        pos = m.end()
    if text[pos:].strip():
        out.append((pos, len(text)))
    return out


def summary_span(text: str) -> tuple[int, int]:
    """Offsets of the post's own summary in ``text``: the paragraph that starts with TL;DR /
    Summary / Abstract (or the one after such a label or heading), else the first three
    paragraphs of prose (disclaimers, notes, images and headings skipped).  (0, 0) when there
    is no prose."""
    blocks = [(a, b, plain(" ".join(ln for ln in text[a:b].splitlines()
                                    if not _SETEXT.match(ln))))
              for a, b in _blocks(text)]
    for i, (a, b, p) in enumerate(blocks[:12]):
        is_heading = bool(_ATX.match(text[a:b].strip().splitlines()[0])) or \
            any(_SETEXT.match(ln) for ln in text[a:b].splitlines()[1:2])
        m = _SUMMARY.match(p)
        if not m:
            continue
        if len(p[m.end():].strip()) >= 40 and not is_heading:
            return a, b
        nxt = [(x, y) for x, y, q in blocks[i + 1:i + 3] if len(q) >= 40]
        if nxt:
            return nxt[0]
    prose = [(a, b) for a, b, p in blocks if len(p) >= 40 and not _SKIP.match(p)
             and not _ATX.match(text[a:b].strip())]
    if not prose:
        return 0, 0
    last = prose[min(2, len(prose) - 1)]
    return prose[0][0], last[1]


def card_heading(authors: list[str], text: str) -> str:
    """The card's header line: ``by A, B · Heading 1; Heading 2; ...``."""
    by = ("by " + ", ".join(authors[:3])) if authors else ""
    secs = "; ".join(h[:60] for h in headings(text)[:10])
    return " · ".join(x for x in (by, secs) if x)


def card_chunk(title: str, authors: list[str], text: str, position: int,
               count_tokens: Callable[[str], int], max_tokens: int = CARD_TOKENS) -> Chunk | None:
    """The post's card as a chunk at ``position``, its body cut (at a word end) so that header
    and body fit ``max_tokens``; None for a post without prose."""
    start, end = summary_span(text)
    if end <= start:
        return None
    header = header_for(title, card_heading(authors, text))
    window = min(max_tokens, CARD_TOKENS)
    ends = [m.end() for m in re.finditer(r"\S+", text[start:end])]
    lo, hi = 0, len(ends)
    while lo < hi:  # the longest word prefix that fits
        mid = (lo + hi + 1) // 2
        if count_tokens(header + text[start:start + ends[mid - 1]]) <= window:
            lo = mid
        else:
            hi = mid - 1
    if lo == 0:
        return None
    end = start + ends[lo - 1]
    body = text[start:end]
    embed_text = header + body
    return Chunk(position=position, start=start, end=end, heading=header.split("\n")[1],
                 text=body, embed_text=embed_text, tokens=count_tokens(embed_text),
                 content_hash=hashlib.sha256(
                     f"{CARD_VERSION}\n{embed_text}".encode()).hexdigest())

