"""`kb check`: a reader's fact-check of one claim against the archive.

Without a post, hybrid search finds the passages that bear on the claim best; with one, the
claim is checked against that post's own passages.  Each passage gets a verdict from
:class:`digest.claimcheck.ClaimChecker`; the claim's verdict is the deciding one (a passage
that supports it, else one that contradicts it, else the most related).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digest.claimcheck import ClaimChecker, Evidence, Verdict, best
from digest.support import terms
from kb.embed.base import Embedder
from kb.evaluation import jsonl_objects
from kb.index.vector import VectorIndex
from kb.retrieval import search
from kb.store.db import Store
from kb.store.posts import Post, get_post, post_chunks

POST_PASSAGES = 3  # a post's passages checked (those sharing most words with the claim)
SEARCH_PASSAGES = 5  # passages found by searching the archive


class CheckError(ValueError):
    """The check cannot run as asked (an empty claim, an unknown post)."""


@dataclass
class Finding:
    """One passage and what it says about the claim."""

    post_id: str
    title: str
    url: str
    published: str | None
    text: str
    start: int
    end: int
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {"post_id": self.post_id, "title": self.title, "url": self.url,
                "published": self.published, "text": self.text, "start": self.start,
                "end": self.end, "verdict": self.evidence.verdict,
                "reasons": self.evidence.reasons}


@dataclass
class CheckResult:
    claim: str
    verdict: Verdict
    evidence: list[Finding] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "verdict": self.verdict,
                "evidence": [f.to_json() for f in self.evidence]}


def post_passages(store: Store, post: Post, embedder: Embedder) -> list[tuple[str, int, int]]:
    """(text, start, end) of the post's current passages: the indexed chunks, or the post
    split the same way when it has not been indexed yet."""
    rows = post_chunks(store, post.id, post.version)
    if rows:
        return rows
    from kb.index.chunking import chunk_text

    return [(c.text, c.start, c.end)
            for c in chunk_text(post.title, post.text, embedder.count_tokens, embedder.max_tokens)]


def _by_shared_words(claim: str, passages: list[tuple[str, int, int]], n: int
                     ) -> list[tuple[str, int, int]]:
    ct = terms(claim)
    return sorted(passages, key=lambda p: -len(ct & terms(p[0])))[:n]


def check_claim(store: Store, embedder: Embedder, index: VectorIndex | None, claim: str, *,
                post_ref: str | None = None, k: int | None = None,
                checker: ClaimChecker | None = None) -> CheckResult:
    """The verdict on ``claim`` and the passages behind it (see the module docstring):
    ``k`` passages (default :data:`SEARCH_PASSAGES` found by search, or with ``post_ref``
    the post's :data:`POST_PASSAGES` passages sharing most words with the claim)."""
    claim = " ".join(claim.split())
    if not claim:
        raise CheckError("the claim is empty")
    checker = checker or ClaimChecker(embedder, candidates=1)
    found: list[tuple[Post, str, int, int]] = []
    if post_ref is not None:
        post = get_post(store, post_ref)
        if post is None:
            raise CheckError(f"no post {post_ref!r} in the archive (see `kb posts list`)")
        found = [(post, t, a, b) for t, a, b in
                 _by_shared_words(claim, post_passages(store, post, embedder),
                                  k or POST_PASSAGES)]
    else:
        for hit in search(store, embedder, index, claim, k=k or SEARCH_PASSAGES):
            post = get_post(store, hit.post_id, with_text=False)
            if post is not None:
                found.append((post, hit.text, hit.start, hit.end))
    verdicts = checker.check_many([(claim, text) for _, text, _, _ in found])
    findings = [Finding(p.id, p.title, p.canonical_url, p.published, text, a, b, ev)
                for (p, text, a, b), ev in zip(found, verdicts, strict=True)]
    order = {"supported": 0, "contradicted": 1, "weak": 2, "unsupported": 3}
    findings.sort(key=lambda f: (order[f.evidence.verdict], -f.evidence.similarity))
    decided = best([f.evidence for f in findings])
    return CheckResult(claim, decided.verdict if decided else "unsupported", findings)


# --- `kb eval claims` ----------------------------------------------------------------------
@dataclass
class ClaimCase:
    claim: str
    post_id: str
    expected: str  # "supported" | "not_supported"
    kind: str
    line: int


def load_claims(path: Path) -> list[ClaimCase]:
    """The JSONL of `kb eval claims`; a bad line is an error naming the file and line."""
    p = Path(path)
    out = []
    for n, obj in jsonl_objects(p, "claim", CheckError):
        claim, pid = obj.get("claim"), obj.get("post_id")
        expected, kind = obj.get("expected"), obj.get("kind", "")
        if not isinstance(claim, str) or not claim.strip():
            raise CheckError(f"{p}:{n}: needs a non-empty \"claim\"")
        if not isinstance(pid, str) or not pid.strip():
            raise CheckError(f"{p}:{n}: needs \"post_id\" (a post id or URL)")
        if expected not in ("supported", "not_supported"):
            raise CheckError(f"{p}:{n}: \"expected\" is \"supported\" or \"not_supported\"")
        out.append(ClaimCase(claim, pid.strip(), str(expected), str(kind or "other"), n))
    if not out:
        raise CheckError(f"{p}: no claims in the file")
    return out


def evaluate_claims(store: Store, embedder: Embedder, cases: list[ClaimCase]
                    ) -> dict[str, Any]:
    """Share of claims whose verdict agrees with ``expected`` (``supported`` counts as
    supported, every other verdict as not), overall and per kind, with the precision and
    recall of ``supported``."""
    checker = ClaimChecker(embedder, candidates=1)
    by_kind: dict[str, list[bool]] = {}
    tp = fp = fn = 0
    verdicts: dict[str, int] = {}
    for case in cases:
        try:
            res = check_claim(store, embedder, None, case.claim, post_ref=case.post_id,
                              checker=checker)
        except CheckError as exc:
            raise CheckError(f"line {case.line}: {exc}") from exc
        said = res.verdict == "supported"
        want = case.expected == "supported"
        by_kind.setdefault(case.kind, []).append(said == want)
        verdicts[res.verdict] = verdicts.get(res.verdict, 0) + 1
        tp += said and want
        fp += said and not want
        fn += want and not said
    n = len(cases)
    right = sum(sum(v) for v in by_kind.values())
    return {"claims": n, "accuracy": round(right / n, 4),
            "by_kind": {k: {"n": len(v), "accuracy": round(sum(v) / len(v), 4)}
                        for k, v in sorted(by_kind.items())},
            "supported_precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "supported_recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "verdicts": verdicts}
