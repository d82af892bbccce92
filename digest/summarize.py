"""Per-post summaries: 3-5 sentences, a relevance label and (when relevant) one implication.

Every post first gets an extractive summary (its own sentences, chosen with the embedder:
:mod:`digest.extractive_store`); with a chat model the model's summary is made too, and shown
instead when it passes every check.  Without a chat model (``llm`` None) the extractive
summary is all there is, and a post whose model summary failed shows it (marked extractive).

Cached by (version content hash, model id, prompt version): re-running makes no model call.
Structured output is validated — and, given a :class:`digest.claimcheck.ClaimChecker`, every
sentence is checked against the post: a sentence the post contradicts (a flipped negation, a
number, name or acronym the post does not state) makes the summary invalid, a sentence the
post does not bear on is left out; invalid output is retried once, then parsed as plain text,
then asked for once more as plain text; anything still unusable leaves the post *pending*
(stored as such, retried next run) — never garbage.  Posts longer than the model's context
are summarized map-reduce over parts.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from digest import prompts
from digest.claimcheck import ClaimChecker
from digest.extractive import implication_sentences, post_sentences
from digest.extractive_store import EXTRACTIVE_VERSION, extractive_post, stored_extractive
from digest.extractive_store import extractive_model_id as extractive_model_id  # for callers
from digest.grounding import grounding_problem
from digest.outputcheck import output_problem, sentence_problem
from digest.repo import Summary, get_summary, save_summary
from digest.text import (
    DATA_ECHO,
    cut_repetition,
    extract_json,
    has_junk_word,
    labelled_fields,
    one_line,
    plain,
    sentences,
    strip_data_echo,
    tidy_sentence,
)
from kb.embed.base import Embedder
from kb.models.base import LLM, LLMError, Message, ModelUnavailable
from kb.models.counting import CountingLLM, counting
from kb.store.db import Store

log = logging.getLogger("digest.summarize")

SUMMARY_MAX_TOKENS = 300
PART_MAX_TOKENS = 220
MIN_CHARS, MIN_WORDS = 40, 8
SHORT_POST_WORDS = 25  # below this, a post has no real body to summarize
RELEVANCE = ("core", "related", "off-topic")
_MARKERS = re.compile(r"\[\s*\d{1,3}(?:\s*,\s*\d{1,3})*\s*\]|\^\d+|↩︎?")


class SummaryFailed(Exception):
    """The model's output stayed unusable; the post stays pending."""


@dataclass(frozen=True)
class PostText:
    """What a summary is checked against: the post as stored (never the map-reduce notes)."""
    title: str
    authors: tuple[str, ...] = ()
    text: str = ""

    @property
    def source(self) -> str:
        return "\n".join([self.title, *self.authors, self.text])


@dataclass
class Parsed:
    summary: str
    relevance: str
    implications: str


def _relevance(value: Any) -> str | None:
    v = str(value or "").strip().lower().replace("_", "-").replace(" ", "-").strip(".\"'")
    if v in ("offtopic", "off-topic", "not-relevant", "irrelevant", "none"):
        return "off-topic"
    return v if v in RELEVANCE else None


def check_summary(summary: str, title: str) -> str | None:
    """Why ``summary`` is not usable, or None."""
    low = summary.lower()
    words = summary.split()
    if len(summary) < MIN_CHARS or len(words) < MIN_WORDS:
        return "summary too short"
    if any(m in low for m in prompts.ECHO_MARKERS):
        return "the reply echoed the prompt"
    if has_junk_word(summary):
        return "the summary contains a run-on non-word"
    if re.sub(r"\W+", "", low) == re.sub(r"\W+", "", title.lower()) or DATA_ECHO.match(summary):
        return "the summary is only the title"
    if len(words) >= 20 and len({w.lower() for w in words}) / len(words) < 0.3:
        return "the summary repeats itself"
    return None


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def closest_source(sentence: str, fallback: list[str], used: list[str]) -> str | None:
    """The extractive sentence a model sentence came from: the one sharing the most words with
    it (ties: the earlier), unless already used; None when they share nothing."""
    ws = _words(sentence)
    best, best_score = None, 0.0
    for cand in fallback:
        cw = _words(cand)
        score = len(ws & cw) / (len(ws | cw) or 1)
        if score > best_score and cand not in used:
            best, best_score = cand, score
    return best


