"""What the keyword side's bound costs in quality: keyword-only retrieval over the whole LW
dataset of ../shared (~900 posts, ~26k passages: a real archive's size, past the bound) at
several values of ``kb.retrieval.SCORE_BUDGET``.

    python -m bench.keyword_budget [--home DIR] [--budgets 1000000000,16000,8000,4000]

The archive is stored and chunked by kb's own code (no vectors: only FTS5 is measured), kept in
``--home`` when given.  Questions are both eval sets of tests/eval; their target posts are all
in the dataset.  Prints recall@5 and MRR per set and budget, how many questions the bound
changed, and the keyword query's CPU time (thread time, so another busy process barely moves
it) as a Markdown table (README "Benchmarks", P9).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.common import percentile

REPO = Path(__file__).resolve().parent.parent
SETS = {"easy": REPO / "tests" / "eval" / "retrieval_questions.jsonl",
        "hard": REPO / "tests" / "eval" / "retrieval_hard.jsonl"}
UNBOUNDED = 10**9


def build(home: Path, corpus: Path) -> Path:
    """The dataset stored and chunked in ``home`` (reused when already there)."""
    from bench.lw_sample import load_lw_posts
    from kb.index.fake import FakeIndex
    from kb.index.indexer import IndexReport, sync_chunks
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    db = home / "kb.sqlite3"
    done = home / "chunked"
    if done.exists():
        return db
    rt = Runtime(load_settings(env={}, home=home))
    for rec in load_lw_posts(corpus):
        save_post(rt.store, rec)
    emb = rt.embedder  # only its tokenizer: chunks are cut as `kb index` cuts them
    sync_chunks(rt.store, emb, FakeIndex(emb.model_id, emb.dim),
                IndexReport(model_id=emb.model_id))
    rt.close()
    done.write_text("ok\n")
    return db


def measure(db: Path, budgets: list[int]) -> list[str]:
    import kb.retrieval as r
    from kb.evaluation import load_questions, metrics, resolve
    from kb.store.db import Store

    store = Store(db)
    lines = [f"archive: {store.count('posts')} posts, {store.count('chunks')} passages", "",
             "| set | budget | recall@5 | MRR | questions bounded | keyword CPU p50 / p95 |",
             "|---|---|---|---|---|---|"]
    saved = r.SCORE_BUDGET
    try:
        for name, path in SETS.items():
            qs = [q for q in load_questions(path) if not q.no_answer]
            for q in qs:
                q.post_ids = {p for p in (resolve(store, ref) for ref in q.relevant) if p}
            qs = [q for q in qs if q.post_ids]
            for budget in budgets:
                r.SCORE_BUDGET = budget
                rows, cpu, bounded = [], [], 0
                for q in qs:
                    terms = r.fts_terms(q.question)
                    bounded += r.bounded_match(store, terms) != " OR ".join(terms)
                    t = time.thread_time()
                    cands = r.keyword_candidates(store, q.question, r.MIN_CANDIDATES)
                    cpu.append((time.thread_time() - t) * 1000)
                    rows.append(metrics([p for p, _, _ in r._group(cands)], q.post_ids, 5))
                n = len(rows)
                shown = "none" if budget >= UNBOUNDED else f"{budget:,}"
                lines.append(f"| {name} ({n}) | {shown} | {sum(x[0] for x in rows) / n:.3f} | "
                             f"{sum(x[1] for x in rows) / n:.3f} | {bounded} | "
                             f"{percentile(cpu, 50):.0f} / {percentile(cpu, 95):.0f} ms |")
    finally:
        r.SCORE_BUDGET = saved
        store.close()
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.__main__ import CORPUS

    ap = argparse.ArgumentParser(prog="python -m bench.keyword_budget", description=__doc__)
    ap.add_argument("--home", type=Path, help="keep (and reuse) the archive here")
    ap.add_argument("--budgets", default=f"{UNBOUNDED},16000,8000,4000")
    args = ap.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}; nothing to measure")
        return 0
    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    with tempfile.TemporaryDirectory(prefix="kb-kwbudget-") as tmp:
        db = build(args.home or Path(tmp), CORPUS)
        print("\n".join(measure(db, budgets)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
