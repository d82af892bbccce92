"""`kb ask` without a chat model: an extractive answer.

The sentences of the retrieved passages that best answer the question — cosine of the
sentence to the question under the embedder, plus the share of the question's words it
contains — each with its source's [n], grouped by post (the post with the best sentence
first, each post's sentences in their order).  Faithful by construction: every sentence is
quoted from its passage.  Deterministic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from digest.extractive import post_sentences
from kb.embed.base import Embedder
from kb.search_types import SearchHit

MAX_SENTENCES = 6
MAX_PER_POST = 3
MAX_WORDS = 160
SENTENCES_PER_PASSAGE = 40
MIN_SCORE = 0.30  # cosine + term overlap bonus a sentence needs to be part of the answer
TERM_WEIGHT = 0.25
_STOP_WORDS = (
    "the a an and or but of to in on at by for from with into as is are was were be been being "
    "it its this that these those what which who whom whose why how when where do does did can "
    "could should would will may might must about than then there their they them we you your "
    "our i me my he she his her not no any some all more most much many such very also just "
    "kb one two")
_STOP = frozenset(_STOP_WORDS.split(" "))


@dataclass(frozen=True)
class Picked:
    source: int  # the hit's source number [n]
    post_id: str
    order: int  # the sentence's place in its passage
    text: str
    score: float


def question_terms(question: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9][a-z0-9'-]*", question.lower())
            if len(w) > 2 and w not in _STOP}


def _overlap(terms: set[str], sentence: str) -> float:
    if not terms:
        return 0.0
    words = set(re.findall(r"[a-z0-9][a-z0-9'-]*", sentence.lower()))
    hit = sum(1 for t in terms if t in words or any(w.startswith(t[:5]) for w in words
                                                     if len(t) >= 6))
    return hit / len(terms)


def pick_sentences(embedder: Embedder, question: str, sources: list[SearchHit]
                   ) -> list[Picked]:
    """The sentences of ``sources`` (source i + 1 is ``sources[i]``) that answer the question
    best, grouped by post, in the order described in the module doc."""
    cands: list[tuple[int, str, int, str]] = []
    for i, h in enumerate(sources):
        for j, s in enumerate(post_sentences(h.text)[:SENTENCES_PER_PASSAGE]):
            cands.append((i + 1, h.post_id, j, s))
    if not cands:
        return []
    vecs = np.asarray(embedder.embed_documents([c[3] for c in cands]), dtype=np.float64)
    q = np.asarray(embedder.embed_query(question), dtype=np.float64)
    norms = np.linalg.norm(vecs, axis=1)
    norms[norms == 0] = 1.0
    cos = (vecs @ q) / (norms * (np.linalg.norm(q) or 1.0))
    terms = question_terms(question)
    scored = [Picked(n, pid, j, s, round(float(cos[k]) + TERM_WEIGHT * _overlap(terms, s), 6))
              for k, (n, pid, j, s) in enumerate(cands)]
    ranked = sorted(scored, key=lambda p: (-p.score, p.source, p.order))
    chosen: list[Picked] = []
    per_post: dict[str, int] = {}
    seen: set[str] = set()
    words = 0
    for p in ranked:
        if p.score < MIN_SCORE or len(chosen) >= MAX_SENTENCES:
            break
        w = len(p.text.split())
        key = p.text.lower()
        if key in seen or per_post.get(p.post_id, 0) >= MAX_PER_POST or words + w > MAX_WORDS:
            continue
        chosen.append(p)
        seen.add(key)
        per_post[p.post_id] = per_post.get(p.post_id, 0) + 1
        words += w
    first: dict[str, int] = {}  # each post's rank: that of its best sentence
    for rank, p in enumerate(chosen):
        first.setdefault(p.post_id, rank)
    return sorted(chosen, key=lambda p: (first[p.post_id], p.source, p.order))


def answer_text(picked: list[Picked]) -> str:
    """One paragraph per post: its sentences, each with its [n] before the final stop."""
    paras: list[str] = []
    cur_post = ""
    cur: list[str] = []
    for p in picked:
        if p.post_id != cur_post and cur:
            paras.append(" ".join(cur))
            cur = []
        cur_post = p.post_id
        m = re.match(r"^(.*?)([.!?][\"'”’)\]]*)$", p.text, re.S)
        cur.append(f"{m.group(1)} [{p.source}]{m.group(2)}" if m else f"{p.text} [{p.source}]")
    if cur:
        paras.append(" ".join(cur))
    return "\n\n".join(paras)