def claim_check_summary(checker: ClaimChecker, summary: str, post: PostText,
                        fallback: list[str] | None = None) -> tuple[str, str | None]:
    """(``summary`` without the sentences ``post`` does not bear on, why it is refused or
    None).  A sentence the post contradicts, or that states a name or number the post does
    not, refuses the whole summary: the model is asked again, and the post stays pending if
    it keeps doing so.  Given ``fallback`` (the post's extractive sentences), a sentence that
    fails is replaced by the extractive sentence it came from instead."""
    sents = sentences(summary)
    if not sents:
        return summary, None
    evs = checker.check_many([(x, post.source) for x in sents])
    kept: list[str] = []
    for sent, ev in zip(sents, evs, strict=True):
        invented = [r for r in ev.reasons if "not in the passage" in r]
        failed = ev.verdict in ("contradicted", "unsupported") or invented
        if failed and fallback:
            src = closest_source(sent, fallback, kept)
            log.info("summary sentence %r failed the claim check; %s", sent,
                     f"the post's own sentence instead: {src!r}" if src else "left out")
            if src:
                kept.append(src)
            continue
        if ev.verdict == "contradicted" or invented:
            why = (invented or ev.reasons or ["contradicted"])[0]
            return summary, (f"the summary says what the post does not ({why}): "
                             f"“{one_line(sent, max_words=16, max_chars=120)}”")
        if ev.verdict == "unsupported":
            log.info("summary sentence left out, the post does not bear on it: %r", sent)
            continue
        kept.append(sent)
    if not kept:
        return "", "the post does not bear on any sentence of the summary"
    return " ".join(kept), None


def validate(obj: dict[str, Any] | None, post: PostText, *,
             default_relevance: str | None = None,
             checker: ClaimChecker | None = None,
             fallback: list[str] | None = None) -> tuple[Parsed | None, str]:
    """A usable summary from a parsed reply, or (None, reason).  Given the post's text, a
    summary that names things the post never mentions is refused (see digest.grounding), and
    given ``checker`` each sentence is checked against the post (see claim_check_summary).
    Prompt echo, data headers, cut-off sentences and one-word fields never pass (see
    digest.outputcheck); given ``fallback`` (the post's extractive sentences) a sentence that
    fails is replaced by the one it came from."""
    title = post.title
    if not obj:
        return None, "no JSON object in the reply"
    raw = obj.get("summary")
    if not isinstance(raw, str):
        return None, "no summary text"
    raw = strip_data_echo(plain(raw, max_chars=1500), title, list(post.authors))
    raw = _drop_cut_off_tail(raw)
    summary = tidy_sentence(cut_repetition(_MARKERS.sub("", raw)))
    summary = re.sub(r"\s+([.,;:])", r"\1", re.sub(r"\s{2,}", " ", summary)).strip()
    why = check_summary(summary, title)
    if not why and post.text and not fallback:  # with a fallback: sentence by sentence
        why = grounding_problem(summary, post.source)
    if why:
        return None, why
    sents = sentences(summary)
    while len(sents) > 1 and len(sents[-1].split()) < 3:  # a cut-off tail ("… it has. It.")
        sents.pop()
    sents = _valid_sentences(sents[:5], fallback, post)
    summary = " ".join(sents)
    if checker is not None and post.text:
        summary, why2 = claim_check_summary(checker, summary, post, fallback)
        why = why2 or check_summary(summary, title)
        if why:
            return None, why
    why = output_problem(summary, title=title)
    if why:
        return None, f"the summary is not usable text ({why})"
    relevance = _relevance(obj.get("relevance")) or default_relevance
    if relevance is None:
        return None, "relevance is not core, related or off-topic"
    impl = ""
    if relevance != "off-topic" and isinstance(obj.get("implications"), str):
        impl = cut_repetition(_MARKERS.sub("", plain(obj["implications"], max_chars=400)))
        impl = tidy_sentence((sentences(impl) or [""])[0])
        if len(impl) < 15 or has_junk_word(impl) or output_problem(impl, title=title) or \
                any(m in impl.lower() for m in prompts.ECHO_MARKERS) or \
                (post.text and grounding_problem(impl, post.source)):
            impl = ""
        elif impl and checker is not None and post.text and \
                checker.check(impl, post.source).verdict not in ("supported", "weak"):
            log.info("implication left out, the post does not support it: %r", impl)
            impl = ""
    return Parsed(summary, relevance, impl), ""


