"""Ask the archive: retrieve, give the model numbered sources, stream, then verify.

Two steps so callers can time and drive them separately (the TUI, ``bench/p5_ask.py``):

- :func:`prepare` does everything before the model request: the follow-up rewrite
  (``continue_``), hybrid retrieval, the relevance check that decides to abstain, and the
  prompt, fitted to the context window by dropping the lowest-ranked sources.
- :func:`generate` streams the reply (``on_token(piece)`` per piece), removes citation
  markers of sources that were not given and every link the model wrote, checks every
  sentence, cited or not, with the claim checker (:mod:`digest.answer_check`), and abstains
  when the model refused or most of its statements are not supported.

:func:`ask` runs both and stores the exchange for ``--continue``.

Without a chat model (``llm`` None) the answer is extractive (:mod:`digest.ask_extractive`):
the retrieved passages' sentences that best answer the question, each with its [n], grouped
by post; ``Answer.extractive`` says so (``"extractive": true`` in the JSON, and the model id
is ``extractive:<embedder>``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from digest import ask_prompts as P
from digest.answer_check import SentenceCheck, check_answer
from digest.ask_extractive import answer_text, pick_sentences
from digest.citations import find_markers, strip_invalid_markers
from digest.claimcheck import ClaimChecker
from digest.conversations import last_exchange, save_exchange
from digest.links import strip_links
from digest.support import RELEVANCE_SIM, relevance
from kb.embed.base import Embedder
from kb.index.vector import VectorIndex
from kb.models.base import LLM, Message
from kb.retrieval import search as hybrid_search
from kb.search_types import Filters, Mode, SearchHit
from kb.store.db import Store


class Searcher(Protocol):
    """:func:`kb.retrieval.search`'s signature (tests may pass a scripted one)."""

    def __call__(self, store: Store, embedder: Embedder | None, index: VectorIndex | None,
                 query: str, *, k: int = ..., mode: Mode = ...,
                 filters: Filters | None = ...) -> list[SearchHit]: ...

ANSWER_MAX_TOKENS = 512
RELEVANCE_TOP = 3  # hits whose passages the relevance check looks at
NEAREST = 5  # posts listed instead of an answer


class AskError(RuntimeError):
    """The question cannot be asked (e.g. it does not fit the model's context window)."""


@dataclass
class Citation:
    n: int
    post_id: str
    title: str
    url: str
    supported: bool
    start: int
    end: int
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    version: int = 0
    passage: str = ""
    verdict: str = ""  # "supported" or "weak": the best the check found for this citation

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "post_id": self.post_id, "title": self.title, "url": self.url,
                "supported": self.supported, "verdict": self.verdict or (
                    "supported" if self.supported else "weak"),
                "start": self.start, "end": self.end,
                "authors": self.authors, "published": self.published, "version": self.version,
                "passage": self.passage}


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    retrieved: list[SearchHit]
    removed_markers: list[int] = field(default_factory=list)
    abstain_reason: str = ""
    standalone_question: str = ""
    claims: list[SentenceCheck] = field(default_factory=list)  # every sentence, checked
    model_text: str = ""  # the reply exactly as streamed
    dropped: list[str] = field(default_factory=list)  # post ids left out to fit the context
    model_id: str = ""
    exchange_id: int | None = None
    removed_links: list[str] = field(default_factory=list)  # links the model wrote
    extractive: bool = False  # quoted sentences of the sources: no chat model wrote it

    @property
    def nearest(self) -> list[SearchHit]:
        return self.retrieved[:NEAREST]

    def to_json(self) -> dict[str, Any]:
        return {"answer": self.answer, "abstained": self.abstained,
                "citations": [c.to_json() for c in self.citations],
                "retrieved": [h.to_json() for h in self.retrieved],
                "question": self.question, "standalone_question": self.standalone_question,
                "abstain_reason": self.abstain_reason, "removed_markers": self.removed_markers,
                "claims": [c.to_json() for c in self.claims], "dropped_sources": self.dropped,
                "removed_links": self.removed_links, "model": self.model_id,
                "extractive": self.extractive}


@dataclass
class Prepared:
    question: str
    standalone: str
    retrieved: list[SearchHit]
    sources: list[SearchHit]  # sources[i] is source number i + 1
    messages: list[Message]
    embedder: Embedder
    abstain_reason: str = ""
    relevance: float = 0.0
    dropped: list[str] = field(default_factory=list)
    max_tokens: int = ANSWER_MAX_TOKENS
    parent_id: int | None = None


