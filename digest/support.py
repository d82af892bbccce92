"""Does a cited sentence say something its source passage says?  And is anything relevant?

Two signals, both cheap: cosine similarity of the sentence and the passage under the
embedder (the real ONNX MiniLM in production) and term overlap (the share of the sentence's
content words found in the passage).  Thresholds are calibrated on the corpus by
``bench/calibrate_ask.py``; the numbers it printed are recorded next to each constant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from digest.citations import MARKER
from kb.embed.base import Embedder

# --- calibrated thresholds -------------------------------------------------------------
# Calibrated by bench/calibrate_ask.py (60 corpus posts from the LW top-20-authors dataset,
# 142 sentence/paragraph pairs, all-MiniLM-L6-v2 int8; similarity p5/p50/p95):
#   sentence vs its own paragraph         sim 0.35/0.71/0.91   overlap 1.00/1.00/1.00
#   sentence vs paragraph minus sentence  sim 0.16/0.45/0.69   overlap 0.00/0.20/0.50
#   sentence vs another post's paragraph  sim -0.04/0.12/0.33  overlap 0.00/0.00/0.17
# A cited sentence is *supported* when sim >= SUPPORT_SIM and (overlap >= SUPPORT_OVERLAP or
# sim >= SUPPORT_SIM_STRONG), else its citation is *weak*.  With 0.30/0.20/0.45: quoted
# claims 97.9% supported, claims backed only by the surrounding text 59.2%, random pairings
# 1.4% (stricter 0.35/0.20/0.55 gets random to 0.0% but keeps only 46.5% of the context ones).
SUPPORT_SIM = 0.30
SUPPORT_SIM_STRONG = 0.45
SUPPORT_OVERLAP = 0.20
# Retrieval is "relevant enough" when the best cosine(question, passage) over the top hits
# reaches RELEVANCE_SIM.  Calibration: post titles vs their best paragraph p5/p50/p95 =
# 0.20/0.46/0.77 (n=58); 20 everyday off-topic questions vs the best of all 142 paragraphs
# 0.09/0.16/0.29.  At 0.25, 91.4% of on-topic queries go on to the model and 5% of off-topic
# ones do (0.30: 81.0% / 0%).
RELEVANCE_SIM = 0.25

_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")
STOPWORDS = frozenset(["a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "one", "two", "many", "much", "may", "might", "must", "shall", "us", "via", "per", "etc", "e.g", "i.e", "like", "however", "thus", "therefore", "also", "within", "without"])


def terms(text: str) -> set[str]:
    """Content words, lowercased and crudely stemmed (plural/-ing/-ed)."""
    out = set()
    for w in _WORD.findall(text.lower()):
        w = w.strip("'-")
        if len(w) < 3 or w in STOPWORDS:
            continue
        for suf in ("ing", "ed", "es", "s"):
            if w.endswith(suf) and len(w) - len(suf) >= 4:
                w = w[: -len(suf)]
                break
        out.add(w)
    return out


def overlap(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that occur in the passage (0 when it has none)."""
    s = terms(sentence)
    return len(s & terms(passage)) / len(s) if s else 0.0


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a)) or 1.0
    nb = math.sqrt(sum(y * y for y in b)) or 1.0
    return dot / (na * nb)


@dataclass
class Claim:
    """One sentence of the answer and the source numbers it cites."""

    sentence: str  # without markers
    cites: list[int]
    sim: dict[int, float] = field(default_factory=dict)
    overlap: dict[int, float] = field(default_factory=dict)
    supported: dict[int, bool] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"sentence": self.sentence, "cites": self.cites,
                "supported": {str(n): v for n, v in self.supported.items()},
                "similarity": {str(n): round(v, 3) for n, v in self.sim.items()},
                "overlap": {str(n): round(v, 3) for n, v in self.overlap.items()}}


_SENT_END = re.compile(r"(?<=[.!?])\s+|\n+")


def claims(text: str) -> list[Claim]:
    """Sentences with the markers they carry.  A marker standing alone after a sentence
    ("... end. [2]") belongs to the sentence before it."""
    out: list[Claim] = []
    for raw in _SENT_END.split(text):
        nums = [int(p) for m in MARKER.finditer(raw) for p in m.group(1).split(",")]
        bare = re.sub(r"\s+", " ", MARKER.sub("", raw)).strip(" -*•\t")
        if len(re.findall(r"[A-Za-z]", bare)) < 3:
            if nums and out:
                out[-1].cites += [n for n in nums if n not in out[-1].cites]
            continue
        out.append(Claim(sentence=bare, cites=list(dict.fromkeys(nums))))
    return out


def is_supported(sim: float, ovl: float) -> bool:
    return sim >= SUPPORT_SIM and (ovl >= SUPPORT_OVERLAP or sim >= SUPPORT_SIM_STRONG)


def check_claims(embedder: Embedder, items: list[Claim], passages: dict[int, str]) -> None:
    """Fill in similarity, overlap and supported for every (claim, cited source) pair."""
    cited = [c for c in items if c.cites]
    if not cited:
        return
    nums = sorted({n for c in cited for n in c.cites if n in passages})
    vecs = embedder.embed_documents([c.sentence for c in cited] + [passages[n] for n in nums])
    pvec = dict(zip(nums, vecs[len(cited):], strict=True))
    for c, v in zip(cited, vecs[: len(cited)], strict=True):
        for n in c.cites:
            if n not in passages:
                continue
            c.sim[n] = cosine(v, pvec[n])
            c.overlap[n] = overlap(c.sentence, passages[n])
            c.supported[n] = is_supported(c.sim[n], c.overlap[n])


def relevance(embedder: Embedder, question: str, passages: list[str],
              vectors: list[list[float] | None] | None = None) -> float:
    """Best cosine similarity of the question to any of ``passages`` (0 with none).
    ``vectors[i]``, when given, is passage i's stored vector (saves embedding it again)."""
    if not passages:
        return 0.0
    vecs: list[list[float] | None] = (list(vectors) if vectors is not None
                                      else [None] * len(passages))
    missing = [i for i, v in enumerate(vecs) if v is None]
    if missing:
        for i, v in zip(missing, embedder.embed_documents([passages[i] for i in missing]),
                        strict=True):
            vecs[i] = v
    q = embedder.embed_query(question)
    return max(cosine(q, v) for v in vecs if v is not None)
