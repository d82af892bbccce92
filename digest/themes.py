"""Themes of a day: embeddings, clusters, and model-written names, bullets and implications.

The model only writes prose.  Which posts belong to a theme (its Key Posts) is decided by
the clustering; citation markers in the prose that do not point at the theme's own posts
(or, for connections, at the day's posts) are removed and logged; a theme whose prose ends up
citing nothing gets its members' markers.  Results are cached by (inputs, model id, prompt
version), so an unchanged day makes no model call.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from digest import prompts
from digest.citations import find_markers, strip_invalid_markers, strip_markers
from digest.cluster import centroid, cluster, cosine
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


@dataclass
class Member:
    n: int  # the post's number in the day's list
    post_id: str
    title: str
    summary: str
    implications: str


@dataclass
class Theme:
    name: str
    numbers: list[int]
    summary: list[str]
    implications: str
    centroid: list[float]
    method: str = "model"
    continues: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ThemeResult:
    themes: list[Theme]
    connections: str
    removed_markers: list[dict[str, Any]] = field(default_factory=list)
    model_failures: int = 0


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


def _fallback_theme(members: list[Member]) -> dict[str, Any]:
    first = one_line(members[0].title, max_words=8)
    name = first if len(members) == 1 else f"{first} and related posts"
    bullets = [f"{first_sentences(m.summary, 1)} [{m.n}]" for m in members[:4]]
    impls = [f"{m.implications} [{m.n}]" for m in members if m.implications][:2]
    impl = " ".join(impls) or ("See each post's summary below for what it means for alignment "
                               f"[{', '.join(str(m.n) for m in members)}].")
    return {"name": name, "summary": bullets, "implications": impl}


def write_theme(store: Store, llm: LLM, members: list[Member], vectors: list[list[float]],
                result: ThemeResult) -> Theme:
    items = [(m.n, m.title, m.summary) for m in members]
    valid = {m.n for m in members}
    try:
        source = "\n".join(f"[{m.n}] {m.title}\n{m.summary}\n{m.implications}" for m in members)
        value, method = _cached_call(store, llm, "theme", prompts.theme_messages(items),
                                     prompts.THEME_SCHEMA, THEME_MAX_TOKENS,
                                     lambda obj: _check_theme(obj, source))
    except LLMError as exc:
        log.warning("theme writing failed, using the posts' own summaries: %s", exc)
        value, method = None, f"fallback (model error: {exc})"
        result.model_failures += 1
    if value is None:
        value = _fallback_theme(members)
    bullets: list[str] = []
    for b in value["summary"]:
        clean, removed = strip_invalid_markers(b, valid)
        if removed:
            result.removed_markers.append({"where": f"theme {value['name']!r}", "markers": removed})
            log.warning("theme %r cited posts outside the theme, removed: %s", value["name"], removed)
        bullets.append(clean.strip())
    impl, removed = strip_invalid_markers(value["implications"], valid)
    if removed:
        result.removed_markers.append({"where": f"theme {value['name']!r} implications",
                                       "markers": removed})
        log.warning("theme %r implications cited posts outside the theme, removed: %s",
                    value["name"], removed)
    if not any(find_markers(t) for t in [*bullets, impl]):
        bullets[-1] = f"{bullets[-1]} [{', '.join(str(m.n) for m in members)}]"
        method += "+cited"
    return Theme(name=value["name"], numbers=[m.n for m in members], summary=bullets,
                 implications=impl.strip(), centroid=centroid(vectors), method=method)


def _check_connections(obj: dict[str, Any] | None, source: str = "") -> tuple[str | None, str]:
    if not obj:
        return None, "no JSON object in the reply"
    sents = sentences(cut_repetition(plain(str(obj.get("connections") or ""), max_chars=1200)))
    text = tidy_sentence(" ".join([x for x in sents if _grounded(x, source)][:5]))
    if len(text) < 40 or _echo(text) or has_junk_word(text):
        return None, "no usable connections text"
    return text, ""


def write_connections(store: Store, llm: LLM, themes: list[Theme], result: ThemeResult) -> str:
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
        log.warning("connections writing failed, using a plain statement: %s", exc)
        text = None
        result.model_failures += 1
    if text is None:
        text = _fallback_connections(themes, sims)
    clean, removed = strip_invalid_markers(text, valid)
    if removed:
        result.removed_markers.append({"where": "connections", "markers": removed})
        log.warning("connections cited posts that are not in the day's themes, removed: %s",
                    removed)
    if not find_markers(clean):
        clean = f"{clean.rstrip()} [{', '.join(str(t.numbers[0]) for t in themes)}]"
    return clean.strip()


def _fallback_connections(themes: list[Theme], sims: list[tuple[int, int, float]]) -> str:
    if len(themes) == 1:
        t = themes[0]
        return (f"All of the day's alignment posts fall under one theme, {t.name} "
                f"[{', '.join(map(str, t.numbers))}].")
    a, b, s = sims[0]
    ta, tb = themes[a - 1], themes[b - 1]
    return (f"The closest pair of themes is {ta.name} [{ta.numbers[0]}] and {tb.name} "
            f"[{tb.numbers[0]}] (embedding similarity {s:.2f}); the other themes stand apart.")


def build_themes(store: Store, llm: LLM, embedder: Embedder, members: list[Member], *,
                 max_themes: int = 4, earlier: list[dict[str, Any]] | None = None
                 ) -> ThemeResult:
    """Cluster ``members`` and write each theme and the connections section."""
    result = ThemeResult(themes=[], connections="")
    if not members:
        return result
    vectors = embed_cached(store, embedder, [member_text(m.title, m.summary) for m in members])
    for group in cluster(vectors, max_themes):
        theme = write_theme(store, llm, [members[i] for i in group],
                            [vectors[i] for i in group], result)
        theme.continues = _continuing(theme, earlier or [], embedder.model_id)
        result.themes.append(theme)
    result.connections = write_connections(store, llm, result.themes, result)
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
