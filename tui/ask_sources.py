"""The rows of the Ask screen's Sources list: the cited posts (or the nearest posts when the
archive does not answer), then each checked sentence with its verdict; for a reopened exchange,
its stored citations.  Every row is literal Text and says what Enter on it opens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from rich.text import Text

from digest.conversations import Exchange
from tui.data import Marks
from tui.marks import marks
from tui.safe import join, one_line

if TYPE_CHECKING:
    from digest.ask import Answer

SENTENCE_MARK = {"supported": ("✓", "green"), "weak": ("?", "yellow"),
                 "contradicted": ("✗", "red"), "unsupported": ("–", "dim"),
                 "dropped": ("–", "dim")}


class Target(NamedTuple):
    """What an entry of the Sources list opens: a post at a passage of one version."""

    post_id: str
    version: int | None
    start: int
    end: int


Row = tuple[Target | None, Text]  # None: a heading, not selectable


def _cited(exchange: Exchange) -> list[dict[str, Any]]:
    return [c for c in exchange.citations if isinstance(c.get("post_id"), str)]


def post_ids(shown: Answer | Exchange) -> list[str]:
    """The posts the list names (whose reading marks it shows)."""
    if isinstance(shown, Exchange):
        return [str(c["post_id"]) for c in _cited(shown)]
    if shown.abstained:
        return [h.post_id for h in shown.nearest]
    return [c.post_id for c in shown.citations]


def rows(shown: Answer | Exchange, state: Marks) -> list[Row]:
    if isinstance(shown, Exchange):
        return stored_citation_rows(shown, state)
    if shown.abstained:
        out: list[Row] = [(Target(h.post_id, h.version, h.start, h.end),
                           join(marks(h.post_id, state), "· ", (h.title, "")))
                          for h in shown.nearest]
    else:
        out = citation_rows(shown, state)
    return out + sentence_rows(shown)


def _citation_label(post_id: str, state: Marks, n: int, title: object, supported: bool,
                    published: object) -> Text:
    label = marks(post_id, state)  # Text(): never parsed as markup
    label.append(f"[{n}] ", style="bold")
    label.append(one_line(title))
    label.append("  ✓" if supported else "  ?", style="green" if supported else "yellow")
    if published:
        label.append("\n    " + one_line(published)[:10], style="dim")
    return label


def citation_rows(answer: Answer, state: Marks) -> list[Row]:
    return [(Target(c.post_id, c.version, c.start, c.end),
             _citation_label(c.post_id, state, c.n, c.title, c.supported, c.published))
            for c in answer.citations]


def stored_citation_rows(exchange: Exchange, state: Marks) -> list[Row]:
    """The citations stored with an exchange (``Citation.to_json``); entries without a post id
    are skipped, numbers that are not integers read as 0."""
    out: list[Row] = []
    for c in _cited(exchange):
        def number(key: str, c: dict[str, Any] = c) -> int:
            value = c.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        post_id = str(c["post_id"])
        out.append((Target(post_id, number("version") or None, number("start"), number("end")),
                    _citation_label(post_id, state, number("n"), c.get("title") or post_id,
                                    bool(c.get("supported")), c.get("published"))))
    return out


def sentence_rows(answer: Answer) -> list[Row]:
    """Each checked sentence with its verdict; Enter opens the passage that decided it."""
    checked = [s for s in answer.claims if s.factual]
    if not checked:
        return []
    out: list[Row] = [(None, Text("Sentences", style="bold"))]
    for s in checked:
        n = (s.shown or [n for n, e in s.evidence.items() if e.verdict == s.verdict]
             or list(s.evidence))[:1]
        if not n or n[0] > len(answer.retrieved):
            continue
        hit = answer.retrieved[n[0] - 1]  # source n is the n-th retrieved passage
        mark, style = SENTENCE_MARK[
            s.verdict if s.kept or s.verdict == "contradicted" else "dropped"]
        if s.kept and s.added:
            mark, style = "+", "green"
        label = Text(f"{mark} ", style=f"bold {style}")
        label.append(one_line(s.sentence)[:160])
        label.append(f" [{n[0]}]", style="dim")
        if s.note:
            label.append("\n    " + one_line(s.note)[:160], style="dim")
        out.append((Target(hit.post_id, hit.version, hit.start, hit.end), label))
    return out