def stored_passage_vectors(index: VectorIndex, hits: list[SearchHit]
                           ) -> list[list[float] | None] | None:
    """The index's vectors of the hits' chunks (None where it has none), so the relevance
    check does not embed passages again.  None when the index cannot be asked."""
    ids = [h.chunk_id for h in hits]
    if not all(ids):
        return None
    try:
        got = index.get_embeddings(ids)
    except Exception:  # a damaged or foreign index: fall back to embedding the passages
        return None
    return [got.get(i) for i in ids]


def _date(h: SearchHit) -> str:
    return (h.published or "")[:10]


def _docs(question: str, hits: list[SearchHit]) -> list[P.SourceDoc]:
    return [P.SourceDoc(i + 1, h.title, h.authors, _date(h), h.text) for i, h in enumerate(hits)]


def rewrite_followup(store: Store, llm: LLM, question: str) -> tuple[str, int | None]:
    """(standalone question, id of the previous exchange) — unchanged when there is none."""
    prev = last_exchange(store)
    if prev is None:
        return question, None
    reply = llm.chat(P.rewrite_messages(prev.standalone, prev.answer, question), max_tokens=96)
    return P.clean_rewrite(reply.text, question), prev.id


def fit_context(llm: LLM, question: str, hits: list[SearchHit], reserve: int
                ) -> tuple[list[SearchHit], list[str], list[Message]]:
    """Keep the best-ranked sources whose prompt fits ``context_window - reserve`` tokens.
    Returns (kept, dropped post ids, messages).  Raises :class:`AskError` if none fits."""
    budget = llm.context_window - reserve
    base = llm.count_tokens("\n".join(m.content for m in P.answer_messages(question, []))) + 32
    kept, used = [], base
    for i, h in enumerate(hits):
        cost = llm.count_tokens(P.format_source(_docs(question, [h])[0])) + 2
        if used + cost > budget:
            dropped = [x.post_id for x in hits[i:]]
            break
        kept.append(h)
        used += cost
    else:
        dropped = []
    if hits and not kept:
        raise AskError(f"the question and one source need more than the model's context window "
                       f"of {llm.context_window} tokens; ask a shorter question or use a model "
                       "with a larger context")
    return kept, dropped, P.answer_messages(question, _docs(question, kept))


def prepare(store: Store, llm: LLM | None, embedder: Embedder, index: VectorIndex,
            question: str, *, filters: Filters | None = None, k: int = 8,
            continue_: bool = False, max_tokens: int = ANSWER_MAX_TOKENS,
            search: Searcher | None = None) -> Prepared:
    """Everything before the model request (see the module docstring).  ``search`` defaults
    to hybrid retrieval (:func:`kb.retrieval.search`).  Without ``llm`` a follow-up is
    searched together with the previous question, and every retrieved source is kept."""
    search = search or hybrid_search
    question = question.strip()
    if not question:
        raise AskError("the question is empty")
    standalone, parent = question, None
    if continue_ and llm is not None:
        standalone, parent = rewrite_followup(store, llm, question)
    elif continue_ and (prev := last_exchange(store)) is not None:
        standalone, parent = f"{prev.standalone} {question}", prev.id
    hits = search(store, embedder, index, standalone, k=k, mode="hybrid", filters=filters)
    prep = Prepared(question, standalone, hits, [], [], embedder, parent_id=parent,
                    max_tokens=min(ANSWER_MAX_TOKENS, max_tokens))
    if not hits:
        prep.abstain_reason = "nothing in the archive matches the question"
        return prep
    top = hits[:RELEVANCE_TOP]
    vectors = stored_passage_vectors(index, top) if index.model_id == embedder.model_id else None
    prep.relevance = relevance(embedder, standalone, [h.text for h in top], vectors)
    if prep.relevance < RELEVANCE_SIM:
        prep.abstain_reason = ("no post in the archive is close enough to the question "
                               f"(best similarity {prep.relevance:.2f} < {RELEVANCE_SIM:.2f})")
        return prep
    if llm is None:
        prep.sources = hits
        return prep
    prep.sources, prep.dropped, prep.messages = fit_context(llm, standalone, hits,
                                                            prep.max_tokens)
    return prep


_SOURCE_WORD = re.compile(r"\[(?:source|src)\s*#?\s*(\d{1,3})\]", re.IGNORECASE)
_REFUSAL = re.compile(
    r"sources? (do|does|did)(n'?t| not) (answer|contain|mention|say|address|cover|provide)"
    r"|(can ?not|can't|unable to|not able to) answer|no (relevant )?information"
    r"|(don't|do not) (know|have enough)|not (mentioned|covered|addressed) in the sources",
    re.IGNORECASE)


def _abstain(prep: Prepared, reason: str, *, model_text: str = "", model_id: str = "",
             removed: list[int] | None = None) -> Answer:
    text = f"The archive does not answer this: {reason}. The nearest posts are listed instead."
    return Answer(prep.question, text, True, [], prep.retrieved, removed or [], reason,
                  prep.standalone, [], model_text, prep.dropped, model_id)


