"""FTS5's bm25, computed in Python for a few given passages, with every term of a question.

The keyword search ranks with SQLite FTS5's ``bm25()``, which costs per passage it scores and
reads the whole posting list of every term it scores (its idf).  On a large archive the search
therefore ranks with the question's rarer terms only (``kb.retrieval.keyword_plan``); this
module then re-scores the best of those passages with *all* the terms, as FTS5's bm25 would
over the whole archive:

    score = sum over terms t of idf(t) * f(t) * (k1 + 1) / (f(t) + k1 * (1 - b + b * D / avgD))

with f(t) the column-weighted count of t in the passage, D its length in tokens (FTS5's own
``chunks_fts_docsize``), avgD the archive's mean (FTS5's averages record), k1 = 1.2, b = 0.75,
and idf(t) = ln((N - n(t) + 0.5) / (n(t) + 0.5)) (at least 1e-6) from the number of passages
n(t) holding t, given by the caller (exact or estimated).

Counting a term in a passage needs FTS5's tokenizer ('porter unicode61'): the passage's words
that could stem to a term are found by the start they must have (``_prefix``), and each distinct
word is stemmed by FTS5 itself (an in-memory FTS5 table; results cached), so the counts are
FTS5's own except for words that do not start so (none in the eval questions' best passages
over the whole LW dataset; words with diacritics could), which are missed.  A term FTS5 splits
into several tokens counts as zero.
"""

from __future__ import annotations

import bisect
import math
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75
_CACHE_MAX = 200_000  # distinct words whose stem is remembered


def varints(blob: bytes) -> list[int]:
    """SQLite's big-endian varints (as FTS5 writes them), for values below 2**56."""
    out: list[int] = []
    v = 0
    for byte in blob:
        v = (v << 7) | (byte & 0x7F)
        if byte < 0x80:
            out.append(v)
            v = 0
    return out


@dataclass(frozen=True)
class Totals:
    """An FTS5 table's row count and mean row length in tokens (all columns)."""
    rows: int
    mean_len: float


def totals(conn: sqlite3.Connection, table: str) -> Totals:
    """From FTS5's averages record (``<table>_data`` row 1): rows, then tokens per column."""
    row = conn.execute(f"SELECT block FROM {table}_data WHERE id = 1").fetchone()
    vals = varints(bytes(row[0])) if row and row[0] else []
    rows = vals[0] if vals else 0
    return Totals(rows, (sum(vals[1:]) / rows) if rows else 0.0)


def lengths(conn: sqlite3.Connection, table: str, rowids: Sequence[int]) -> dict[int, int]:
    """Tokens in each row (all columns), from FTS5's ``<table>_docsize``."""
    if not rowids:
        return {}
    marks = ",".join("?" * len(rowids))
    return {r[0]: sum(varints(bytes(r[1])))
            for r in conn.execute(f"SELECT id, sz FROM {table}_docsize WHERE id IN ({marks})",
                                  list(rowids))}


def idf(rows: int, hits: float) -> float:
    """FTS5's idf for a term held by ``hits`` of ``rows`` passages."""
    return max(1e-6, math.log((rows - hits + 0.5) / (hits + 0.5)))


class Stemmer:
    """Words -> the token FTS5's 'porter unicode61' makes of each (None: not one token), by
    FTS5 itself, remembered.  Thread-safe."""

    def __init__(self, tokenize: str = "porter unicode61") -> None:
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        self._conn.execute(f"CREATE VIRTUAL TABLE w USING fts5(x, tokenize = '{tokenize}')")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(w, instance)")
        self._lock = threading.Lock()
        self._known: dict[str, str | None] = {}

    def stems(self, words: Iterable[str]) -> dict[str, str | None]:
        want = set(words)
        with self._lock:
            todo = [w for w in want if w not in self._known]
            if todo:
                if len(self._known) + len(todo) > _CACHE_MAX:
                    self._known.clear()
                self._known.update(self._stem(todo))
            return {w: self._known[w] for w in want}

    def tokens(self, text: str) -> list[str]:
        """FTS5's tokens of ``text``, in order (not remembered)."""
        with self._lock:
            return self._tokenize([text]).get(0, [])

    def _stem(self, words: list[str]) -> dict[str, str | None]:
        # fast: all the words as one row (a row per word costs ~4x more) when each is sure to
        # be one token (letters and digits only: unicode61 keeps such a run whole); else, or
        # should the tokens not line up, a row per word
        if all(_WORD_AT.fullmatch(w) for w in words):
            one = self._tokenize([" ".join(words)]).get(0, [])
            if len(one) == len(words):
                return dict(zip(words, one, strict=True))
        toks = self._tokenize(words)
        return {w: (t[0] if len(t := toks.get(i, [])) == 1 else None)
                for i, w in enumerate(words)}

    def _tokenize(self, texts: list[str]) -> dict[int, list[str]]:
        c = self._conn
        with c:
            c.executemany("INSERT INTO w(rowid, x) VALUES (?, ?)", enumerate(texts))
            toks: dict[int, list[str]] = {}
            for doc, term in c.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
                toks.setdefault(doc, []).append(term)
            c.execute("DELETE FROM w")
        return toks


