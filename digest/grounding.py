"""Is a model's summary about the post it summarizes?

A small model writing "The AI Governance and AI Policy Project (AGAP) has published…" for a
post that never names such a project is inventing a claim and tying it to a real post — the
one thing a digest must not do.  Wording cannot be checked, but the *specific* things a
summary names can: acronyms, numbers and proper names must occur in the post (its title,
authors or text).  Generic field vocabulary ("AI", "LLM") is always allowed.
"""

from __future__ import annotations

import re

# Field words a summary may use whether or not the post spells them out.
GENERIC = frozenset({
    "ai", "ais", "agi", "asi", "ml", "llm", "llms", "rl", "nlp", "us", "uk", "eu", "i", "ok",
    "gpt", "api", "apis", "tl", "dr", "tldr", "ceo", "phd", "ie", "eg", "vs", "etc",
})
# Function words a confused model capitalizes mid-sentence ("… here The post …"): not names.
_STOP = frozenset(re.findall(r"[a-z]+", """a an the this that these those it its in on at for to of and or but nor so
as by with from into over under about after before between through during if when while
however also then there here such some many most all both each either neither other another
we our us they them their he his she her you your who whom which what where why how
is are was were be been being has have had do does did can could may might must shall should
will would not no yes than too very just only even still yet post posts author authors paper
essay article section part finally first second third overall"""))
_NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                 "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                 "seventeen", "eighteen", "nineteen", "twenty")

_CAPITALIZED = re.compile(r"\b[A-Z][\w]*(?:-[\w]+)*")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s*(?:%|percent\b|per\s*cent\b))?",
                     re.IGNORECASE)
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"“(]\s*)$")
# Unsupported proper names tolerated before a summary counts as ungrounded: one stray
# capitalized word ("Bayesian", "English") is paraphrase, two are usually an invention.
MAX_UNSUPPORTED_NAMES = 1


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def _mentioned(term: str, source: str) -> bool:
    t = term.lower()
    if re.search(rf"(?<![a-z0-9]){re.escape(t)}(?![a-z0-9])", source):
        return True
    if t.endswith("s") and len(t) > 3:  # "SAEs" for "SAE", "Transformers" for "Transformer"
        return bool(re.search(rf"(?<![a-z0-9]){re.escape(t[:-1])}(?![a-z0-9])", source))
    return False


_PERCENT = re.compile(r"\s*(?:%|percent\b|per\s*cent\b)", re.IGNORECASE)


def _source_numbers(source: str) -> tuple[set[str], set[str]]:
    """(every number of ``source`` as a whole token, those of them given as a percentage);
    commas dropped ("1,000" = "1000")."""
    plain_nums: set[str] = set()
    percents: set[str] = set()
    for m in re.finditer(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\d])", source):
        n = m.group().rstrip(",").replace(",", "")
        plain_nums.add(n)
        if _PERCENT.match(source, m.end()):
            percents.add(n)
    return plain_nums, percents


def _number_mentioned(num: str, source: str) -> bool:
    """Whether ``source`` states the number ``num`` as a whole token: "20%" is not in a post
    that only says "2023" or "20 posts"; "12" is in "12 of them" and in "twelve"."""
    bare = re.sub(r"[^\d.]", "", num.split()[0] if " " in num else num.rstrip("%")).rstrip(".")
    found, percents = _source_numbers(source)
    if _PERCENT.search(num):
        return bare in percents
    if bare in found:
        return True
    if bare.isdigit() and int(bare) < len(_NUMBER_WORDS):
        return _mentioned(_NUMBER_WORDS[int(bare)], source)
    return False


def unsupported_terms(summary: str, source: str) -> list[str]:
    """The acronyms, numbers and proper names of ``summary`` that ``source`` never mentions,
    in order of appearance; empty when the summary is grounded."""
    src = _norm(source)
    out: list[str] = []
    names: list[str] = []
    for m in _CAPITALIZED.finditer(summary):
        term = re.sub(r"['’]s$", "", m.group())
        low = term.lower()
        if low in GENERIC or low.rstrip("s") in GENERIC or term in out or term in names:
            continue
        if sum(c.isupper() for c in term) >= 2 and not term.istitle():  # SAE, RLHF, OpenAI
            if not _mentioned(term, src):
                out.append(term)
        elif not (_SENTENCE_START.search(summary[: m.start()]) or low in _STOP
                  or _mentioned(term, src)):  # a capital that only starts a sentence: no name
            names.append(term)
    for m in _NUMBER.finditer(summary):
        num = m.group().rstrip(",")
        if not _number_mentioned(num, src) and num not in out:
            out.append(num)
    if len(names) > MAX_UNSUPPORTED_NAMES:
        out.extend(names)
    return out


def grounding_problem(summary: str, source: str) -> str | None:
    """Why ``summary`` is not grounded in ``source``, or None."""
    terms = unsupported_terms(summary, source)
    if not terms:
        return None
    shown = ", ".join(terms[:4]) + (", …" if len(terms) > 4 else "")
    return f"the summary names things the post does not mention ({shown})"
