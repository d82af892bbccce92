"""A reader's checks of a built digest (its stored JSON), counted: what issue #17 calls a digest
not worth reading.

- ``short_sentence``: a sentence of fewer than 4 words (markers aside);
- ``no_final_period``: a sentence that does not end with a full stop (or ? / !, quotes aside);
- ``prompt_text``: prompt or data-header text ("Title:", "Authors:", "<<<DATA", "Notes on the
  parts of a long post", the prompts' own phrases);
- ``theme_named_after_title``: a theme name that is a member post's title (see ``title_clash``);
- ``uncited_bullet``: a theme bullet without a ``[n]`` of the theme's posts;
- ``implication_repeats_bullet``: a theme's implications repeating one of its bullets;
- ``summary_not_in_post``: an extractive summary sentence that is not in its post's text;
- ``no_authors``: a post listed without authors.

Used by the digest-quality test over real days of the corpus.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from digest import prompts
from digest.citations import find_markers, strip_markers
from digest.extractive import post_sentences, split_sentences
from digest.text import plain
from digest.theme_extract import title_clash

KINDS = ("short_sentence", "no_final_period", "prompt_text", "theme_named_after_title",
         "uncited_bullet", "implication_repeats_bullet", "summary_not_in_post", "no_authors")
_HEADER = re.compile(r"\b(?:title|authors?)\s*:|notes on the parts of a long post|<<<|>>>|"
                     r"\bpart \d+:", re.I)
_END = re.compile(r"[.!?][\"'”’)\]]*$")


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _prose(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, text) of every piece of prose in the digest."""
    out: list[tuple[str, str]] = []
    for t in data.get("themes", []):
        out += [(f"theme {t['name']!r} bullet", b) for b in t["summary"]]
        if t.get("implications"):
            out.append((f"theme {t['name']!r} implications", t["implications"]))
    if data.get("connections"):
        out.append(("connections", data["connections"]))
    for p in data.get("posts", []):
        if p.get("status") == "ok":
            out.append((f"post {p['n']} summary", p["summary"]))
            if p.get("implications"):
                out.append((f"post {p['n']} implications", p["implications"]))
    return out


def digest_problems(data: dict[str, Any], text_of: Callable[[str], str]
                    ) -> dict[str, list[str]]:
    """Every problem of the digest ``data`` by kind (see the module doc); ``text_of`` gives a
    post's stored text by id."""
    found: dict[str, list[str]] = {k: [] for k in KINDS}
    for where, text in _prose(data):
        low = text.lower()
        if _HEADER.search(text) or any(m in low for m in prompts.ECHO_MARKERS):
            found["prompt_text"].append(f"{where}: {text[:80]!r}")
        for sent in split_sentences(strip_markers(text)):
            sent = re.sub(r"\s+([.,;:!?])", r"\1", sent).strip()
            if len(sent.split()) < 4:
                found["short_sentence"].append(f"{where}: {sent!r}")
            if not _END.search(sent):
                found["no_final_period"].append(f"{where}: {sent[-40:]!r}")
    posts = {p["n"]: p for p in data.get("posts", [])}
    for t in data.get("themes", []):
        if title_clash(t["name"], [posts[n]["title"] for n in t["numbers"] if n in posts]):
            found["theme_named_after_title"].append(t["name"])
        said = {_norm(strip_markers(s)) for s in split_sentences(t.get("implications") or "")}
        for b in t["summary"]:
            if not set(find_markers(b)) & set(t["numbers"]):
                found["uncited_bullet"].append(b[:80])
            if _norm(strip_markers(b)) in said:
                found["implication_repeats_bullet"].append(b[:80])
    for p in data.get("posts", []):
        if not [a for a in p.get("authors") or [] if a and a.lower() != "unknown"]:
            found["no_authors"].append(p["title"])
        if p.get("status") != "ok" or not p.get("extractive"):
            continue
        raw = text_of(p["id"])
        hay = f" {_norm(plain(raw, max_chars=10**7))} | {_norm(' '.join(post_sentences(raw)))} "
        for sent in split_sentences(p["summary"]):
            if f" {_norm(sent)} " not in hay:
                found["summary_not_in_post"].append(f"post {p['n']}: {sent[:80]!r}")
    return found


def counts(problems: dict[str, list[str]]) -> dict[str, int]:
    return {k: len(v) for k, v in problems.items()}
