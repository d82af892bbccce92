"""Extractive summaries of stored posts: made with the embedder alone, stored and cached like
model summaries (model id ``extractive:<embed model>``).

Every post gets one, with or without a chat model: it is the summary shown when there is no
chat model (``llm.backend = none``, or ``auto`` without Ollama) and whenever the model's
summary failed.  Its relevance label comes from the embedder (see :mod:`digest.relevance`):
``core`` close to AI alignment itself, ``off-topic`` far from every digest topic, else
``related``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from digest.extractive import extractive_summary, implication_sentences
from digest.relevance import clearly_alignment, far_off_topic
from digest.repo import Summary, get_summary, save_summary
from digest.text import plain
from kb.embed.base import Embedder
from kb.store.db import Store

log = logging.getLogger("digest.extractive")

EXTRACTIVE_PREFIX = "extractive:"
EXTRACTIVE_VERSION = "x3"  # the prompt_version of extractive rows: bump when selection changes


def extractive_model_id(embedder: Embedder) -> str:
    """The model id extractive summaries made with ``embedder`` are stored under."""
    return f"{EXTRACTIVE_PREFIX}{embedder.model_id}"


def is_extractive_row(s: Summary) -> bool:
    return s.model_id.startswith(EXTRACTIVE_PREFIX)


def _current(store: Store, post_id: str) -> dict[str, Any] | None:
    row = store.conn.execute(
        "SELECT p.id, p.title, p.authors, v.version, v.content_hash, v.text FROM posts p JOIN "
        "post_versions v ON v.post_id = p.id WHERE p.id = ? ORDER BY v.version DESC LIMIT 1",
        (post_id,)).fetchone()
    return dict(row) if row else None


def stored_extractive(store: Store, post_id: str, content_hash: str) -> Summary | None:
    """The newest good extractive summary of this text of the post (any embedder)."""
    row = store.conn.execute(
        "SELECT model_id FROM summaries WHERE post_id=? AND content_hash=? AND status='ok' AND "
        "model_id LIKE 'extractive:%' AND prompt_version=? ORDER BY id DESC LIMIT 1",
        (post_id, content_hash, EXTRACTIVE_VERSION)).fetchone()
    if row is None:
        return None
    return get_summary(store, post_id, content_hash, row[0], EXTRACTIVE_VERSION)


def embed_relevance(store: Store, embedder: Embedder, title: str, summary: str) -> str:
    """core | related | off-topic, judged on the title and summary with the embedder."""
    text = f"{title}. {summary}"
    if clearly_alignment(store, embedder, [text])[0]:
        return "core"
    if far_off_topic(store, embedder, [text])[0]:
        return "off-topic"
    return "related"


def _no_body(title: str, text: str) -> str:
    body = plain(text, max_chars=300)
    return (f"This post has little or no text beyond its title, “{plain(title)}”."
            + (f" Its whole body reads: “{body}”" if body else ""))


def extractive_post(store: Store, embedder: Embedder, post_id: str) -> tuple[Summary, bool]:
    """(the extractive summary of the post's current version, made now).  Cached: an
    unchanged post is not embedded again.  Never pending: a post with no usable sentence
    (a link post, a question with no body) says so."""
    cur = _current(store, post_id)
    if cur is None:
        raise KeyError(f"no post {post_id!r} with text in the archive")
    model_id = extractive_model_id(embedder)
    hit = get_summary(store, post_id, cur["content_hash"], model_id, EXTRACTIVE_VERSION)
    if hit is not None and hit.ok:
        return hit, False
    title, text = cur["title"], cur["text"] or ""
    ex = extractive_summary(embedder, title, text)
    if ex.sentences:
        summary, method = ex.text, "extractive-authored" if ex.authored else "extractive"
    else:
        summary, method = _no_body(title, text), "extractive-short"
    relevance = embed_relevance(store, embedder, title, summary)
    impl = ""
    if relevance != "off-topic" and ex.sentences:
        impl = next((s for s in implication_sentences(text) if s not in ex.sentences), "")
    row = Summary(post_id=post_id, version=cur["version"], content_hash=cur["content_hash"],
                  model_id=model_id, prompt_version=EXTRACTIVE_VERSION, status="ok",
                  summary=summary, relevance=relevance, implications=impl, method=method)
    save_summary(store, row)
    log.debug("extractive summary of %s (%s): %s", post_id, json.dumps(method), summary)
    return row, True
