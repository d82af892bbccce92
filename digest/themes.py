"""Themes of a day: embeddings, clusters, and each theme's name, bullets and implications.

Every theme is first made from the posts' own words (:mod:`digest.theme_extract`: a name from
the phrases that set it apart, one cited key sentence per post, the posts' own consequence
sentences as implications) and the connections section from the data
(:mod:`digest.connections`).  Without a chat model that is the theme.  With one, the model
rewrites it into prose, and the model only writes prose: which posts belong to a theme (its
Key Posts) is decided by the clustering; citation markers in the prose that do not point at
the theme's own posts (or, for connections, at the day's posts) are removed and logged.  Then
every model sentence (theme bullets, implications, connections) goes through the claim checker
(:class:`digest.claimcheck.ClaimChecker`) against the text of the posts it cites — each post's
title, summary and implication, which is what the model was shown and what was itself checked
against the post:

- a citation whose post contradicts the sentence or does not bear on it is removed; a sentence
  left without a supporting (``supported`` or ``weak``) citation is dropped;
- a sentence that cites nothing gets the markers of the posts that support it (verdict
  ``supported``), else it is dropped — markers are never added unchecked;
- a dropped bullet gives way to the extractive bullets of the posts it cited (a theme left
  without bullets gets all of them), implications that do not survive to the extractive ones,
  connections to the ones said from the data — never worse than extractive, never filler.

What was removed, dropped or cited is recorded in :class:`ThemeResult`.  Model texts are
cached by (inputs, model id, prompt version) and the checker's embeddings by text, so an
unchanged day makes no model call and no embedding.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from digest import prompts
from digest.citations import find_markers, strip_invalid_markers, strip_markers
from digest.claimcheck import ClaimChecker, Evidence, best
from digest.cluster import centroid, cluster, cosine
from digest.connections import PostFacts, ThemeFacts, connections
from digest.grounding import grounding_problem
from digest.repo import cache_get, cache_key, cache_put
from digest.text import (
    DATA_ECHO,
    cut_repetition,
    extract_json,
    first_sentences,
    has_junk_word,
    one_line,
    plain,
    sentences,
    tidy_sentence,
)
from digest.theme_extract import (
    Phrase,
    ThemeText,
    implications,
    key_bullets,
    key_phrases,
    theme_name,
    title_clash,
)
from kb.embed.base import Embedder
from kb.models.base import LLM, LLMError, Message
from kb.store.db import Store

log = logging.getLogger("digest.themes")

THEME_MAX_TOKENS = 500
CONNECTIONS_MAX_TOKENS = 350
THREAD_SIMILARITY = 0.8  # theme centroids at least this close continue an earlier thread
THREAD_LOOKBACK = 14  # earlier digests searched for continuing threads


def member_text(title: str, summary: str) -> str:
    return f"{title}. {summary}"


OK_VERDICTS = ("supported", "weak")  # a citation that may stay


def claim_source(m: Member) -> str:
    """What a theme or connections sentence citing ``m`` is checked against: the post's title,
    summary and implication — the text the model was given (the summary and implication were
    checked against the post itself when they were made)."""
    title = m.title.strip()
    if title and not title.endswith((".", "?", "!")):
        title += "."
    return " ".join(x for x in (title, m.summary.strip(), m.implications.strip()) if x)


@dataclass
class Member:
    n: int  # the post's number in the day's list
    post_id: str
    title: str
    summary: str
    implications: str
    text: str = ""  # the post's current text (for key phrases, implications and links)
    authors: list[str] = field(default_factory=list)


@dataclass
class Theme:
    name: str
    numbers: list[int]
    summary: list[str]
    implications: str
    centroid: list[float]
    method: str = "model"
    continues: dict[str, Any] | None = None
    phrases: list[str] = field(default_factory=list)  # its key phrases, most distinctive first

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ThemeResult:
    themes: list[Theme]
    connections: str
    removed_markers: list[dict[str, Any]] = field(default_factory=list)
    model_failures: int = 0
    # the claim check: citations taken away (the cited post does not support the sentence),
    # sentences dropped (nothing supports them), citations given to uncited sentences
    removed_citations: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    added_citations: list[dict[str, Any]] = field(default_factory=list)
    # model sentences replaced by the extractive sentence they came from (or that they left
    # uncovered); who wrote the themes and the connections ("extractive" or a model id)
    fallbacks: int = 0
    themes_by: str = "extractive"
    connections_by: str = "extractive"

    def claim_check(self) -> dict[str, list[dict[str, Any]]]:
        return {"removed_citations": self.removed_citations, "dropped": self.dropped,
                "added_citations": self.added_citations}


def embed_cached(store: Store, embedder: Embedder, texts: list[str]) -> list[list[float]]:
    keys = [cache_key("embed", embedder.model_id, t) for t in texts]
    out: list[list[float] | None] = [cache_get(store, k) for k in keys]
    missing = [i for i, v in enumerate(out) if v is None]
    if missing:
        vecs = embedder.embed_documents([texts[i] for i in missing])
        for i, v in zip(missing, vecs, strict=True):
            vec = [round(float(x), 6) for x in v]
            cache_put(store, keys[i], "embed", vec)
            out[i] = vec
    return [v for v in out if v is not None]


class CachedEmbedder:
    """An embedder whose document vectors are cached in the digest cache (by model and text),
    so re-checking an unchanged digest embeds nothing."""

    def __init__(self, store: Store, inner: Embedder) -> None:
        self.store, self.inner = store, inner

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return embed_cached(self.store, self.inner, texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


# --- the claim check of model sentences --------------------------------------------------------
_LEADING_MARKERS = re.compile(r"^((?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s*)+)(.*)$", re.S)


def claim_sentences(text: str) -> list[str]:
    """``text`` split into sentences, a marker after a full stop ("… works. [2]") kept with the
    sentence it follows."""
    out: list[str] = []
    for sent in sentences(text):
        m = _LEADING_MARKERS.match(sent)
        if m and out:
            out[-1] = f"{out[-1]} {m.group(1).strip()}"
            sent = m.group(2).strip()
        if sent:
            out.append(sent)
    return out


def bare_claim(sentence: str) -> str:
    """The sentence without its markers, as the checker reads it."""
    t = re.sub(r"\s{2,}", " ", strip_markers(sentence))
    return re.sub(r"\s+([.,;:!?])", r"\1", t).strip()


def with_citation(sentence: str, numbers: list[int]) -> str:
    """``sentence`` with ``[numbers]`` before its closing punctuation."""
    m = re.match(r"^(.*?)([.!?]+[\"”’)]*)?$", sentence.rstrip(), re.S)
    body, end = (m.group(1), m.group(2) or "") if m else (sentence, "")
    return f"{body.rstrip()} [{', '.join(map(str, numbers))}]{end}"


def _absence_only(ev: Evidence) -> bool:
    """The only problems are names or numbers the passage lacks (another cited post may state
    them) — not a flipped negation or a differing number."""
    return ev.verdict == "contradicted" and bool(ev.reasons) and \
        all("not in the passage" in r for r in ev.reasons)


def _why(evs: dict[int, Evidence]) -> list[str]:
    return [f"[{n}] {e.verdict}" + (f": {'; '.join(e.reasons)}" if e.reasons else "")
            for n, e in evs.items()]


def check_claims(checker: ClaimChecker, sents: list[str], sources: dict[int, str], pool: list[int],
                 where: str, result: ThemeResult) -> list[str]:
    """The sentences that survive the claim check, with their citations corrected (see the
    module docstring).  ``sources`` maps post numbers to their text; ``pool`` are the posts
    an uncited sentence may be attributed to.  Markers must already be valid numbers."""
    pairs: list[tuple[str, str]] = []
    plans: list[tuple[str, str, list[int], bool]] = []  # (sentence, claim, posts, cited)
    for sent in sents:
        claim = bare_claim(sent)
        if not claim:
            continue
        cited = [n for n in find_markers(sent) if n in sources]
        posts = cited or [n for n in pool if n in sources]
        plans.append((sent, claim, posts, bool(cited)))
        pairs += [(claim, sources[n]) for n in posts]
        if len(cited) > 1:  # a sentence may join what several cited posts say
            pairs.append((claim, "\n".join(sources[n] for n in cited)))
    verdicts = iter(checker.check_many(pairs) if pairs else [])
    kept: list[str] = []
    for sent, claim, posts, has_markers in plans:
        evs = {n: next(verdicts) for n in posts}
        together = next(verdicts) if has_markers and len(posts) > 1 else None
        if has_markers:
            ok = [n for n in posts if evs[n].verdict in OK_VERDICTS]
            if together is not None and together.verdict in OK_VERDICTS:
                ok += [n for n in posts if n not in ok and _absence_only(evs[n])]
            removed = [n for n in posts if n not in ok]
            if removed:
                result.removed_citations.append({
                    "where": where, "sentence": sent, "markers": removed,
                    "reasons": _why({n: evs[n] for n in removed})})
                log.warning("%s: citation %s of %r removed: the cited post does not support it",
                            where, removed, claim)
            if ok:
                kept.append(strip_invalid_markers(sent, set(ok))[0].strip())
                continue
        else:
            support = [n for n in posts if evs[n].verdict == "supported"]
            if support:
                kept.append(with_citation(sent, support))
                result.added_citations.append({"where": where, "sentence": claim,
                                               "markers": support})
                continue
        top = best(list(evs.values()))
        result.dropped.append({"where": where, "text": claim, "cited": has_markers,
                               "reasons": _why(evs) if has_markers else (
                                   [f"no post supports it (best: {top.verdict})"] if top else
                                   ["no post to check it against"])})
        log.warning("%s: sentence dropped, no post supports it: %r", where, claim)
    return kept


def _cached_call(store: Store, llm: LLM, kind: str, msgs: list[Message], schema: dict[str, Any],
                 max_tokens: int, check: Any) -> tuple[Any, str]:
    """(validated value, method) from cache or from the model (one retry); (None, reason) when
    the model's output stayed invalid.  LLMError propagates (nothing cached)."""
    key = cache_key(kind, [(m.role, m.content) for m in msgs], llm.model_id,
                    prompts.PROMPT_VERSION)
    hit = cache_get(store, key)
    if hit is not None:
        return hit["value"], hit["method"]
    value, reason = None, ""
    for attempt in range(2):
        reply = llm.chat(msgs, max_tokens=max_tokens, json_schema=schema).text
        value, reason = check(extract_json(reply))
        if value is not None:
            method = "model" if attempt == 0 else "model-retry"
            cache_put(store, key, kind, {"value": value, "method": method})
            return value, method
        log.info("%s reply invalid (%s)", kind, reason)
        msgs = [*msgs, Message("assistant", reply[:2000]), prompts.retry_message(reason)]
    cache_put(store, key, kind, {"value": None, "method": f"fallback ({reason})"})
    return None, f"fallback ({reason})"


