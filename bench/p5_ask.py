"""P5 — `kb ask`: time from the question to the model request, warm (target <= 150 ms).

Builds a temporary archive of corpus posts (truncated, indexed with the real ONNX embedder
into Chroma on disk), then asks a fixed list of questions through :func:`digest.ask.ask` with
a stand-in LLM whose ``stream`` only records *when* it was called.  What is timed is exactly
what a user waits for before the model starts: hybrid retrieval, the relevance check (query
embedding + stored passage vectors), prompt building and the context-window fit.  Each
question is asked once to warm up (model sessions, Chroma, SQLite caches), then ``repeats``
times measured.  Standalone::

    .venv/bin/python -m bench.p5_ask [--posts 150] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

QUESTIONS = [
    "How could LLM agents behave like insider threats?",
    "What is MIRI's view on the risk of extinction from AI?",
    "How do sparse autoencoders help interpretability?",
    "What are the problems with instruction-following as an alignment target?",
    "How can we evaluate alignment auditing agents?",
    "What is weak-to-strong generalization?",
    "Why might an AGI reason about its goals and discover misalignment?",
    "What do risk reports offer compared with safety cases?",
    "How fast are AI time horizons growing across domains?",
    "Does reinforcement learning really add reasoning capacity to language models?",
    "What is corrigibility and why is it hard?",
    "What did people think of the book If Anyone Builds It, Everyone Dies?",
]


class RequestClock:
    """An LLM stand-in: records the moment of each model request and replies at once."""

    model_id = "p5-clock@bench"
    context_window = 4096

    def __init__(self) -> None:
        self.requested_at: float | None = None

    def count_tokens(self, text: str) -> int:
        return -(-len(text) // 3)  # the Ollama backend's own estimate

    def stream(self, messages: Any, **kw: Any) -> Iterator[str]:
        self.requested_at = time.perf_counter()
        yield "The sources do not answer this question."

    def chat(self, messages: Any, **kw: Any) -> Any:
        raise NotImplementedError

    def complete(self, prompt: str, **kw: Any) -> Any:
        raise NotImplementedError


def _pcts(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
    return {"p50_ms": round(statistics.median(xs), 1), "p95_ms": round(p95, 1),
            "mean_ms": round(statistics.fmean(xs), 1), "max_ms": round(xs[-1], 1)}


def run(corpus_dir: Path, *, posts: int = 150, max_chars: int = 2000, repeats: int = 3,
        k: int = 8) -> dict[str, Any]:
    """Build the sample archive under a temp KB_HOME and time question → model request.
    Returns ``{"to_request": {p50_ms, p95_ms, ...}, "retrieval": {...}, "target_ms": 150,
    ...}``."""
    from bench.lw_sample import load_lw_posts, sample
    from digest import ask as ask_mod
    from kb.index.indexer import run_index
    from kb.retrieval import search
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    with tempfile.TemporaryDirectory(prefix="kb-p5-") as home:
        rt = Runtime(load_settings(env={"KB_HOME": home}))
        store = rt.store
        for rec in sample(load_lw_posts(corpus_dir, max_chars=max_chars), posts):
            save_post(store, rec)
        t = time.perf_counter()
        report = run_index(store, rt.embedder, rt.index)
        index_s = time.perf_counter() - t

        search_ms: list[float] = []

        def timed_search(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return search(*a, **kw)
            finally:
                search_ms.append((time.perf_counter() - t0) * 1000)

        to_request: list[float] = []
        abstained_early = 0
        for rep in range(repeats + 1):  # round 0 warms up
            for q in QUESTIONS:
                llm = RequestClock()
                t0 = time.perf_counter()
                answer = ask_mod.ask(store, llm, rt.embedder, rt.index, q, k=k,
                                     search=timed_search)
                if rep == 0:
                    continue
                if llm.requested_at is None:
                    abstained_early += 1
                    continue
                to_request.append((llm.requested_at - t0) * 1000)
                del answer
        rt.close()
    measured_search = search_ms[len(QUESTIONS):]
    return {"posts": posts, "index": report.to_json(), "index_s": round(index_s, 1),
            "questions": len(QUESTIONS), "repeats": repeats, "k": k,
            "to_request": _pcts(to_request) if to_request else {},
            "retrieval": _pcts(measured_search) if measured_search else {},
            "abstained_before_request": abstained_early, "target_ms": 150}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="P5: kb ask, question to model request (warm)")
    ap.add_argument("--posts", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    args = ap.parse_args(argv)
    print(json.dumps(run(args.corpus, posts=args.posts, repeats=args.repeats), indent=2))


if __name__ == "__main__":
    main()
