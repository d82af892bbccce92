"""`kb eval retrieval`: recall@k, MRR and nDCG@k of each search mode over a question file.

The file is JSONL, one ``{"question": "...", "relevant": [...]}`` per line; a relevant item is a
LW/AF post id or any URL of the post.  Relevance is binary.  MRR uses the rank of the first
relevant post among the top ``max(k, 10)`` results (0 when none is there).

Optional fields: ``"kind"`` (a label such as paraphrase, deep, multi: the metrics are also
reported per kind) and ``"no_answer": true`` with ``"relevant": []`` for a question the archive
has no answer to.  Those cannot be found or missed, so they stay out of recall, MRR and nDCG;
they are scored on whether a search could tell them apart: ``no_answer_separation`` is the
share of (answerable, no-answer) question pairs whose best vector-search similarity is higher
for the answerable one (1.0: a threshold would set every no-answer question apart; 0.5: chance).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.embed.base import Embedder
from kb.ids import is_lw_id, lw_post_id
from kb.index.vector import VectorIndex
from kb.retrieval import search
from kb.search_types import Mode
from kb.store.db import Store
from kb.store.posts import get_post

MODES: tuple[Mode, ...] = ("hybrid", "vector", "keyword")


class EvalError(ValueError):
    """The question file is unusable; the message names the file and line."""


@dataclass
class Question:
    question: str
    relevant: list[str]
    line: int = 0
    kind: str = ""
    no_answer: bool = False
    post_ids: set[str] = field(default_factory=set)  # resolved in the archive
    unresolved: list[str] = field(default_factory=list)


def jsonl_objects(path: Path, what: str, error: type[Exception]) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) of each line of a JSONL file (blank and ``#`` lines skipped); an
    unreadable file or a line that is not a JSON object is ``error`` naming the file and line."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read the {what} file: {exc}") from exc
    out: list[tuple[int, dict[str, Any]]] = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise error(f"{path}:{n}: not valid JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise error(f"{path}:{n}: each line is a JSON object")
        out.append((n, obj))
    return out


def load_questions(path: Path) -> list[Question]:
    out = []
    for n, obj in jsonl_objects(path, "question", EvalError):
        q, rel = obj.get("question"), obj.get("relevant")
        kind, none = obj.get("kind", ""), obj.get("no_answer", False)
        if not isinstance(q, str) or not q.strip():
            raise EvalError(f"{path}:{n}: needs a non-empty \"question\" string")
        if not isinstance(kind, str) or not isinstance(none, bool):
            raise EvalError(f"{path}:{n}: \"kind\" is a string and \"no_answer\" true or false")
        if none:
            if rel != []:
                raise EvalError(f"{path}:{n}: a \"no_answer\" question has \"relevant\": []")
        elif (not isinstance(rel, list) or not rel
                or not all(isinstance(r, str) and r.strip() for r in rel)):
            raise EvalError(f"{path}:{n}: needs \"relevant\": a non-empty list of post ids or URLs")
        out.append(Question(q.strip(), [r.strip() for r in rel], n, kind.strip(), none))
    if not out:
        raise EvalError(f"{path}: no questions in the file")
    return out


def resolve(store: Store, ref: str) -> str | None:
    """The archive's post id for a LW/AF id or any URL of the post."""
    post = get_post(store, ref, with_text=False)
    if post is not None:
        return post.id
    pid = ref if is_lw_id(ref) else lw_post_id(ref) if "/" in ref else None
    if pid and get_post(store, pid, with_text=False) is not None:
        return pid
    return None


def metrics(ranked: list[str], relevant: set[str], k: int) -> tuple[float, float, float]:
    """(recall@k, reciprocal rank, nDCG@k) of one ranked list of post ids."""
    if not relevant:
        return 0.0, 0.0, 0.0
    top = ranked[:k]
    recall = len(relevant & set(top)) / len(relevant)
    rr = next((1.0 / (i + 1) for i, p in enumerate(ranked) if p in relevant), 0.0)
    dcg = sum(1.0 / math.log2(i + 2) for i, p in enumerate(top) if p in relevant)
    idcg = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return recall, rr, dcg / idcg


