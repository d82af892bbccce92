"""P3 `kb search` latency, warm, per mode, against a bare Chroma query + query embedding.

Runs over the P1 archive when P1 ran in the same invocation, else builds a small one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.common import Context, Row, check, percentile

NAME = "P3"
QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "eval" / "retrieval_questions.jsonl"
ROUNDS = 3


def _queries() -> list[str]:
    qs = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line]
    return qs + ["AI control", "reward hacking", "interpretability", "decision theory"]


def run(ctx: Context) -> list[Row]:
    from kb.index.chroma import ChromaIndex
    from kb.index.lazy import LazyIndex
    from kb.retrieval import search
    from kb.runtime import Runtime
    from kb.settings import load_settings

    home = ctx.shared.get("archive_home")
    if home is None:
        from bench import p1_index

        small = Context(ctx.corpus, ctx.workdir, posts=min(ctx.posts, 60), shared=ctx.shared)
        p1_index.run(small)
        home = ctx.shared["archive_home"]
    rt = Runtime(load_settings(env={}, home=home))
    store, emb, index = rt.store, rt.embedder, rt.index
    queries = _queries()
    for q in queries[:3]:  # warm: model session, Chroma client, SQLite pages
        search(store, emb, index, q, k=10)
    assert isinstance(index, LazyIndex) and isinstance(index.target, ChromaIndex)
    coll = index.target.collection
    # interleaved per query, so load from other processes hits every mode alike
    times: dict[str, list[float]] = {m: [] for m in ("hybrid", "vector", "keyword", "bare")}
    for _ in range(ROUNDS):
        for q in queries:
            t = time.perf_counter()
            coll.query(query_embeddings=[emb.embed_query(q)], n_results=50,
                       include=["distances"])  # what kb asks for: no documents, no metadata
            times["bare"].append((time.perf_counter() - t) * 1000)
            for mode in ("hybrid", "vector", "keyword"):
                t = time.perf_counter()
                search(store, emb, index, q, k=10, mode=mode)
                times[mode].append((time.perf_counter() - t) * 1000)
    rows: list[Row] = []
    for mode in ("hybrid", "vector", "keyword"):
        p50, p95 = percentile(times[mode], 50), percentile(times[mode], 95)
        rows.append(Row(NAME, f"{mode} p50", round(p50, 1), "ms"))
        rows.append(Row(NAME, f"{mode} p95", round(p95, 1), "ms", "<= 100", check(p95, "<=", 100)))
    bare95 = percentile(times["bare"], 95)
    ratio = percentile(times["hybrid"], 95) / bare95 if bare95 else 0.0
    rows.append(Row(NAME, "bare query+embed p50", round(percentile(times["bare"], 50), 1), "ms"))
    rows.append(Row(NAME, "bare query+embed p95", round(bare95, 1), "ms"))
    rows.append(Row(NAME, "hybrid p95 / bare p95", round(ratio, 2), "x", "<= 1.5",
                    check(ratio, "<=", 1.5)))
    rows.append(Row(NAME, "archive posts", store.count("posts"), "posts"))
    rt.close()
    return rows
