"""A second opinion on the model's relevance label, from the embedder.

The model's label (core / related / off-topic) is trusted except where it is plainly wrong:

* a post the model calls relevant but that is far from every area the digest covers (MiniLM
  cosine < OFF_TOPIC_SIMILARITY to all topics) moves to Also Published — a tiny model must
  not drag a bread recipe into "implications for alignment";
* a post the model calls off-topic but whose title and opening sit close to the core interest
  (cosine >= ALIGNMENT_SIMILARITY to the first topic) stays in the day's themes as
  "related" — a tiny model must not hide an alignment post either.

The topics are the reader's (``[digest] topics``, a few sentences); the default describes AI
alignment (:data:`kb.settings.DEFAULT_TOPICS`, the anchors the thresholds were calibrated on).

Thresholds were calibrated on 400 posts of the LW dataset in ../shared/corpus: every post
above 0.45 to the alignment anchor is about AI safety or risk (72% are Alignment Forum posts;
the rest are LessWrong posts on AI-safety strategy, politics and risk).  Both overrides are
recorded in the digest JSON (``relevance_override``) and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from digest.cluster import cosine
from digest.text import first_sentences
from digest.themes import embed_cached, member_text
from kb.embed.base import Embedder
from kb.settings import DEFAULT_TOPICS
from kb.store.db import Store

log = logging.getLogger("digest.relevance")

RELEVANCE_ANCHORS: tuple[str, ...] = DEFAULT_TOPICS  # the default [digest] topics
OFF_TOPIC_SIMILARITY = 0.12
ALIGNMENT_SIMILARITY = 0.45


def _similarities(store: Store, embedder: Embedder, texts: list[str],
                  topics: Sequence[str]) -> list[list[float]]:
    anchors = embed_cached(store, embedder, list(topics or RELEVANCE_ANCHORS))
    return [[cosine(v, a) for a in anchors] for v in embed_cached(store, embedder, texts)]


def far_off_topic(store: Store, embedder: Embedder, texts: list[str],
                  topics: Sequence[str] = RELEVANCE_ANCHORS) -> list[bool]:
    """For each text: True when it is far from every topic of the digest."""
    if not texts:
        return []
    return [max(s) < OFF_TOPIC_SIMILARITY for s in _similarities(store, embedder, texts, topics)]


def clearly_alignment(store: Store, embedder: Embedder, texts: list[str],
                      topics: Sequence[str] = RELEVANCE_ANCHORS) -> list[bool]:
    """For each text: True when it sits close to the core interest (the first topic)."""
    if not texts:
        return []
    return [s[0] >= ALIGNMENT_SIMILARITY
            for s in _similarities(store, embedder, texts, topics)]


def _renumber(data: dict[str, Any]) -> None:
    for n, p in enumerate(data["posts"], 1):
        p["n"] = n


def demote_far_posts(store: Store, embedder: Embedder, data: dict[str, Any],
                     topics: Sequence[str] = RELEVANCE_ANCHORS) -> None:
    """Move posts the model called relevant but that are far from every digest topic to Also
    Published (marked), and renumber the rest."""
    ok = [p for p in data["posts"] if p["status"] == "ok"]
    far = far_off_topic(store, embedder, [member_text(p["title"], p["summary"]) for p in ok],
                        topics)
    moved = {p["id"] for p, f in zip(ok, far, strict=True) if f}
    if not moved:
        return
    for p in data["posts"]:
        if p["id"] in moved:
            log.info("post %s labelled %s by the model is far from every digest topic: listed "
                     "under Also Published", p["id"], p["relevance"])
            data["also_published"].append({k: p[k] for k in ("id", "title", "url", "source")}
                                          | {"summary": first_sentences(p["summary"], 1),
                                             "relevance_override": p["relevance"]})
    data["posts"] = [p for p in data["posts"] if p["id"] not in moved]
    _renumber(data)


def rescue_alignment_posts(store: Store, embedder: Embedder, data: dict[str, Any],
                           off_topic: list[dict[str, Any]],
                           topics: Sequence[str] = RELEVANCE_ANCHORS) -> None:
    """Bring posts the model called off-topic but that are plainly about alignment (judged on
    their title and opening, not on the model's summary) back into the day as "related"."""
    if not off_topic:
        return
    close = clearly_alignment(store, embedder, [member_text(p["title"], p.get("opening", ""))
                                                for p in off_topic], topics)
    back = [p for p, c in zip(off_topic, close, strict=True) if c]
    if not back:
        return
    ids = {p["id"] for p in back}
    for p in back:
        log.info("post %s labelled off-topic by the model is close to AI alignment: kept in "
                 "the day's themes as related", p["id"])
        p.update(relevance="related", relevance_override="off-topic")
        p.pop("opening", None)
    data["also_published"] = [a for a in data["also_published"] if a["id"] not in ids]
    data["posts"] = sorted([*data["posts"], *back],
                           key=lambda p: (p.get("published") or "", p["id"]))
    _renumber(data)