def _mean(rows: list[tuple[float, float, float]], k: int) -> dict[str, float]:
    n = max(len(rows), 1)
    return {f"recall@{k}": round(sum(r[0] for r in rows) / n, 4),
            "mrr": round(sum(r[1] for r in rows) / n, 4),
            f"ndcg@{k}": round(sum(r[2] for r in rows) / n, 4)}


def separation(answerable: list[float], unanswerable: list[float]) -> float:
    """Share of (answerable, no-answer) pairs where the answerable question scored higher
    (ties count half): the AUC of telling them apart by that score."""
    if not answerable or not unanswerable:
        return 0.0
    wins = sum(1.0 if a > b else 0.5 if a == b else 0.0
               for a in answerable for b in unanswerable)
    return round(wins / (len(answerable) * len(unanswerable)), 4)


def evaluate(store: Store, embedder: Embedder, index: VectorIndex, questions: list[Question],
             *, k: int = 5, modes: tuple[Mode, ...] = MODES) -> dict[str, Any]:
    """``{"hybrid": {"recall@k": x, "mrr": y, "ndcg@k": z}, ..., "questions": n}``, plus
    ``"answerable"`` and ``"no_answer"`` (counts, when there are no-answer questions),
    ``"by_kind"`` (the same metrics per kind, when
    the file labels its questions) and ``"no_answer_separation"`` (when it has no-answer
    questions and vector search is among ``modes``)."""
    for q in questions:
        q.post_ids, q.unresolved = set(), []
        for ref in q.relevant:
            pid = resolve(store, ref)
            if pid:
                q.post_ids.add(pid)
            else:
                q.unresolved.append(ref)
    depth = max(k, 10)
    scored = [q for q in questions if not q.no_answer]
    kinds = sorted({q.kind for q in scored if q.kind})
    out: dict[str, Any] = {}
    by_kind: dict[str, dict[str, Any]] = {kd: {} for kd in kinds}
    top: dict[int, float] = {}  # best vector similarity per question
    for mode in modes:
        rows: list[tuple[float, float, float]] = []
        per_kind: dict[str, list[tuple[float, float, float]]] = {kd: [] for kd in kinds}
        for i, q in enumerate(questions):
            if q.no_answer and mode != "vector":
                continue
            hits = search(store, embedder, index, q.question, k=depth, mode=mode)
            if mode == "vector":
                top[i] = hits[0].score if hits else -1.0
            if q.no_answer:
                continue
            ranked = [h.post_id for h in hits]
            # unresolved items are relevant posts the archive lacks: they count as misses
            relevant = q.post_ids | {f"?{r}" for r in q.unresolved}
            row = metrics(ranked, relevant, k)
            rows.append(row)
            if q.kind:
                per_kind[q.kind].append(row)
        out[mode] = _mean(rows, k)
        for kd in kinds:
            by_kind[kd][mode] = _mean(per_kind[kd], k)
    out["questions"] = len(questions)
    if len(scored) < len(questions):
        out["answerable"] = len(scored)
        out["no_answer"] = len(questions) - len(scored)
    if kinds:
        for kd in kinds:
            by_kind[kd]["questions"] = sum(q.kind == kd for q in scored)
        out["by_kind"] = by_kind
    if "no_answer" in out and "vector" in modes:
        out["no_answer_separation"] = separation(
            [top[i] for i, q in enumerate(questions) if not q.no_answer],
            [top[i] for i, q in enumerate(questions) if q.no_answer])
    return out


def unresolved_refs(questions: list[Question]) -> list[tuple[int, str]]:
    return [(q.line, r) for q in questions for r in q.unresolved]
