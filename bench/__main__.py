"""`python -m bench` (`make bench`): speed as ratios and counts over ../shared/corpus.

Each benchmark is a module ``bench/p<N>_<name>.py`` with ``NAME`` and ``run(ctx) -> list[Row]``
(see bench/common.py); add a module to BENCHMARKS to include it.  Results are printed as a
table and written to bench/results/<timestamp>.json (and latest.json).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Context, Row

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("KB_TEST_CORPUS", REPO.parent / "shared" / "corpus"))
RESULTS = Path(__file__).resolve().parent / "results"
# run in this order (P3 reuses the P1 archive)
BENCHMARKS = ["bench.p1_index", "bench.p2_daily", "bench.p3_search", "bench.p4_tui",
              "bench.p5_ask", "bench.p7_digest", "bench.p8_backfill", "bench.p9_scale"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--full", action="store_true", default=os.environ.get("FULL") == "1",
                    help="P1 over every post of the dataset instead of a 150-post sample")
    ap.add_argument("--posts", type=int, default=150, help="P1 sample size")
    ap.add_argument("--scale", action="store_true", default=os.environ.get("SCALE") == "1",
                    help="P9 also at 1M passages (about an hour and ~12 GB of scratch disk)")
    ap.add_argument("--only", action="append", default=[],
                    help="run only these benchmarks (e.g. --only P3); repeatable")
    args = ap.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"bench: no corpus at {CORPUS} (set KB_TEST_CORPUS); nothing to measure")
        return 0
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        ctx = Context(corpus=CORPUS, workdir=Path(tmp), full=args.full, posts=args.posts,
                      scale=args.scale)
        for name in BENCHMARKS:
            mod = importlib.import_module(name)
            label = _label(mod)
            if args.only and label not in args.only:
                continue
            if not callable(getattr(mod, "run", None)):
                print(f"== {label}: no run() in {name}; skipped")
                continue
            doc = (mod.__doc__ or name).strip().splitlines()[0]
            print(f"== {label}: {doc}", flush=True)
            rows += _call(mod, label, ctx)
    _print(rows)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    data = {"when": stamp, "full": args.full, "scale": args.scale,
            "rows": [r.to_json() for r in rows]}
    for f in (RESULTS / f"{stamp}.json", RESULTS / "latest.json"):
        f.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"written to {RESULTS / (stamp + '.json')}")
    return 0


def _label(mod: Any) -> str:
    """``NAME`` of a benchmark module, else "P4" from ``bench.p4_tui``."""
    return str(getattr(mod, "NAME", mod.__name__.rsplit(".", 1)[-1].split("_")[0].upper()))


def _call(mod: Any, label: str, ctx: Context) -> list[Row]:
    """Run a benchmark: ``run(ctx) -> list[Row]``, or ``run(corpus_dir, ...) / run() -> dict``
    (numeric leaves of the dict become rows)."""
    params = inspect.signature(mod.run).parameters
    if "ctx" in params:
        out = mod.run(ctx)
    elif "corpus_dir" in params:
        out = mod.run(ctx.corpus)
    else:
        out = mod.run()
    if isinstance(out, list):
        return out
    rows: list[Row] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, int | float):  # bools too
            rows.append(Row(label, prefix, float(value)))

    walk("", out)
    return rows


def _print(rows: list[Row]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="kb benchmarks")
    for col in ("bench", "metric", "value", "unit", "target", "ok"):
        table.add_column(col, justify="right" if col == "value" else "left")
    for r in rows:
        ok = "" if r.ok is None else ("yes" if r.ok else "NO")
        table.add_row(r.bench, r.metric, f"{r.value:g}", r.unit, r.target, ok)
    Console().print(table)


if __name__ == "__main__":
    sys.exit(main())