def _drop_cut_off_tail(raw: str) -> str:
    """Model text without its last sentence when that one was cut off (no final
    punctuation: the reply ran out of tokens)."""
    sents = sentences(raw)
    if len(sents) > 1 and not re.search(r"[.!?][\"'”’)\]]*$", sents[-1].strip()):
        return " ".join(sents[:-1])
    return raw


def _valid_sentences(sents: list[str], fallback: list[str] | None, post: PostText
                     ) -> list[str]:
    """The sentences that pass the output check (and, given ``fallback``, name only what the
    post names); one that fails is replaced by the extractive sentence it came from (given
    ``fallback``) or left out."""
    out: list[str] = []
    for sent in sents:
        why = sentence_problem(sent)
        if why is None and fallback and post.text:
            why = grounding_problem(sent, post.source)
        if why is None:
            out.append(sent)
            continue
        src = closest_source(sent, fallback, out) if fallback else None
        log.info("summary sentence %r is not usable (%s)%s", sent, why,
                 f"; the post's own sentence instead: {src!r}" if src else "")
        if src:
            out.append(src)
    return out


def _text_parse(raw: str, post: PostText, checker: ClaimChecker | None = None,
                fallback: list[str] | None = None) -> Parsed | None:
    """Plain-text fallback: labelled lines or truncated JSON."""
    fields = labelled_fields(raw)
    if "summary" not in fields:
        if raw.lstrip().startswith(("{", "[")):
            return None
        fields = {"summary": raw}
    rel = _relevance(fields.get("relevance", "").split()[0] if fields.get("relevance") else "")
    parsed, _ = validate({"summary": fields["summary"], "relevance": rel or "related",
                          "implications": fields.get("implications", "")}, post,
                         checker=checker, fallback=fallback)
    return parsed


def _summarize_body(llm: LLM, post: PostText, body: str, *, notes: bool,
                    checker: ClaimChecker | None = None,
                    fallback: list[str] | None = None) -> tuple[Parsed, str]:
    title, authors = post.title, list(post.authors)
    msgs = prompts.summary_messages(title, authors, body, notes=notes)
    replies: list[str] = []
    reason = ""
    for attempt in range(2):
        reply = llm.chat(msgs, max_tokens=SUMMARY_MAX_TOKENS,
                         json_schema=prompts.SUMMARY_SCHEMA).text
        replies.append(reply)
        parsed, reason = validate(extract_json(reply), post, checker=checker, fallback=fallback)
        if parsed:
            return parsed, "json" if attempt == 0 else "json-retry"
        log.info("summary of %r invalid (%s)%s", title, reason, "; retrying" if not attempt else "")
        msgs = [*msgs, Message("assistant", reply[:2000]), prompts.retry_message(reason)]
    for reply in replies:
        parsed2 = _text_parse(reply, post, checker, fallback)
        if parsed2:
            return parsed2, "text"
    reply = llm.chat(prompts.summary_messages(title, authors, body, notes=notes, plain_text=True),
                     max_tokens=SUMMARY_MAX_TOKENS).text
    parsed2 = _text_parse(reply, post, checker, fallback)
    if parsed2:
        return parsed2, "text"
    raise SummaryFailed(f"model output was not a usable summary ({reason})")


# --- long posts: map-reduce over parts ---------------------------------------------------------
def _budget(llm: LLM, system: str) -> int:
    return llm.context_window - llm.count_tokens(system) - SUMMARY_MAX_TOKENS - 160