def _echo(text: str) -> bool:
    low = text.lower()
    return any(m in low for m in prompts.ECHO_MARKERS)


def _grounded(text: str, source: str) -> bool:
    return not source or grounding_problem(strip_markers(text), source) is None


def _check_theme(obj: dict[str, Any] | None, source: str = "") -> tuple[dict[str, Any] | None, str]:
    """A usable theme from a parsed reply, or (None, reason).  Given ``source`` (the members'
    titles and summaries), sentences naming anything the members never mention are dropped."""
    if not obj:
        return None, "no JSON object in the reply"
    name = one_line(str(obj.get("name") or ""))
    if len(name) < 3 or _echo(name) or has_junk_word(name, 25):
        return None, "no usable theme name"
    if not _grounded(name, source):
        return None, "the theme name " + (grounding_problem(name, source) or "").removeprefix(
            "the summary ")
    raw = obj.get("summary")
    items = raw if isinstance(raw, list) else sentences(str(raw or ""))
    bullets, seen = [], set()
    for b in (tidy_sentence(cut_repetition(plain(str(b), max_chars=400))) for b in items):
        key = re.sub(r"\W+", " ", b.lower()).strip()
        if len(b) >= 20 and not _echo(b) and not has_junk_word(b) and key not in seen and \
                not DATA_ECHO.match(b) and _grounded(b, source):
            seen.add(key)
            bullets.append(b)
    bullets = bullets[:4]
    if not bullets:
        return None, "no usable summary sentences"
    impl = first_sentences(cut_repetition(plain(str(obj.get("implications") or ""),
                                                max_chars=600)), 2)
    impl = tidy_sentence(impl)
    if _echo(impl) or has_junk_word(impl) or not _grounded(impl, source):
        impl = ""
    return {"name": name, "summary": bullets, "implications": impl}, ""


