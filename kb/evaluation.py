"""`kb eval retrieval`: recall@k, MRR and nDCG@k of each search mode over a question file.

The file is JSONL, one ``{"question": "...", "relevant": [...]}`` per line; a relevant item is a
LW/AF post id or any URL of the post.  Relevance is binary.  MRR uses the rank of the first
relevant post among the top ``max(k, 10)`` results (0 when none is there).
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
        if not isinstance(q, str) or not q.strip():
            raise EvalError(f"{path}:{n}: needs a non-empty \"question\" string")
        if (not isinstance(rel, list) or not rel
                or not all(isinstance(r, str) and r.strip() for r in rel)):
            raise EvalError(f"{path}:{n}: needs \"relevant\": a non-empty list of post ids or URLs")
        out.append(Question(q.strip(), [r.strip() for r in rel], n))
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


def evaluate(store: Store, embedder: Embedder, index: VectorIndex, questions: list[Question],
             *, k: int = 5, modes: tuple[Mode, ...] = MODES) -> dict[str, Any]:
    """``{"hybrid": {"recall@k": x, "mrr": y, "ndcg@k": z}, ..., "questions": n}``."""
    for q in questions:
        q.post_ids, q.unresolved = set(), []
        for ref in q.relevant:
            pid = resolve(store, ref)
            if pid:
                q.post_ids.add(pid)
            else:
                q.unresolved.append(ref)
    depth = max(k, 10)
    out: dict[str, Any] = {}
    for mode in modes:
        sums = [0.0, 0.0, 0.0]
        for q in questions:
            ranked = [h.post_id for h in search(store, embedder, index, q.question, k=depth,
                                                mode=mode)]
            # unresolved items are relevant posts the archive lacks: they count as misses
            relevant = q.post_ids | {f"?{r}" for r in q.unresolved}
            for i, v in enumerate(metrics(ranked, relevant, k)):
                sums[i] += v
        n = len(questions)
        out[mode] = {f"recall@{k}": round(sums[0] / n, 4), "mrr": round(sums[1] / n, 4),
                     f"ndcg@{k}": round(sums[2] / n, 4)}
    out["questions"] = len(questions)
    return out


def unresolved_refs(questions: list[Question]) -> list[tuple[int, str]]:
    return [(q.line, r) for q in questions for r in q.unresolved]