def split_parts(llm: LLM, text: str, budget: int) -> list[str]:
    """Paragraph-aligned parts of at most ``budget`` tokens each."""
    total = max(1, llm.count_tokens(text))
    chars_per_part = max(200, int(len(text) * budget / total * 0.9))
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    pieces: list[str] = []
    for p in paras:  # paragraphs longer than a part are cut at sentence or character bounds
        while len(p) > chars_per_part:
            cut = p.rfind(". ", 0, chars_per_part)
            cut = cut + 1 if cut > chars_per_part // 2 else chars_per_part
            pieces.append(p[:cut])
            p = p[cut:].lstrip()
        if p:
            pieces.append(p)
    parts: list[str] = []
    cur = ""
    for piece in pieces:
        if cur and len(cur) + len(piece) + 2 > chars_per_part:
            parts.append(cur)
            cur = piece
        else:
            cur = f"{cur}\n\n{piece}" if cur else piece
    if cur:
        parts.append(cur)
    return parts


def _notes(llm: LLM, title: str, text: str, depth: int) -> str:
    budget = _budget(llm, prompts.PART_SYSTEM)
    parts = split_parts(llm, text, budget)
    notes: list[str] = []
    for i, part in enumerate(parts, 1):
        reply = llm.chat(prompts.part_messages(title, part, i, len(parts)),
                         max_tokens=PART_MAX_TOKENS, json_schema=prompts.PART_SCHEMA).text
        obj = extract_json(reply)
        note = plain(str(obj.get("notes", "")) if obj else reply, max_chars=800)
        if len(note) >= 20 and not any(m in note.lower() for m in prompts.ECHO_MARKERS):
            notes.append(f"Part {i}: {note}")
    if not notes:
        raise SummaryFailed("the model gave no usable notes for any part of this long post")
    joined = "\n".join(notes)
    if llm.count_tokens(joined) > _budget(llm, prompts.SUMMARY_SYSTEM) and depth < 3:
        return _notes(llm, title, joined, depth + 1)
    return joined


def summarize_text(llm: LLM, title: str, authors: list[str], text: str, *,
                   checker: ClaimChecker | None = None,
                   fallback: list[str] | None = None) -> tuple[Parsed, str]:
    """(parsed summary, method) for one post text; raises SummaryFailed or LLMError.  Given
    ``checker``, the summary's sentences are checked against the post; given ``fallback``
    (the extractive sentences), a sentence that fails is replaced by the one it came from."""
    words = len(text.split())
    if words < SHORT_POST_WORDS:
        return _short_post(llm, title, authors, text)
    post = PostText(title, tuple(authors), text)
    if llm.count_tokens(text) <= _budget(llm, prompts.SUMMARY_SYSTEM) - 40:
        return _summarize_body(llm, post, text, notes=False, checker=checker, fallback=fallback)
    if fallback:  # a long post: the model rewrites its key sentences, one call, no map-reduce
        material = key_material(text, fallback)
        if llm.count_tokens(material) <= _budget(llm, prompts.SUMMARY_SYSTEM) - 40:
            parsed, method = _summarize_body(llm, post, material, notes=True, checker=checker,
                                             fallback=fallback)
            return parsed, "key-sentences+" + method
    notes = _notes(llm, title, text, 0)
    parsed, method = _summarize_body(llm, post, notes, notes=True, checker=checker,
                                     fallback=fallback)
    return parsed, "map-reduce+" + method


KEY_OPENING, KEY_IMPLICATIONS = 4, 3


def key_material(text: str, extractive: list[str]) -> str:
    """What the model rewrites for a post too long to show: its opening sentences, its
    extractive summary and the sentences stating consequences, in the post's order, one
    per line (the post's own words)."""
    cands = post_sentences(text)
    keep = set(cands[:KEY_OPENING]) | set(extractive) | set(
        implication_sentences(text, KEY_IMPLICATIONS))
    ordered = [x for x in cands if x in keep]
    ordered += [x for x in extractive if x not in ordered]
    return "\n".join(ordered)


