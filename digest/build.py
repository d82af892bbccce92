"""The digest of one day: collect → summarize → themes → render → verify → store + write.

Re-running an unchanged day (same posts, versions, summaries, model and prompts) makes no
model call and writes the same file.  A digest that fails verification is neither stored
nor written.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from digest import prompts
from digest.claimcheck import ClaimChecker
from digest.days import local_time, posts_of_day
from digest.interests import interests_key, muted_ids, unmuted
from digest.relevance import demote_far_posts, rescue_alignment_posts
from digest.render import render
from digest.repo import cache_key, get_digest, list_digests, save_digest
from digest.summarize import (
    SummarizeReport,
    cached_summary,
    current_version,
    extractive_model_id,
    summarize_posts,
)
from digest.text import first_sentences, plain, sentences
from digest.themes import THREAD_LOOKBACK, Member, build_themes
from digest.verify import DigestVerificationError, verify
from kb.embed.base import Embedder
from kb.models.base import LLM
from kb.models.counting import CountingLLM, counting
from kb.settings import Settings
from kb.store.db import Store
from kb.store.posts import Post, get_post

log = logging.getLogger("digest.build")

RENDER_VERSION = "r4"  # r3: extractive themes and connections; footer says who wrote what
# r4: a theme holds only posts that belong together (digest.cluster.cohere)


@dataclass
class DigestResult:
    day: str
    status: str  # written | unchanged | empty | failed
    path: Path | None = None
    posts: int = 0
    themes: int = 0
    pending: int = 0
    calls: int = 0
    message: str = ""
    markdown: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in ("written", "unchanged", "empty")

    def to_json(self) -> dict[str, Any]:
        return {"date": self.day, "status": self.status, "path": str(self.path or ""),
                "posts": self.posts, "themes": self.themes, "pending": self.pending,
                "model_calls": self.calls, "message": self.message,
                "claim_check": {k: len(v) for k, v in
                                (self.data.get("claim_check") or {}).items()}}


def source_label(store: Store, post: Post) -> str:
    if post.is_af:  # every AF post is also on LessWrong: one post, the AF link
        return "Alignment Forum"
    if post.site == "www.lesswrong.com":
        return "LessWrong"
    if post.source_id is not None:
        row = store.conn.execute("SELECT name FROM sources WHERE id = ?",
                                 (post.source_id,)).fetchone()
        if row and not str(row[0]).startswith(("file:", "/")):
            return f"{row[0]} ({post.site})" if post.site and post.site != row[0] else str(row[0])
    return post.site or "local file"


def digest_path(settings: Settings, day: str) -> Path:
    return settings.digests_dir / f"{day}.md"


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def collect(settings: Settings, store: Store, day: date, model_id: str) -> dict[str, Any]:
    """The day's posts with their summaries by ``model_id``, numbered, without themes."""
    tz = settings.digest.timezone
    dp = posts_of_day(store, day, tz)
    muted = muted_ids(store, settings, [*dp.published, *dp.updated])  # the reader's killfile
    listed, also, updated, off = [], [], [], []
    for pid in dp.published:
        post = get_post(store, pid, with_text=False)
        if post is None or pid in muted:
            continue
        s = cached_summary(store, pid, model_id)
        entry: dict[str, Any] = {
            "id": post.id, "title": post.title, "url": post.canonical_url,
            "authors": post.authors, "published": post.published,
            "published_local": local_time(post.published, tz), "source": source_label(store, post),
            "version": post.version, "status": "ok" if s and s.ok else "pending",
            "relevance": s.relevance if s and s.ok else None,
            "summary": s.summary if s and s.ok else "",
            "implications": s.implications if s and s.ok else "",
            "extractive": bool(s and s.ok and is_extractive(s.model_id, s.method)),
        }
        if entry["status"] == "pending":  # the reader still learns what the post is about
            entry["opening"] = _opening(store, pid)
        if entry["relevance"] == "off-topic":
            also.append({k: entry[k] for k in ("id", "title", "url", "source")}
                        | {"summary": first_sentences(entry["summary"], 1)})
            off.append(entry | {"opening": _opening(store, pid)})
        else:
            listed.append(entry)
    for n, entry in enumerate(listed, 1):
        entry["n"] = n
    for pid in dp.updated:
        post = get_post(store, pid, with_text=False)
        if post is not None and pid not in muted:
            updated.append({"id": post.id, "title": post.title, "url": post.canonical_url,
                            "source": source_label(store, post), "version": post.version,
                            "changed_at": post.changed_at})
    return {"date": day.isoformat(), "timezone": tz, "posts": listed, "also_published": also,
            "updated": updated, "muted": len(muted), "interests": interests_key(settings),
            "_off_topic": off}  # "_off_topic": for the relevance check


def is_extractive(model_id: str, method: str = "") -> bool:
    """A summary made from the post's own sentences (no chat model, or the model failed)."""
    return model_id.startswith("extractive") or method.startswith("extractive")


def _summarize(store: Store, c: CountingLLM | None, embedder: Embedder, ids: list[str],
               parallel: int) -> tuple[SummarizeReport, str]:
    """(report, the model id summaries are looked up by) — extractive only without a model."""
    report = summarize_posts(store, c, ids, parallel=parallel, checker=ClaimChecker(embedder),
                             embedder=embedder)
    return report, c.model_id if c is not None else extractive_model_id(embedder)