def clean_reply(raw: str, sources: int) -> tuple[str, list[int], list[str]]:
    """The reply with "[source 2]" read as "[2]", markers of sources that were not given
    removed, and every link the model wrote removed (its words stay).  Returns (text,
    removed markers, removed links)."""
    text, links = strip_links(_SOURCE_WORD.sub(r"[\1]", raw))
    text, removed = strip_invalid_markers(text.strip(), set(range(1, sources + 1)))
    return text, removed, links


def generate(prep: Prepared, llm: LLM | None, on_token: Callable[[str], None] | None = None,
             checker: ClaimChecker | None = None) -> Answer:
    """Stream the model's reply and check every sentence of it (see the module docstring and
    :mod:`digest.answer_check`).  Without ``llm``: the extractive answer."""
    if llm is None:
        return extractive_answer(prep)
    if prep.abstain_reason:
        return _abstain(prep, prep.abstain_reason)
    pieces: list[str] = []
    for piece in llm.stream(prep.messages, max_tokens=prep.max_tokens):
        pieces.append(piece)
        if on_token is not None:
            on_token(piece)
    raw = "".join(pieces)
    text, removed, links = clean_reply(raw, len(prep.sources))
    if not text or (_REFUSAL.search(text) and not find_markers(text)):
        out = _abstain(prep, "the model said the sources do not answer the question",
                       model_text=raw, model_id=llm.model_id, removed=removed)
        out.removed_links = links
        return out
    passages = {i + 1: h.text for i, h in enumerate(prep.sources)}
    checked = check_answer(checker or ClaimChecker(prep.embedder), text, passages)
    if not checked.stands():
        facts = checked.factual
        good = sum(s.verdict == "supported" for s in facts)
        reason = (f"only {good} of the {len(facts)} statements in the model's reply "
                  "are supported by the sources" if facts else
                  "the model's reply states nothing the sources could support")
        out = _abstain(prep, reason, model_text=raw, model_id=llm.model_id, removed=removed)
        out.claims, out.removed_links = checked.sentences, links  # for inspection (--json)
        return out
    citations = []
    for n in checked.shown_markers:
        h = prep.sources[n - 1]
        verdicts = [s.evidence[n].verdict for s in checked.sentences
                    if s.kept and n in s.shown]
        verdict = "supported" if "supported" in verdicts else "weak"
        citations.append(Citation(n, h.post_id, h.title, h.url, verdict == "supported",
                                  h.start, h.end, h.authors, h.published, h.version, h.text,
                                  verdict))
    return Answer(prep.question, checked.text, False, citations, prep.retrieved, removed, "",
                  prep.standalone, checked.sentences, raw, prep.dropped, llm.model_id,
                  removed_links=links)


def extractive_answer(prep: Prepared) -> Answer:
    """The sentences of the retrieved passages that best answer the question, each with its
    [n], grouped by post (see :mod:`digest.ask_extractive`), or an abstention."""
    model_id = f"extractive:{prep.embedder.model_id}"
    picked = [] if prep.abstain_reason else \
        pick_sentences(prep.embedder, prep.standalone, prep.sources)
    if not picked:
        out = _abstain(prep, prep.abstain_reason or "no sentence of the retrieved posts is "
                       "close enough to the question", model_id=model_id)
        out.extractive = True
        return out
    citations = []
    for n in sorted({p.source for p in picked}):
        h = prep.sources[n - 1]
        citations.append(Citation(n, h.post_id, h.title, h.url, True, h.start, h.end,
                                  h.authors, h.published, h.version, h.text, "supported"))
    text = answer_text(picked)
    return Answer(prep.question, text, False, citations, prep.retrieved, [], "",
                  prep.standalone, [], text, prep.dropped, model_id, extractive=True)


def ask(store: Store, llm: LLM | None, embedder: Embedder, index: VectorIndex, question: str,
        *,
        filters: Filters | None = None, k: int = 8, on_token: Callable[[str], None] | None = None,
        continue_: bool = False, max_tokens: int = ANSWER_MAX_TOKENS,
        search: Searcher | None = None) -> Answer:
    """Answer ``question`` from the archive with checked citations, or abstain.  ``llm``
    None: an extractive answer (quoted sentences of the sources)."""
    prep = prepare(store, llm, embedder, index, question, filters=filters, k=k,
                   continue_=continue_, max_tokens=max_tokens, search=search)
    answer = generate(prep, llm, on_token)
    answer.exchange_id = save_exchange(
        store, question=answer.question, standalone=answer.standalone_question,
        answer=answer.answer, abstained=answer.abstained,
        citations=[c.to_json() for c in answer.citations], model_id=answer.model_id,
        parent_id=prep.parent_id)
    return answer
