"""The claim checker: does a passage say what a claim says?

One checker for the digest, `kb ask` and `kb check`.  A verdict per (claim, passage):

- ``supported`` — the passage says it: close under the embedder and in shared words, and none
  of the explicit checks below fails;
- ``weak`` — related, but not shown to say it (too few shared words, or a run of words the
  passage never uses: a predicate of the claim's own attached to the passage's topic);
- ``contradicted`` — an explicit check fails: a negation flipped (a negated word the passage
  states, or the claim's own sentence with one negation more or less), a number, date or
  quantity that differs (whole tokens, with units and percent), a quantifier that differs
  ("all" vs "most"), a name or acronym the passage does not contain (a capitalized word that
  starts a sentence included, unless it is an ordinary word: digest/ordinary_words.txt);
- ``unsupported`` — the passage does not bear on the claim.

The embedding signal (cosine similarity of the claim and the passage window that matches it
best) says whether the two are about the same thing; it cannot see "not" or "12%" vs "21%",
which is what the explicit checks are for.  They compare the claim with the passage sentence it
lines up with (by shared words), so a negation elsewhere in the passage does not count.
Thresholds are calibrated on the adversarial claim set tests/eval/claims_spec.jsonl (built by
``bench/claims.py``, measured with `kb eval claims`; the README's "Claim checks" has the table).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Literal

from digest.support import cosine, terms
from digest.text import sentences
from kb.embed.base import Embedder

Verdict = Literal["supported", "weak", "contradicted", "unsupported"]
VERDICTS: tuple[Verdict, ...] = ("supported", "weak", "contradicted", "unsupported")

# --- calibrated thresholds (bench/claims.py + `kb eval claims`; the README has the table) ----
SUPPORT_SIM = 0.55  # claim vs best window: "says the same thing"
SUPPORT_OVERLAP = 0.5  # and shares at least this share of its content words
STRONG_SIM = 0.75  # so close that the wording may differ freely ...
STRONG_OVERLAP = 0.35  # ... as long as this share of the claim's content words is shared (a
# claim that only names the passage's topic and adds its own predicate is close, not supported)
SHORT_CLAIM = 5  # fewer content words than this: a share means little, one shared word does
WEAK_SIM = 0.35  # related
ALIGN_OVERLAP = 0.35  # a passage sentence "lines up" with the claim (for the explicit checks)
SAME_SENTENCE = 0.8  # ... and is the claim's own sentence when this share is shared both ways
CLOSER = 0.1  # a near-verbatim contradicting passage this much closer outweighs a support

# Field words a claim may use whether or not the passage spells them out.
GENERIC = frozenset({
    "ai", "ais", "agi", "asi", "ml", "llm", "llms", "rl", "nlp", "i", "ok", "gpt", "api",
    "apis", "tl", "dr", "tldr", "vs", "etc", "eg", "ie", "the", "this", "these", "post",
    "posts", "author", "authors", "paper",
})

_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|cannot|without|hardly|unable|"
    r"fails?\s+to|failed\s+to|lacks?|\w+n['’]t)\b", re.IGNORECASE)
_QUANTIFIERS: dict[str, str] = {
    "all": "all", "every": "all", "always": "all", "everyone": "all", "everything": "all",
    "most": "most", "mostly": "most", "usually": "most", "majority": "most",
    "some": "some", "several": "some", "sometimes": "some", "few": "few", "rarely": "few",
    "seldom": "few", "many": "many", "often": "many",
}
_QUANT_WORD = re.compile(r"\b(" + "|".join(_QUANTIFIERS) + r")\b", re.IGNORECASE)

# "one" and "zero" are left out: "one of the", "one approach" are not quantities
_NUMBER_WORDS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen", "twenty")) if i >= 2}
_UNIT = (r"%|percent|per\s*cent|x\b|×|times\b|k\b|m\b|b\b|bn\b|thousand|million|billion|"
         r"trillion|years?|months?|weeks?|days?|hours?|minutes?|seconds?|tokens?|parameters?|"
         r"params|gb|tb|mb|flops?|points?|dollars?|usd|people|papers|posts|models?|"
         r"layers?|heads?|steps?|samples?|examples?|questions?|tasks?")
_NUMBER = re.compile(rf"(?<![\w.$])(\$)?(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s?({_UNIT})?",
                     re.IGNORECASE)
_NUMBER_WORD = re.compile(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b\s?(" + _UNIT + r")?",
                          re.IGNORECASE)
_CAPITAL = re.compile(r"\b[A-Z][\w]*(?:[-'’][\w]+)*")
# a semicolon does not start a sentence: "…; Step 5 is" keeps its capital only for a name
_SENTENCE_START = re.compile(r"(?:^|[.!?:]\s+|[\"“(\[]\s*|^\W+)$")


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """English words that are not names when a sentence starts with them capitalized."""
    text = resources.files("digest").joinpath("ordinary_words.txt").read_text(encoding="utf-8")
    return frozenset(w for w in text.split() if not w.startswith("#") and w.isalpha())


_SUFFIXES = ("ively", "ially", "ably", "ibly", "istic", "ical", "ness", "ment", "able", "ible",
             "ive", "ial", "ity", "ous", "ism", "ist", "ize", "ise", "ly", "ed", "al", "ic",
             "er", "s")
_ENDINGS = ("", "e", "y", "ion", "ism", "ity", "ive", "ize", "al")
_PREFIXES = ("mis", "un", "non", "super", "over", "under", "re", "anti", "counter", "multi",
             "self", "sub", "pre", "post", "inter")


def is_ordinary(word: str, _depth: int = 0) -> bool:
    """``word`` (lowercase) is an ordinary English word: in the vocabulary, or derived from
    one by a common suffix or prefix ("deceptive" from "deception", "adversarial" from
    "adversary", "misaligned" from "aligned") — the WordPiece vocabulary lists few derived
    forms."""
    vocab = ordinary_words()
    if word in vocab:
        return True
    if _depth >= 2:
        return False
    for suf in _SUFFIXES:
        stem = word[: -len(suf)]
        if word.endswith(suf) and len(stem) >= 4 and any(
                stem + e in vocab or (e == "" and is_ordinary(stem, _depth + 1))
                for e in _ENDINGS):
            return True
    return any(word.startswith(p) and len(word) - len(p) >= 5
               and is_ordinary(word[len(p):], _depth + 1) for p in _PREFIXES)


# --- the explicit checks -------------------------------------------------------------------
@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str  # a unit class: "%", "year", "x", "" (a plain number) ...
    text: str


def _unit_class(unit: str | None, value: float, raw: str) -> str:
    u = (unit or "").lower().replace(" ", "")
    if u in ("%", "percent", "percent") or u.startswith("per"):
        return "%"
    if u in ("x", "×", "times"):
        return "x"
    if u in ("k", "thousand"):
        return "k"
    if u in ("m", "million"):
        return "m"
    if u in ("b", "bn", "billion"):
        return "b"
    if u:
        return u.rstrip("s")
    if "." not in raw and "," not in raw and 1900 <= value <= 2100:
        return "year"
    return ""


def quantities(text: str) -> list[Quantity]:
    """Numbers as whole tokens with their units ("12%", "2023", "3x", "1.5 billion", "two")."""
    out: list[Quantity] = []
    for m in _NUMBER.finditer(text):
        raw = m.group(2)
        value = float(raw.replace(",", ""))
        unit = "$" if m.group(1) else _unit_class(m.group(3), value, raw)
        out.append(Quantity(value, unit, m.group(0).strip()))
    for m in _NUMBER_WORD.finditer(text):
        value = float(_NUMBER_WORDS[m.group(1).lower()])
        out.append(Quantity(value, _unit_class(m.group(2), value, m.group(1)), m.group(0).strip()))
    return out


def _same(a: Quantity, b: Quantity) -> bool:
    if abs(a.value - b.value) > 1e-9 * max(1.0, abs(a.value)):
        return False
    return a.unit == b.unit or "" in (a.unit, b.unit)


def number_problems(claim: str, passage: str, aligned: str) -> list[str]:
    """Numbers of the claim the passage does not state, compared as whole tokens with their
    units ("20%" is not "2023"): "number differs: 12% vs 21%" (the claim's, then the
    passage's) when the sentence the claim lines up with has another number of the same kind,
    else "number not in the passage: …"."""
    have, near = quantities(passage), quantities(aligned)
    out = []
    for q in quantities(claim):
        if any(_same(q, h) for h in have):
            continue
        rival = next((h for h in near if h.unit == q.unit and not _same(q, h)), None)
        if rival is None and q.unit in ("", "year"):
            rival = next((h for h in near if h.unit in ("", "year") and not _same(q, h)), None)
        out.append(f"number differs: {q.text} vs {rival.text}"
                   if rival else f"number not in the passage: {q.text}")
    return out


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace("’", "'")


def _mentioned(term: str, text_low: str) -> bool:
    t = re.escape(_fold(term))
    if re.search(rf"(?<![a-z0-9]){t}(?![a-z0-9])", text_low):
        return True
    if term.lower().endswith("s") and len(term) > 3:  # "SAEs" for "SAE"
        return bool(re.search(rf"(?<![a-z0-9]){t[:-1]}(?![a-z0-9])", text_low))
    return False


def name_problems(claim: str, passage: str) -> list[str]:
    """Names and acronyms of the claim — anywhere in it, a capitalized word that starts a
    sentence included unless it is an ordinary word — that the passage does not contain."""
    low = _fold(passage)
    out: list[str] = []
    for m in _CAPITAL.finditer(claim):
        term = re.sub(r"['’]s$", "", m.group())
        key = term.lower()
        if key in GENERIC or key.rstrip("s") in GENERIC or term in out or len(term) < 2:
            continue
        if _mentioned(term, low):
            continue
        acronym = sum(c.isupper() for c in term) >= 2
        at_start = bool(_SENTENCE_START.search(claim[: m.start()]))
        if at_start and not acronym and is_ordinary(key):
            continue  # "Researchers found…", "Reward hacking…"
        out.append(term)
    return [f"{'acronym' if sum(c.isupper() for c in t) >= 2 else 'name'} not in the passage: "
            f"{t}" for t in out]


def negations(text: str) -> int:
    return len(_NEGATION.findall(text))


_TOKEN = re.compile(r"[\w'’-]+")
NEGATION_SCOPE = 4  # words after a negation cue that it governs
NOVEL_RUN = 3  # this many content words in a row that the passage never uses: a new assertion


def negated_terms(text: str) -> tuple[set[str], set[str]]:
    """(terms under a negation, terms not under one): a cue ("not", "never", "no", "fails
    to", "-n't", …) governs the next few words, up to a comma or clause break."""
    under: set[str] = set()
    free: set[str] = set()
    for clause in re.split(r"[,;:()]|\bbut\b|\bwhile\b|\balthough\b", text, flags=re.I):
        words = _TOKEN.findall(clause)
        scope = 0
        for w in words:
            if _NEGATION.fullmatch(w) or re.fullmatch(r"\w+n['’]t", w, re.I):
                scope = NEGATION_SCOPE
                continue
            (under if scope else free).update(terms(w))
            scope = max(0, scope - 1)
        if re.search(r"\bfail(?:s|ed)?\s+to\b", clause, re.I):
            tail = re.split(r"\bfail(?:s|ed)?\s+to\b", clause, maxsplit=1, flags=re.I)[1]
            under.update(terms(" ".join(_TOKEN.findall(tail)[:NEGATION_SCOPE])))
    return under, free - under


def novel_run(claim: str, passage: str) -> list[str]:
    """The longest run of the claim's consecutive content words (stopwords skipped) that the
    passage never uses — "is widely considered solved by the community" attached to a post's
    topic — or [] when it is shorter than NOVEL_RUN."""
    have = terms(passage)
    run: list[str] = []
    longest: list[str] = []
    for w in _TOKEN.findall(claim):
        t = terms(w)
        if not t:
            continue  # a stopword does not break a run
        if t <= have:
            run = []
            continue
        run.append(w)
        if len(run) > len(longest):
            longest = list(run)
    return longest if len(longest) >= NOVEL_RUN else []


def quantifiers(text: str) -> set[str]:
    return {_QUANTIFIERS[w.lower()] for w in _QUANT_WORD.findall(text)}


def same_sentence(claim: str, aligned: str) -> bool:
    """The claim and the passage sentence share nearly all their content words, both ways:
    the claim restates that very sentence (perhaps with a word changed)."""
    ct, at = terms(claim), terms(aligned)
    if not ct or not at:
        return False
    shared = len(ct & at)
    return shared / len(ct) >= SAME_SENTENCE and shared / len(at) >= SAME_SENTENCE


def polarity_problems(claim: str, aligned: str) -> list[str]:
    """A negation or a quantifier that differs between the claim and the passage sentence it
    lines up with.  Negation parity: when the claim restates that sentence (see
    :func:`same_sentence`) and the two have a different number of negation cues, a negation
    was added or dropped — even where it governs only stopwords ("what it is not doing")."""
    out = []
    c_neg, c_free = negated_terms(claim)
    a_neg, a_free = negated_terms(aligned)
    if (c_neg - a_neg) & a_free:
        out.append("negation flipped: the claim negates what the passage states ("
                   + ", ".join(sorted((c_neg - a_neg) & a_free)[:3]) + ")")
    elif (a_neg - c_neg) & c_free:
        out.append("negation flipped: the passage negates what the claim states ("
                   + ", ".join(sorted((a_neg - c_neg) & c_free)[:3]) + ")")
    elif negations(claim) != negations(aligned) and same_sentence(claim, aligned):
        out.append(f"negation flipped: the claim has {negations(claim)} negation(s) where the "
                   f"passage's sentence has {negations(aligned)}")
    qc, qa = quantifiers(claim), quantifiers(aligned)
    if qc and qa and not qc & qa:
        out.append(f"quantifier differs: the claim says {'/'.join(sorted(qc))}, the passage "
                   f"{'/'.join(sorted(qa))}")
    elif "all" in qc and not qa and qc <= {"all"}:
        out.append("quantifier differs: the claim says all, the passage does not")
    return out


# --- the checker ------------------------------------------------------------------------------
@dataclass
class Evidence:
    """The verdict of one (claim, passage) pair and why."""

    verdict: Verdict
    reasons: list[str] = field(default_factory=list)
    similarity: float = 0.0
    overlap: float = 0.0
    aligned: str = ""  # the passage sentence the claim lines up with

    @property
    def supported(self) -> bool:
        return self.verdict == "supported"

    def to_json(self) -> dict[str, object]:
        return {"verdict": self.verdict, "reasons": self.reasons,
                "similarity": round(self.similarity, 3), "overlap": round(self.overlap, 3)}


def _overlap(claim_terms: set[str], text: str) -> float:
    return len(claim_terms & terms(text)) / len(claim_terms) if claim_terms else 0.0


def windows(passage: str) -> list[str]:
    """The passage's sentences, each with its neighbours (a claim may merge two)."""
    sents = sentences(re.sub(r"\s+", " ", passage)) or [passage]
    if len(sents) <= 3:
        return [" ".join(sents)]
    return [" ".join(sents[max(0, i - 1):i + 2]) for i in range(len(sents))]


# Markdown between sentences ("… a hit. > > But it's not …") that the prose splitter keeps
_MD_BREAK = re.compile(r"(?<=[.!?])[\"')\]*_]*\s+(?:[>#*\-]+\s+)+(?=\S)")


def _passage_sentences(passage: str) -> list[str]:
    """The passage's sentences, split also where Markdown quote or list markers sit between
    them."""
    out: list[str] = []
    for s in sentences(re.sub(r"\s+", " ", passage)) or [passage]:
        out.extend(p.strip() for p in _MD_BREAK.split(s) if p.strip())
    return out or [passage]


def _aligned_sentence(claim_terms: set[str], passage: str) -> tuple[str, float]:
    best, score = "", 0.0
    for s in _passage_sentences(passage):
        o = _overlap(claim_terms, s)
        if o > score:
            best, score = s, o
    return best, score


class ClaimChecker:
    """Checks claims against passages with an embedder (the real MiniLM in production)."""

    def __init__(self, embedder: Embedder, *, candidates: int = 2) -> None:
        self.embedder = embedder
        self.candidates = candidates

    def check(self, claim: str, passage: str) -> Evidence:
        return self.check_many([(claim, passage)])[0]

    def check_many(self, pairs: list[tuple[str, str]]) -> list[Evidence]:
        """Verdicts for (claim, passage) pairs, embedding everything in one batch."""
        plans = []
        slot: dict[str, int] = {}  # each distinct text is embedded once
        for claim, passage in pairs:
            ct = terms(claim)
            wins = sorted(windows(passage), key=lambda w: -_overlap(ct, w))[:self.candidates]
            aligned, _ = _aligned_sentence(ct, passage)
            if aligned and aligned not in wins:
                wins.append(aligned)  # a claim as short as one sentence: compare like with like
            plans.append((ct, wins))
            for t in (claim, *wins):
                slot.setdefault(t, len(slot))
        vecs = self.embedder.embed_documents(list(slot)) if slot else []
        out = []
        for (claim, passage), (ct, wins) in zip(pairs, plans, strict=True):
            cv = vecs[slot[claim]]
            sims = [cosine(cv, vecs[slot[w]]) for w in wins]
            best = max(range(len(wins)), key=lambda i: (sims[i], _overlap(ct, wins[i])))
            out.append(self._verdict(claim, passage, ct, wins[best], sims[best]))
        return out

    def _verdict(self, claim: str, passage: str, ct: set[str], window: str,
                 sim: float) -> Evidence:
        ovl = max(_overlap(ct, window), 0.0)
        aligned, aligned_ovl = _aligned_sentence(ct, passage)
        reasons = number_problems(claim, passage, aligned) + name_problems(claim, passage)
        if aligned_ovl >= ALIGN_OVERLAP:
            reasons += polarity_problems(claim, aligned)
        related = sim >= WEAK_SIM or ovl >= SUPPORT_OVERLAP
        if reasons and related:
            return Evidence("contradicted", reasons, sim, ovl, aligned)
        if reasons:
            return Evidence("unsupported", reasons, sim, ovl, aligned)
        strong = sim >= STRONG_SIM and (
            ovl >= STRONG_OVERLAP or (len(ct) < SHORT_CLAIM and ovl > 0))
        if (sim >= SUPPORT_SIM and ovl >= SUPPORT_OVERLAP) or strong:
            novel = novel_run(claim, passage)
            if not novel:
                return Evidence("supported", [], sim, ovl, aligned)
            return Evidence("weak", [f"related (similarity {sim:.2f}) but the passage never "
                                     f"says “{' '.join(novel)}”"], sim, ovl, aligned)
        if related:
            return Evidence("weak", [f"related (similarity {sim:.2f}, shared words "
                                     f"{ovl:.0%}) but not shown to say it"], sim, ovl, aligned)
        return Evidence("unsupported", [f"the passage does not bear on it (similarity "
                                        f"{sim:.2f})"], sim, ovl, aligned)


def best(evidence: list[Evidence]) -> Evidence | None:
    """The verdict that decides: a passage that supports the claim, else one that contradicts
    it, else the most related.  One exception: a contradicting passage that restates the
    claim almost word for word (all its words, similarity ≥ STRONG_SIM) and is clearly closer
    than every supporting one decides — the claim's own sentence, with a negation or a number
    changed, outweighs a passage that is merely about the same thing."""
    if not evidence:
        return None
    rank = {"supported": 0, "contradicted": 1, "weak": 2, "unsupported": 3}
    top = min(evidence, key=lambda e: (rank[e.verdict], -e.similarity))
    if top.verdict == "supported":
        against = [e for e in evidence if e.verdict == "contradicted" and e.overlap >= 1.0
                   and e.similarity >= STRONG_SIM]
        near = max(against, key=lambda e: e.similarity, default=None)
        if near is not None and all(near.similarity >= e.similarity + CLOSER
                                    for e in evidence if e.verdict == "supported"):
            return near
    return top
