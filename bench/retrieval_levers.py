"""The retrieval levers of issue #18, one by one, over the easy and the hard question sets.

    python -m bench.retrieval_levers [--hard-home DIR] [--easy-home DIR]

Builds (or reuses) the two archives with :func:`bench.retrieval_hard.build` (embeddings cached
in ``KB_EVAL_CACHE``), computes each question's candidate lists once, and prints recall@5, MRR
and nDCG@5 of each variant of the fusion as a Markdown table (the README's "Retrieval quality"
table).  ``before`` is the fusion kb had before issue #18 (RRF over post ranks, k = 60).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.retrieval_hard import EASY, HARD, build, easy_records

Ranker = Callable[[str], list[str]]


def legacy_fuse(lists: dict[str, list[Any]], k_rrf: int = 60,
                weights: dict[str, float] | None = None) -> list[str]:
    """kb's fusion before issue #18: RRF over each list's post ranks (k = 60, equal weights)."""
    score: dict[str, float] = {}
    for mode, cands in lists.items():
        w = (weights or {}).get(mode, 1.0)
        seen: list[str] = []
        for c in cands:
            if c.post_id not in seen:
                seen.append(c.post_id)
                score[c.post_id] = score.get(c.post_id, 0.0) + w / (k_rrf + len(seen))
    return [p for p, _ in sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))]


def variants(rt: Any, qfile: Path, with_cards: bool = True
             ) -> tuple[list[Any], dict[str, Ranker]]:
    import numpy as np

    import kb.retrieval as r
    from bench.post_cards import card_chunk
    from kb.evaluation import load_questions, resolve

    st, emb, idx = rt.store, rt.embedder, rt.index
    qvec: dict[str, list[float]] = {}
    vec: dict[str, list[Any]] = {}
    kw: dict[tuple[str, tuple[float, float, float]], list[Any]] = {}

    def vlist(q: str) -> list[Any]:
        if q not in vec:
            qvec[q] = emb.embed_query(q)
            vec[q] = [r.Candidate(h.chunk_id, h.chunk_id.rsplit(":", 2)[0], h.score)
                      for h in idx.query(qvec[q], r.MIN_CANDIDATES, None)]
        return vec[q]

    def klist(q: str, w: tuple[float, float, float] = r.BM25_WEIGHTS) -> list[Any]:
        if (q, w) not in kw:
            old, r.BM25_WEIGHTS = r.BM25_WEIGHTS, w
            try:
                kw[(q, w)] = r.keyword_candidates(st, q, r.MIN_CANDIDATES)
            finally:
                r.BM25_WEIGHTS = old
        return kw[(q, w)]

    pids: list[str] = []
    cards: Any = None
    if with_cards:
        rows = st.conn.execute(
            "SELECT p.id, p.title, p.authors, v.text FROM posts p JOIN post_versions v "
            "ON v.post_id = p.id AND v.version = (SELECT max(version) FROM post_versions "
            "WHERE post_id = p.id) ORDER BY p.id").fetchall()
        texts = []
        for row in rows:
            c = card_chunk(row[1], json.loads(row[2]), row[3], 0, emb.count_tokens)
            if c:
                pids.append(row[0])
                texts.append(c.embed_text)
        cards = np.asarray(emb.embed_array(texts), dtype=np.float32)

    def with_card_hits(q: str) -> list[Any]:
        """The passage list with the cards merged in by similarity (as one kNN would)."""
        sims = cards @ np.asarray(qvec[q], dtype=np.float32)
        extra = [r.Candidate(f"{pids[i]}:card:0", pids[i], float(sims[i]))
                 for i in np.argsort(-sims)[:r.MIN_CANDIDATES]]
        return sorted(vlist(q) + extra, key=lambda c: -c.score)[:r.MIN_CANDIDATES]

    def group(cands: list[Any]) -> list[str]:
        return list(dict.fromkeys(c.post_id for c in cands))

    def fused(**kwargs: Any) -> Ranker:
        return lambda q: [p for p, _, _ in r.fuse({"keyword": klist(q), "vector": vlist(q)},
                                                  **kwargs)]

    out: dict[str, Ranker] = {
        "keyword": lambda q: group(klist(q)),
        "vector": lambda q: group(vlist(q)),
        "hybrid before (RRF over post ranks, k=60)":
            lambda q: legacy_fuse({"keyword": klist(q), "vector": vlist(q)}),
        "+ bm25 title weight 2 (was 0.5)":
            lambda q: legacy_fuse({"keyword": klist(q, (2.0, 1.0, 1.0)), "vector": vlist(q)}),
        "RRF k=10": lambda q: legacy_fuse({"keyword": klist(q), "vector": vlist(q)}, 10),
        "RRF k=10, keyword weight 0.7": lambda q: legacy_fuse(
            {"keyword": klist(q), "vector": vlist(q)}, 10, {"keyword": 0.7}),
        "+ passage->post aggregation (4 passages, decay 0.5): kb now": fused(),
        "kb now without the aggregation (1 passage per post)": fused(per_post=1),
        "same, candidate depth 100":
            lambda q: [p for p, _, _ in r.fuse({"keyword": r.keyword_candidates(st, q, 100),
                                                "vector": vlist(q)})],
    }
    if with_cards:
        out["vector with post cards merged in"] = lambda q: group(
            sorted(with_card_hits(q), key=lambda c: -c.score))
        out["before + post cards"] = lambda q: legacy_fuse(
            {"keyword": klist(q), "vector": with_card_hits(q)})
        out["kb now + post cards"] = lambda q: [p for p, _, _ in r.fuse(
            {"keyword": klist(q), "vector": with_card_hits(q)})]
    questions = [q for q in load_questions(qfile) if not q.no_answer]
    for q in questions:
        q.post_ids = {resolve(st, ref) or "?" + ref for ref in q.relevant}
    return questions, out


def score(questions: list[Any], ranker: Ranker, k: int = 5) -> tuple[float, float, float]:
    from kb.evaluation import metrics

    rows = [metrics(ranker(q.question), q.post_ids, k) for q in questions]
    n = len(rows)
    return (round(sum(x[0] for x in rows) / n, 3), round(sum(x[1] for x in rows) / n, 3),
            round(sum(x[2] for x in rows) / n, 3))


def main() -> None:
    import argparse

    tmp = Path(tempfile.gettempdir())
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hard-home", type=Path, default=tmp / "kb-hard-home")
    ap.add_argument("--easy-home", type=Path, default=tmp / "kb-easy-home")
    ap.add_argument("--corpus", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    args = ap.parse_args()
    table: dict[str, dict[str, tuple[float, float, float]]] = {}
    for name, home, recs, qfile in (("easy", args.easy_home, easy_records(args.corpus), EASY),
                                    ("hard", args.hard_home, None, HARD)):
        rt = build(home, args.corpus, records=recs)
        questions, rankers = variants(rt, qfile)
        for label, ranker in rankers.items():
            table.setdefault(label, {})[name] = score(questions, ranker)
        rt.close()
    print("| variant | easy R@5 | easy MRR | easy nDCG@5 | hard R@5 | hard MRR | hard nDCG@5 |")
    print("|---|---|---|---|---|---|---|")
    for label, row in table.items():
        e, h = row.get("easy", (0, 0, 0)), row.get("hard", (0, 0, 0))
        print(f"| {label} | " + " | ".join(f"{x:.3f}" for x in (*e, *h)) + " |")


if __name__ == "__main__":
    main()