def build_digest(settings: Settings, store: Store, llm: LLM | None, embedder: Embedder,
                 day: date, *, write: bool = True) -> DigestResult:
    """Build, verify, store and write the digest of ``day``.  ``settings`` gives the time
    zone, the number of themes and where digest files go.  Without ``llm`` the digest is
    entirely extractive: summaries, themes, implications and connections come from the posts'
    own words."""
    d = day.isoformat()
    c = counting(llm) if llm is not None else None
    dp = posts_of_day(store, day, settings.digest.timezone)
    if not dp.published and not dp.updated:
        return DigestResult(d, "empty", message=f"no posts on {d}")
    report, model_id = _summarize(store, c, embedder, unmuted(store, settings, dp.published),
                                  settings.digest.parallel)
    data = collect(settings, store, day, model_id)
    # pending: posts still waiting for the model's summary (shown meanwhile with their
    # extractive summary, marked as such); none without a model
    pending = sum(1 for p in data["posts"] + data["_off_topic"]
                  if p["status"] != "ok" or (c is not None and p.get("extractive")))
    embed_model = embedder.model_id
    inputs = cache_key("digest", RENDER_VERSION, prompts.PROMPT_VERSION, model_id,
                       settings.embed.backend, settings.digest.max_themes, data)
    off_topic = data.pop("_off_topic")
    result = DigestResult(d, "written", path=digest_path(settings, d) if write else None,
                          posts=len(data["posts"]) + len(data["also_published"]),
                          pending=pending)
    old = get_digest(store, d)
    if old is not None and old.inputs_hash == inputs and old.complete:
        result.status, result.markdown, result.data = "unchanged", old.markdown, old.data
        result.themes = len(old.data.get("themes", []))
        if write and result.path is not None and (
                not result.path.exists() or result.path.read_text(encoding="utf-8") != old.markdown):
            write_atomic(result.path, old.markdown)
        result.calls = c.calls if c else 0
        result.message = f"{d}: unchanged ({result.path or 'stored'})"
        return result

    failures = 0
    if off_topic or any(p["status"] == "ok" for p in data["posts"]):
        rescue_alignment_posts(store, embedder, data, off_topic, settings.digest.topics)
        demote_far_posts(store, embedder, data, settings.digest.topics)
    on_topic = [p for p in data["posts"] if p["status"] == "ok"]
    members = [Member(p["n"], p["id"], p["title"], p["summary"], p["implications"],
                      text=_text(store, p["id"]), authors=list(p["authors"] or []))
               for p in on_topic]
    themes_by = connections_by = "extractive"
    fallbacks = 0
    if members:
        earlier = [x.data for x in list_digests(store, before=d, limit=THREAD_LOOKBACK)]
        tr = build_themes(store, c, embedder, members, max_themes=settings.digest.max_themes,
                          earlier=earlier, core_topic=next(iter(settings.digest.topics), ""))
        data["themes"] = [t.to_json() for t in tr.themes]
        data["connections"] = tr.connections
        data["removed_markers"] = tr.removed_markers
        data["claim_check"] = tr.claim_check()
        failures = tr.model_failures
        themes_by, connections_by, fallbacks = tr.themes_by, tr.connections_by, tr.fallbacks
    else:
        data["themes"], data["connections"], data["removed_markers"] = [], "", []
        data["claim_check"] = {"removed_citations": [], "dropped": [], "added_citations": []}
    data["written_by"] = written_by(data["posts"] + off_topic, model_id if c else None, themes_by,
                                    connections_by, fallbacks)
    data |= {"model": model_id, "embed_model": embed_model,
             "prompt_version": prompts.PROMPT_VERSION, "render_version": RENDER_VERSION,
             "pending": pending, "summary_failures": [
                 {"post_id": p, "error": e} for p, e in report.failures]}
    md = render(data)
    result.calls = c.calls if c else 0
    result.themes = len(data["themes"])
    try:
        verify(md, store, d)
    except DigestVerificationError as exc:
        log.error("%s", exc)
        result.status, result.message = "failed", str(exc)
        return result
    complete = pending == 0 and failures == 0
    save_digest(store, d, data, md, model_id, inputs, complete)
    if write and result.path is not None:
        write_atomic(result.path, md)
    result.markdown, result.data = md, data
    extra = f", {pending} pending" if pending else ""
    cc = data["claim_check"]
    if cc["dropped"] or cc["removed_citations"]:
        extra += (f"; claim check: {len(cc['dropped'])} sentence"
                  f"{'s' if len(cc['dropped']) != 1 else ''} dropped, "
                  f"{len(cc['removed_citations'])} citation"
                  f"{'s' if len(cc['removed_citations']) != 1 else ''} removed")
    result.message = (f"{d}: {result.posts} posts, {result.themes} "
                      f"theme{'s' if result.themes != 1 else ''}{extra} "
                      f"-> {result.path or 'stored'}")
    return result


def written_by(posts: list[dict[str, Any]], model_id: str | None, themes_by: str,
               connections_by: str, fallbacks: int) -> dict[str, Any]:
    """Who wrote each part of the digest: "extractive" (the posts' own words) or a model id,
    with how many summaries and theme sentences fell back to the extractive ones."""
    ok = [p for p in posts if p["status"] == "ok"]
    extractive = sum(1 for p in ok if p.get("extractive"))
    return {"model": model_id, "summaries": len(ok), "extractive_summaries": extractive,
            "themes": themes_by, "extractive_theme_sentences": fallbacks,
            "connections": connections_by}


def _text(store: Store, post_id: str) -> str:
    cur = current_version(store, post_id)
    return str(cur["text"]) if cur else ""


def _opening(store: Store, post_id: str, max_chars: int = 320) -> str:
    """The first sentences of the post's current text, as plain text (shown, quoted, while
    its summary is pending)."""
    cur = current_version(store, post_id)
    text = plain(cur["text"] if cur else "", max_chars=4000)
    out = ""
    for sent in sentences(text):
        if out and len(out) + len(sent) > max_chars:
            break
        out = f"{out} {sent}".strip()
    return out if len(out) <= max_chars else out[:max_chars].rsplit(" ", 1)[0] + "…"
