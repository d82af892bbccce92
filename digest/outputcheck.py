"""The validator every model-written digest text passes: what a small model gets wrong.

Rejects prompt echo ("you summarize posts", "<<<DATA"), data headers copied from the prompt
("DATA Title: … Authors: …", "Notes on the parts of a long post", "Part 1:"), cut-off
sentences (no final punctuation, or ending in "and", "it's", "the" …), sentences under four
words and one-word fields ("Implementation.").  Model text that fails never reaches a digest:
the caller falls back to the post's own (extractive) sentences or leaves the field empty.
"""

from __future__ import annotations

import re

from digest import prompts

MIN_SENTENCE_WORDS = 4

_DATA_HEADER = re.compile(
    r"(?<![A-Za-z])DATA(?![A-Za-z])|<<<|>>>|\b(?:title|authors?|relevance|implications|"
    r"summary|notes|part \d+)\s*:|notes on the parts of a long post|the post itself was too "
    r"long|\(no body text\)", re.I)
_ECHO = (*prompts.ECHO_MARKERS, "untrusted", "reply with", "json object", "the keys",
         "here is the summary", "here's the summary")
_END = re.compile(r"[.!?](?:[\"'”’)\]]|\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])*$")
_DANGLING_END = re.compile(
    r"\b(?:and|or|but|nor|the|a|an|of|to|from|into|its|it's|their|our|your|which|than|"
    r"because|while|whether|making|such|e\.g|i\.e)\W*[.!?](?:[\"'”’)\]]|\s*\[\d+\])*$",
    re.I)
_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)\]]*(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])?\s+(?=[A-Z0-9\"“‘'(\[])")


def split(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(text.strip()) if s.strip()]


def sentence_problem(sentence: str) -> str | None:
    """Why one sentence of model text must not reach a digest, or None."""
    s = sentence.strip()
    if not s:
        return "empty"
    low = s.lower()
    if any(m in low for m in _ECHO):
        return "echoes the prompt"
    if _DATA_HEADER.search(s):
        return "copies a data header from the prompt"
    words = re.findall(r"[A-Za-z0-9][\w'’-]*", s)
    if len(words) < MIN_SENTENCE_WORDS:
        return "fewer than four words"
    if not _END.search(s):
        return "cut off (no final punctuation)"
    if _DANGLING_END.search(s):
        return "cut off (ends mid-phrase)"
    return None


def output_problem(text: str, *, title: str = "") -> str | None:
    """Why a field of model text (a summary, an implication, a bullet) must not reach a
    digest, or None: see :func:`sentence_problem` — any bad sentence fails the field — and
    a field that only repeats ``title``."""
    t = text.strip()
    if len(t.split()) <= 1:
        return "a one-word field"
    if title and re.sub(r"\W+", "", t.lower()) == re.sub(r"\W+", "", title.lower()):
        return "only repeats the title"
    for s in split(t):
        why = sentence_problem(s)
        if why:
            return f"{why}: “{s[:80]}”"
    return None


def good_sentences(text: str) -> list[str]:
    """The sentences of ``text`` that pass :func:`sentence_problem`, in order."""
    return [s for s in split(text) if sentence_problem(s) is None]