def _short_post(llm: LLM, title: str, authors: list[str], text: str) -> tuple[Parsed, str]:
    """A post with (almost) no body: say so plainly; the model only labels relevance."""
    reply = llm.chat(prompts.summary_messages(title, authors, text or "(no body text)"),
                     max_tokens=SUMMARY_MAX_TOKENS, json_schema=prompts.SUMMARY_SCHEMA).text
    obj = extract_json(reply) or {}
    relevance = _relevance(obj.get("relevance")) or "related"
    body = plain(text, max_chars=300)
    summary = (f"This post has little or no text beyond its title, “{plain(title)}”."
               + (f" Its whole body reads: “{body}”" if body else ""))
    return Parsed(summary, relevance, ""), "short"


# --- posts in the store --------------------------------------------------------------------------
def current_version(store: Store, post_id: str) -> dict[str, Any] | None:
    row = store.conn.execute(
        "SELECT p.id, p.title, p.authors, v.version, v.content_hash, v.text FROM posts p JOIN "
        "post_versions v ON v.post_id = p.id WHERE p.id = ? ORDER BY v.version DESC LIMIT 1",
        (post_id,)).fetchone()
    return dict(row) if row else None


def cached_summary(store: Store, post_id: str, model_id: str) -> Summary | None:
    """The summary to show for the post's current version: the one by this model and prompt
    when it is good, else the post's extractive summary (model id ``extractive:…``, method
    ``extractive…``) when there is one, else the model's pending row or None.  Given an
    extractive model id, that extractive summary."""
    cur = current_version(store, post_id)
    if cur is None:
        return None
    version = EXTRACTIVE_VERSION if model_id.startswith("extractive:") else \
        prompts.PROMPT_VERSION
    hit = get_summary(store, post_id, cur["content_hash"], model_id, version)
    if hit is not None and hit.ok:
        return hit
    return stored_extractive(store, post_id, cur["content_hash"]) or hit


def summarize_post(store: Store, llm: LLM, post_id: str, *,
                   checker: ClaimChecker | None = None,
                   fallback: list[str] | None = None) -> tuple[Summary, bool]:
    """(summary row, made now) for the post's current version.  Model errors become a
    pending row; ModelUnavailable is re-raised after recording it.  Given ``checker`` (the
    faces pass one over the runtime's embedder), the summary is claim-checked; given
    ``fallback`` (the post's extractive sentences), a sentence that fails falls back to the
    extractive sentence it came from."""
    import json

    cur = current_version(store, post_id)
    if cur is None:
        raise KeyError(f"no post {post_id!r} with text in the archive")
    model_id = llm.model_id
    hit = get_summary(store, post_id, cur["content_hash"], model_id, prompts.PROMPT_VERSION)
    if hit is not None and hit.ok:
        return hit, False
    c = CountingLLM(llm)
    row = Summary(post_id=post_id, version=cur["version"], content_hash=cur["content_hash"],
                  model_id=model_id, prompt_version=prompts.PROMPT_VERSION, status="pending")
    try:
        parsed, method = summarize_text(c, cur["title"], json.loads(cur["authors"]), cur["text"],
                                        checker=checker, fallback=fallback)
        row.status, row.summary, row.relevance = "ok", parsed.summary, parsed.relevance
        if fallback and any(x in fallback for x in sentences(parsed.summary)):
            method += "+extractive"  # some sentences are the post's own, after a failed check
        row.implications, row.method = parsed.implications, method
    except (SummaryFailed, LLMError) as exc:
        row.error = str(exc) or type(exc).__name__
        log.warning("summary of %s pending: %s", post_id, row.error)
        row.calls = c.calls
        save_summary(store, row)
        if isinstance(exc, ModelUnavailable):
            raise
        return row, True
    row.calls = c.calls
    save_summary(store, row)
    return row, True


