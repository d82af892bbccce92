"""Split a post version into passages that fit the embedder's window.

Markdown headings first (llama-index ``MarkdownNodeParser``), then sentences
(``SentenceSplitter``) sized with the embedder's own tokenizer so that the embedded text —
a short context header (post title; section heading) plus the passage — never exceeds the
model window: nothing is silently cut.  Each chunk keeps its character offsets in the
version text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CHUNKER_VERSION = "md-sent-1"  # bump when chunking changes: versions are re-chunked
MAX_CHUNK_TOKENS = 256  # even for models with larger windows: passages stay passage-sized
OVERLAP_TOKENS = 16
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


@dataclass
class Chunk:
    position: int
    start: int  # character offsets of the passage in the version text
    end: int
    heading: str
    text: str  # the passage (== version_text[start:end])
    embed_text: str  # header + passage: what is embedded
    tokens: int
    content_hash: str


def header_for(title: str, heading: str) -> str:
    title = " ".join(title.split())[:200]
    heading = " ".join(heading.split())[:160]
    return f"{title}\n{heading}\n\n" if heading else f"{title}\n\n"


def _section_heading(node: Any) -> str:
    parts = [p for p in str(node.metadata.get("header_path", "/")).split("/") if p]
    first = node.text.lstrip().split("\n", 1)[0]
    m = _HEADING.match(first)
    if m:
        parts.append(m.group(1))
    return " › ".join(parts)


def _locate(text: str, piece: str, cursor: int) -> tuple[int, int]:
    """Offsets of ``piece`` in ``text`` at or after ``cursor`` (the splitters keep text
    verbatim; the fallbacks only guard against whitespace normalization)."""
    i = text.find(piece, cursor)
    if i >= 0:
        return i, i + len(piece)
    words = piece.split()
    if not words:
        return cursor, cursor
    head = text.find(words[0], cursor)
    start = head if head >= 0 else cursor
    tail = text.find(words[-1], start)
    end = tail + len(words[-1]) if tail >= 0 else min(len(text), start + len(piece))
    return start, end


def chunk_text(title: str, text: str, count_tokens: Callable[[str], int],
               max_tokens: int = MAX_CHUNK_TOKENS) -> list[Chunk]:
    """Chunks of ``text``; ``count_tokens`` counts what the model sees (with special tokens)."""
    from llama_index.core import Document
    from llama_index.core.node_parser import MarkdownNodeParser

    if not text.strip():
        return []
    window = min(max_tokens, MAX_CHUNK_TOKENS)
    sections: list[Any] = MarkdownNodeParser(include_metadata=True).get_nodes_from_documents(
        [Document(text=text)])
    out: list[Chunk] = []
    cursor = 0
    for node in sections:
        heading = _section_heading(node)
        header = header_for(title, heading)
        budget = window - count_tokens(header)  # count_tokens(header) includes [CLS]/[SEP]
        sec_start = node.start_char_idx if node.start_char_idx is not None else cursor
        sec_text = text[sec_start:node.end_char_idx] if node.end_char_idx else node.text
        pieces = _split(sec_text, budget, count_tokens, header, window)
        sec_cursor = 0
        for piece in pieces:
            a, b = _locate(sec_text, piece, sec_cursor)
            sec_cursor = max(sec_cursor, a + 1)
            start, end = sec_start + a, sec_start + b
            body = text[start:end]
            embed_text = header + body
            out.append(Chunk(position=len(out), start=start, end=end, heading=heading, text=body,
                             embed_text=embed_text, tokens=count_tokens(embed_text),
                             content_hash=hashlib.sha256(embed_text.encode()).hexdigest()))
        cursor = sec_start + len(sec_text)
    return out


def _split(section: str, budget: int, count_tokens: Callable[[str], int], header: str,
           window: int) -> list[str]:
    """Sentence-split ``section`` into pieces whose header + text fits ``window`` tokens."""
    from llama_index.core.node_parser import SentenceSplitter

    if not section.strip():
        return []
    if count_tokens(header + section) <= window:
        return [section.strip()]
    size = max(budget, 32)
    for _ in range(4):
        splitter = SentenceSplitter(chunk_size=size, chunk_overlap=min(OVERLAP_TOKENS, size // 4),
                                    tokenizer=lambda s: [0] * max(count_tokens(s) - 2, 0))
        pieces = [p for p in splitter.split_text(section) if p.strip()]
        if all(count_tokens(header + p) <= window for p in pieces):
            return pieces
        size = int(size * 0.85)  # tokens merge differently across split boundaries: shrink
    # last resort: hard-cut by words so that every piece fits
    return _hard_split(section, header, window, count_tokens)


def _hard_split(section: str, header: str, window: int,
                count_tokens: Callable[[str], int]) -> list[str]:
    words, pieces, cur = section.split(), [], []  # type: tuple[list[str], list[str], list[str]]
    for w in words:
        if cur and count_tokens(header + " ".join([*cur, w])) > window:
            pieces.append(" ".join(cur))
            cur = []
        cur.append(w[:200])
    if cur:
        pieces.append(" ".join(cur))
    return pieces