@dataclass
class Extractive:
    """A theme from the posts' own words (see digest.theme_extract)."""
    name: str
    bullets: list[tuple[int, str]]  # (n, key sentence [n])
    implications: list[tuple[int, str]]
    phrases: list[Phrase]


def extractive_themes(store: Store | None, groups: list[list[Member]]) -> list[Extractive]:
    """Name, bullets and implications of each group from its posts' text; names are distinct
    and never a member's title (nor a prefix of one)."""
    texts = [[ThemeText(m.n, m.title, m.summary, m.text) for m in g] for g in groups]
    out: list[Extractive] = []
    taken: list[str] = []
    for g, t, ph in zip(groups, texts, key_phrases(texts, store=store), strict=True):
        name = theme_name(ph, [m.title for m in g] + taken, size=len(g))
        taken.append(name)
        out.append(Extractive(name, key_bullets(t), implications(t, ph), ph))
    return out


def write_theme(store: Store, llm: LLM | None, members: list[Member], vectors: list[list[float]],
                result: ThemeResult, checker: ClaimChecker, ext: Extractive) -> Theme:
    """The theme from ``ext``; with ``llm``, the model's rewrite of it, claim-checked: a bullet
    that fails gives way to the extractive bullet of the post it left uncovered, implications
    that fail to the extractive ones — never worse than extractive."""
    base = Theme(name=ext.name, numbers=[m.n for m in members], summary=[b for _, b in ext.bullets],
                 implications=" ".join(b for _, b in ext.implications),
                 centroid=centroid(vectors), method="extractive",
                 phrases=[p.shown for p in ext.phrases[:8]])
    if llm is None:
        return base
    items = [(m.n, m.title, m.summary) for m in members]
    valid = {m.n for m in members}
    try:
        source = "\n".join(f"[{m.n}] {m.title}\n{m.summary}\n{m.implications}" for m in members)
        value, method = _cached_call(store, llm, "theme", prompts.theme_messages(items),
                                     prompts.THEME_SCHEMA, THEME_MAX_TOKENS,
                                     lambda obj: _check_theme(obj, source))
    except LLMError as exc:
        log.warning("theme writing failed, using the extractive theme: %s", exc)
        value, method = None, f"fallback (model error: {exc})"
        result.model_failures += 1
    if value is None:
        base.method = method
        return base
    name = value["name"]
    if title_clash(name, [m.title for m in members]):
        log.info("theme name %r is a member's title: using %r", name, ext.name)
        name = ext.name
    bullets: list[str] = []
    for b in value["summary"]:
        clean, removed = strip_invalid_markers(b, valid)
        if removed:
            result.removed_markers.append({"where": f"theme {name!r}", "markers": removed})
            log.warning("theme %r cited posts outside the theme, removed: %s", name, removed)
        bullets.append(clean.strip())
    impl, removed = strip_invalid_markers(value["implications"], valid)
    if removed:
        result.removed_markers.append({"where": f"theme {name!r} implications",
                                       "markers": removed})
        log.warning("theme %r implications cited posts outside the theme, removed: %s",
                    name, removed)
    sources = {m.n: claim_source(m) for m in members}
    pool = [m.n for m in members]
    before = len(result.added_citations)
    kept: list[str] = []
    failed: set[int] = set()  # posts cited by a model bullet that failed the check
    for bullet in bullets:
        ok = check_claims(checker, [bullet], sources, pool, f"theme {name!r}", result)
        kept += ok
        if not ok:
            failed.update(find_markers(bullet))
    bullets = kept
    impl = " ".join(check_claims(checker, claim_sentences(impl.strip()), sources, pool,
                                 f"theme {name!r} implications", result))
    if len(result.added_citations) > before:
        method += "+cited-by-check"
    covered = {n for b in bullets for n in find_markers(b)}
    missing = [b for n, b in ext.bullets if n not in covered and (n in failed or not bullets)]
    if missing:  # a failed model sentence gives way to the extractive ones it came from
        bullets += missing
        result.fallbacks += len(missing)
        method += "+extractive-bullets"
        log.info("theme %r: %d extractive bullet(s) in place of model sentences", name,
                 len(missing))
    if not impl and base.implications:
        impl = base.implications
        result.fallbacks += len(ext.implications)
        method += "+extractive-implications"
    return Theme(name=name, numbers=base.numbers, summary=bullets, implications=impl,
                 centroid=base.centroid, method=method, phrases=base.phrases)


