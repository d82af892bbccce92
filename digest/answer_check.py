"""Every sentence of a model's answer, checked against the sources it was given.

The rules (issue #13), applied to the reply after invalid markers and links are removed:

- A cited sentence is checked against each passage it cites.  A citation whose passage
  contradicts the sentence (a flipped negation, another number, a name the passage lacks) is
  removed — it is never shown as support.  The sentence stays when one of its citations
  supports it, or only weakly supports it (the citation is then shown as weak); a sentence
  that is contradicted, or that its sources do not bear on, is dropped.
- An uncited sentence that states something (content words, a number or a name) is checked
  against the sources it shares most words with: when one supports it, that source's marker is
  added (the check is what the marker stands for); otherwise it is dropped.  Sentences that
  state nothing ("Here is what the posts say:") stay as they are.
- The answer stands only when most of its stating sentences are supported; otherwise the
  caller abstains and lists the best passages instead.

Layout survives: lines, list bullets and paragraphs are kept; only sentences go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from digest.citations import MARKER
from digest.claimcheck import ClaimChecker, Evidence, Verdict, best, name_problems, quantities
from digest.support import terms

UNCITED_CANDIDATES = 3  # sources an uncited sentence is checked against (most shared words)
FACT_TERMS = 4  # content words that make a sentence a statement about the posts

_BULLET = re.compile(r"^(\s*(?:[-*•+]|\d{1,2}[.)])\s+|\s*#{1,6}\s+|\s*>\s*)")
_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=[\[A-Z0-9\"“(])")


@dataclass
class SentenceCheck:
    """One sentence of the answer and what the check made of it."""

    sentence: str  # without markers
    cites: list[int]  # valid markers the model put on it
    shown: list[int] = field(default_factory=list)  # markers kept in the answer
    verdict: Verdict = "unsupported"
    factual: bool = True
    kept: bool = True
    added: bool = False  # the marker was added by the check (an uncited supported sentence)
    evidence: dict[int, Evidence] = field(default_factory=dict)
    note: str = ""

    @property
    def supported(self) -> dict[int, bool]:
        return {n: e.supported for n, e in self.evidence.items()}

    def to_json(self) -> dict[str, object]:
        return {"sentence": self.sentence, "cites": self.cites, "shown": self.shown,
                "verdict": self.verdict if self.factual else None, "factual": self.factual,
                "kept": self.kept, "citation_added": self.added, "note": self.note,
                "supported": {str(n): v for n, v in self.supported.items()},
                "evidence": {str(n): e.to_json() for n, e in self.evidence.items()}}


@dataclass
class CheckedAnswer:
    text: str  # the answer as shown
    sentences: list[SentenceCheck]

    @property
    def factual(self) -> list[SentenceCheck]:
        return [s for s in self.sentences if s.factual]

    @property
    def supported_share(self) -> float:
        facts = self.factual
        return sum(s.verdict == "supported" for s in facts) / len(facts) if facts else 0.0

    def stands(self) -> bool:
        """Most stating sentences are supported (strictly more than half)."""
        facts = self.factual
        return bool(facts) and 2 * sum(s.verdict == "supported" for s in facts) > len(facts)

    @property
    def shown_markers(self) -> list[int]:
        return list(dict.fromkeys(n for s in self.sentences if s.kept for n in s.shown))


def is_statement(sentence: str) -> bool:
    """Does the sentence state something about the posts (content words, a number or a
    name), as opposed to a lead-in like "Here is what the sources say:"?"""
    s = sentence.strip()
    if s.endswith(":"):
        return False
    return (len(terms(s)) >= FACT_TERMS or bool(quantities(s))
            or (len(s.split()) >= 2 and bool(name_problems(s, ""))))  # "OpenAI did it."


_LEADING_MARKERS = re.compile(r"^(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])+")


def _numbers(text: str) -> list[int]:
    return [int(p) for m in MARKER.finditer(text) for p in m.group(1).split(",")]


def _pieces(line: str) -> list[tuple[str, list[int]]]:
    """A line's sentences with the markers each carries; markers right after a sentence's
    full stop ("… end. [2]", "… end. [2] Next …") belong to the sentence before it."""
    out: list[tuple[str, list[int]]] = []
    for raw in _SPLIT.split(line):
        lead = _LEADING_MARKERS.match(raw)
        if lead and out:
            out[-1][1].extend(n for n in _numbers(lead.group(0)) if n not in out[-1][1])
            raw = raw[lead.end():]
        nums = _numbers(raw)
        bare = re.sub(r"\s+", " ", MARKER.sub("", raw)).strip()
        bare = re.sub(r"\s+([.,;:!?])", r"\1", bare)
        if len(re.findall(r"[A-Za-z]", bare)) < 3:
            if out:
                out[-1][1].extend(n for n in nums if n not in out[-1][1])
            continue
        out.append((bare, list(dict.fromkeys(nums))))
    return out


def _with_markers(sentence: str, shown: list[int]) -> str:
    if not shown:
        return sentence
    mark = " " + "".join(f"[{n}]" for n in shown)
    m = re.search(r"([.!?][\"'”’)]*)$", sentence)
    return (sentence[:m.start()] + mark + m.group(1)) if m else sentence + mark


def check_answer(checker: ClaimChecker, text: str, passages: dict[int, str]) -> CheckedAnswer:
    """Check every sentence of ``text`` against ``passages`` (source number → passage text)
    and rebuild the answer from the sentences that stay (see the module docstring)."""
    lines: list[tuple[str, list[SentenceCheck]]] = []
    for line in text.split("\n"):
        m = _BULLET.match(line)
        prefix, body = (m.group(1), line[m.end():]) if m else ("", line)
        items = [SentenceCheck(s, [n for n in cites if n in passages])
                 for s, cites in _pieces(body)]
        lines.append((prefix, items))
    every = [s for _, items in lines for s in items]
    pairs: list[tuple[SentenceCheck, int]] = []
    for s in every:
        s.factual = bool(s.cites) or is_statement(s.sentence)
        if not s.factual:
            continue
        targets = s.cites or sorted(passages, key=lambda n: -len(
            terms(s.sentence) & terms(passages[n])))[:UNCITED_CANDIDATES]
        pairs += [(s, n) for n in targets]
    verdicts = checker.check_many([(s.sentence, passages[n]) for s, n in pairs])
    for (s, n), ev in zip(pairs, verdicts, strict=True):
        s.evidence[n] = ev
    for s in every:
        if s.factual:
            _decide(s)
    out_lines = []
    for prefix, items in lines:
        if not items:
            out_lines.append("" if not prefix.strip() else prefix.rstrip())
            continue
        kept = [_with_markers(s.sentence, s.shown) for s in items if s.kept]
        if kept:
            out_lines.append(prefix + " ".join(kept))
    shown = re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip()
    return CheckedAnswer(shown, every)


def _decide(s: SentenceCheck) -> None:
    ev = s.evidence
    decided = best(list(ev.values()))
    s.verdict = decided.verdict if decided else "unsupported"
    if s.cites:
        s.shown = [n for n in s.cites if ev[n].verdict in ("supported", "weak")]
        wrong = [n for n in s.cites if ev[n].verdict == "contradicted"]
        if wrong and s.verdict != "contradicted":
            s.note = "; ".join(f"[{n}] removed: {'; '.join(ev[n].reasons)}" for n in wrong)
        s.kept = s.verdict in ("supported", "weak")
        if not s.kept:
            s.shown = []
            s.note = "dropped: " + "; ".join(
                f"[{n}] {'; '.join(ev[n].reasons) or ev[n].verdict}" for n in s.cites)
        return
    support = [n for n, e in ev.items() if e.supported]
    if support:
        top = max(support, key=lambda n: ev[n].similarity)
        s.shown, s.added = [top], True
        s.note = f"uncited; supported by [{top}], which was added"
        return
    s.kept = False
    reasons = decided.reasons if decided else []
    s.note = "dropped: uncited and no source supports it" + (
        f" ({'; '.join(reasons)})" if reasons else "")