@dataclass
class SummarizeReport:
    total: int = 0
    made: int = 0
    cached: int = 0
    pending: int = 0  # posts whose model summary failed (they show their extractive summary)
    calls: int = 0
    extractive: int = 0  # posts shown with their extractive summary
    failures: list[tuple[str, str]] = field(default_factory=list)  # (post id, message)

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "summarized": self.made, "cached": self.cached,
                "pending": self.pending, "extractive": self.extractive,
                "model_calls": self.calls,
                "failures": [{"post_id": p, "error": e} for p, e in self.failures]}


def select_posts(store: Store, *, since: str | None = None, post_ids: list[str] | None = None
                 ) -> list[str]:
    if post_ids:
        return list(dict.fromkeys(post_ids))
    sql = "SELECT id FROM posts"
    args: list[Any] = []
    if since:
        sql += " WHERE COALESCE(published, first_seen_at) >= ?"
        args.append(since)
    return [r[0] for r in store.conn.execute(sql + " ORDER BY COALESCE(published, "
                                             "first_seen_at), id", args)]


def _extractive_all(store: Store, embedder: Embedder, post_ids: list[str],
                    report: SummarizeReport) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for pid in post_ids:
        try:
            row, made = extractive_post(store, embedder, pid)
        except KeyError:
            continue
        out[pid] = row
        if made:
            report.made += 1
        else:
            report.cached += 1
    return out


def summarize_posts(store: Store, llm: LLM | None, post_ids: list[str], *, parallel: int = 1,
                    on_done: Callable[[str, Summary | None], None] | None = None,
                    checker: ClaimChecker | None = None,
                    embedder: Embedder | None = None) -> SummarizeReport:
    """Summaries for ``post_ids``.  Every post gets its extractive summary first (with
    ``embedder``, or the ``checker``'s); then, with a chat model ``llm``, the model's summary
    with at most ``parallel`` model requests in flight.  ``llm`` None: extractive only.  A
    post whose model summary failed is counted pending and shows its extractive summary
    (``on_done`` receives the summary to show); once the model is unavailable the remaining
    posts are marked pending without further calls."""
    emb = embedder or (checker.embedder if checker is not None else None)
    if llm is None and emb is None:
        raise ValueError("extractive summaries need an embedder (or a claim checker)")
    report = SummarizeReport(total=len(post_ids))
    extractive: dict[str, Summary] = {}
    if llm is None:
        assert emb is not None
        extractive = _extractive_all(store, emb, post_ids, report)
        report.total = report.extractive = len(extractive)
        if on_done:
            for pid, ex_row in extractive.items():
                on_done(pid, ex_row)
        return report
    c = counting(llm)
    todo: list[str] = []
    for pid in post_ids:  # cache hits first, without touching the model
        cur = current_version(store, pid)
        if cur is None:
            report.total -= 1
            continue
        hit = get_summary(store, pid, cur["content_hash"], c.model_id, prompts.PROMPT_VERSION)
        if hit is not None and hit.ok:
            report.cached += 1
            if on_done:
                on_done(pid, hit)
        else:
            todo.append(pid)
    if emb is not None:  # the fallback of every post the model still has to summarize
        extractive = _extractive_all(store, emb, todo, SummarizeReport())
    unavailable: list[str] = []  # set by the first worker that finds the model unavailable
    lock = threading.Lock()

    def one(pid: str) -> tuple[str, Summary | None, str | None]:
        with lock:
            if unavailable:
                return pid, None, unavailable[0]
        ex = extractive.get(pid)
        fallback = sentences(ex.summary) if ex is not None and ex.method != \
            "extractive-short" else None
        try:
            row, _ = summarize_post(store, c, pid, checker=checker, fallback=fallback)
            return pid, row, row.error if not row.ok else None
        except ModelUnavailable as exc:
            with lock:
                unavailable.append(str(exc))
            return pid, None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        futures = [pool.submit(one, pid) for pid in todo]
        for fut in as_completed(futures):
            pid, row, err = fut.result()
            if row is not None and row.ok:
                report.made += 1
            else:
                report.pending += 1
                report.failures.append((pid, err or "pending"))
                if pid in extractive:
                    report.extractive += 1
                    row = extractive[pid]
            if on_done:
                on_done(pid, row)
    report.calls = c.calls
    return report