_stemmer: Stemmer | None = None
_stemmer_lock = threading.Lock()


def stemmer() -> Stemmer:
    """The process's one stemmer (its cache is shared by every search)."""
    global _stemmer
    with _stemmer_lock:
        if _stemmer is None:
            _stemmer = Stemmer()
        return _stemmer


def _prefix(stem: str) -> str:
    """What every word FTS5's porter turns into ``stem`` starts with: the stem less what the
    stemmer may have written in place of the word's own ending — a final "e" or "i" or two
    ("hoping" -> "hope", "say" -> "sai") and the "l" of "bl" ("capability" -> "capabl")."""
    cut = stem[:-1] if stem.endswith("bl") else stem
    for _ in range(2):
        if len(cut) > 2 and cut[-1] in "ei":
            cut = cut[:-1]
    return cut


_WORD_AT = re.compile(r"[^\W_]+")


def _words(blob: str, prefix: str, into: dict[int, str]) -> None:
    """Every word of ``blob`` that starts with ``prefix``, by where it starts.  ``str.find``
    scans at C speed (several times faster than a regex asking for a word start); the places
    it finds inside words are skipped."""
    i = blob.find(prefix)
    while i >= 0:
        if i == 0 or not blob[i - 1].isalnum():
            m = _WORD_AT.match(blob, i)
            if m:
                into[i] = m.group()
        i = blob.find(prefix, i + 1)


class Scorer:
    """bm25 of passages for a question's terms: ``stems`` (FTS5 tokens, distinct) with their
    ``idfs``; ``weights`` per column as bm25 weights them; ``mean_len`` the archive's mean
    passage length in tokens."""

    def __init__(self, stems: Sequence[str], idfs: Sequence[float], weights: Sequence[float],
                 mean_len: float, stem: Stemmer) -> None:
        self.idfs = list(idfs)
        self.weights = list(weights)
        self.mean_len = mean_len
        self._stem = stem
        self._slot = {s: i for i, s in enumerate(stems)}
        self._prefixes = sorted({_prefix(s) for s in stems})

    def counts(self, passages: Sequence[Sequence[str]]) -> list[list[float]]:
        """Each term's count in each passage (its columns), each column's weighted as bm25
        weights it."""
        starts: list[int] = []  # where each column of each passage starts in ``blob``
        parts: list[str] = []
        pos = 0
        for cols in passages:
            for text in cols:
                low = text.lower()  # lower-cased one by one: lower() may change a length
                starts.append(pos)
                parts.append(low)
                pos += len(low) + 1
        blob = "\x00".join(parts)
        at: dict[int, str] = {}  # word start -> the word (prefixes may find a word twice)
        for prefix in self._prefixes:
            _words(blob, prefix, at)
        known = self._stem.stems(at.values())
        ncols = len(self.weights)
        out = [[0.0] * len(self.idfs) for _ in passages]
        for i, word in at.items():
            slot = self._slot.get(known[word] or "")
            if slot is not None:
                seg = bisect.bisect_right(starts, i) - 1
                out[seg // ncols][slot] += self.weights[seg % ncols]
        return out

    def scores(self, passages: Sequence[Sequence[str]], lengths: Sequence[int]) -> list[float]:
        """bm25 of each passage (its columns; higher is better), ``lengths`` in tokens."""
        ml = self.mean_len
        out = []
        for counts, length in zip(self.counts(passages), lengths, strict=True):
            norm = K1 * (1 - B + B * length / ml) if ml else K1
            out.append(sum(i * f * (K1 + 1) / (f + norm)
                           for f, i in zip(counts, self.idfs, strict=True) if f))
        return out