def _check_connections(obj: dict[str, Any] | None, source: str = "") -> tuple[str | None, str]:
    if not obj:
        return None, "no JSON object in the reply"
    sents = sentences(cut_repetition(plain(str(obj.get("connections") or ""), max_chars=1200)))
    text = tidy_sentence(" ".join([x for x in sents if _grounded(x, source)][:5]))
    if len(text) < 40 or _echo(text) or has_junk_word(text):
        return None, "no usable connections text"
    return text, ""


def write_connections(store: Store, llm: LLM, themes: list[Theme], result: ThemeResult,
                      checker: ClaimChecker, members: list[Member], fallback: str) -> str:
    """The model's connections paragraph, claim-checked; ``fallback`` (the connections said from
    the data) when no sentence of it survives."""
    valid = {n for t in themes for n in t.numbers}
    sims = [(i + 1, j + 1, cosine(a.centroid, b.centroid)) for i, a in enumerate(themes)
            for j, b in enumerate(themes) if i < j]
    sims.sort(key=lambda s: -s[2])
    threads = [f"theme {t.name!r} continues {t.continues['name']!r} of {t.continues['date']}"
               for t in themes if t.continues]
    msgs = prompts.connections_messages([(t.name, t.numbers, t.implications) for t in themes],
                                        sims[:3], threads)
    try:
        source = "\n".join(f"{t.name} {t.numbers} {' '.join(t.summary)} {t.implications}"
                           for t in themes)
        text, _ = _cached_call(store, llm, "connections", msgs, prompts.CONNECTIONS_SCHEMA,
                               CONNECTIONS_MAX_TOKENS, lambda obj: _check_connections(obj, source))
    except LLMError as exc:
        log.warning("connections writing failed, using the connections from the data: %s", exc)
        text = None
        result.model_failures += 1
    if text is not None:
        clean, removed = strip_invalid_markers(text, valid)
        if removed:
            result.removed_markers.append({"where": "connections", "markers": removed})
            log.warning("connections cited posts that are not in the day's themes, removed: %s",
                        removed)
        sources = {m.n: claim_source(m) for m in members if m.n in valid}
        kept = check_claims(checker, claim_sentences(clean), sources, sorted(sources),
                            "connections", result)
        text = " ".join(kept) or None
    if text is None:
        log.info("connections: no model sentence survived; using the connections from the data")
        return fallback
    result.connections_by = llm.model_id
    return str(text).strip()


def build_themes(store: Store, llm: LLM | None, embedder: Embedder, members: list[Member], *,
                 max_themes: int = 4, earlier: list[dict[str, Any]] | None = None,
                 checker: ClaimChecker | None = None, core_topic: str = "") -> ThemeResult:
    """Cluster ``members`` into at most ``max_themes`` themes of posts that belong together
    (a post close to no other stands alone; the posts closest to ``core_topic``, the reader's
    first interest, are the ones that get a theme of their own when there is room) and make
    each theme and the connections section from the posts' own words (digest.theme_extract,
    digest.connections); given ``llm``, the model rewrites them and every model sentence is
    checked with ``checker`` (by default a :class:`ClaimChecker` over ``embedder`` with its
    vectors cached in the store).  A post in no theme is still in the day's summaries."""
    result = ThemeResult(themes=[], connections="")
    if not members:
        return result
    checker = checker or ClaimChecker(CachedEmbedder(store, embedder))
    vectors = embed_cached(store, embedder, [member_text(m.title, m.summary) for m in members])
    priority = None
    if core_topic:
        anchor = embed_cached(store, embedder, [core_topic])[0]
        priority = [cosine(v, anchor) for v in vectors]
    groups = cluster(vectors, max_themes, priority)[:max(1, max_themes)]
    exts = extractive_themes(store, [[members[i] for i in g] for g in groups])
    for group, ext in zip(groups, exts, strict=True):
        theme = write_theme(store, llm, [members[i] for i in group],
                            [vectors[i] for i in group], result, checker, ext)
        theme.continues = _continuing(theme, earlier or [], embedder.model_id)
        result.themes.append(theme)
    if llm is not None and any(not t.method.startswith(("extractive", "fallback"))
                               for t in result.themes):
        result.themes_by = llm.model_id
    facts = [ThemeFacts(t.name, t.numbers, e.phrases, t.continues)
             for t, e in zip(result.themes, exts, strict=True)]
    said = connections(store, facts, [PostFacts(m.n, m.post_id, m.authors, m.text)
                                      for m in members])
    result.connections = (said if llm is None else
                          write_connections(store, llm, result.themes, result, checker, members,
                                            said))
    return result


def _continuing(theme: Theme, earlier: list[dict[str, Any]], embed_model: str
                ) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for digest in earlier:
        if digest.get("embed_model") != embed_model:
            continue
        for old in digest.get("themes", []):
            s = cosine(theme.centroid, old.get("centroid") or [])
            if s >= THREAD_SIMILARITY and (best is None or s > best["similarity"]):
                best = {"date": digest["date"], "name": old["name"], "similarity": round(s, 3)}
    return best
