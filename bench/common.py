"""Shared pieces of the benchmark harness: context, result rows, percentiles, peak RSS, disk use."""

from __future__ import annotations

import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    bench: str  # "P1"
    metric: str
    value: float
    unit: str = ""
    target: str = ""  # e.g. "<= 1.25"
    ok: bool | None = None  # None: no target

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Context:
    corpus: Path
    workdir: Path  # scratch space (KB homes) outside the repo
    full: bool = False
    posts: int = 150
    scale: bool = False  # also the largest archives (P9 at 1M passages)
    shared: dict[str, Any] = field(default_factory=dict)  # e.g. the P1 archive for P3


def check(value: float, op: str, target: float) -> bool:
    return value <= target if op == "<=" else value >= target


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return 0.0
    i = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[i]


def disk_mb(*paths: Path) -> float:
    """Disk space used by these files and directories (allocated blocks, like ``du``), in MB;
    missing paths count 0."""
    total = 0
    for path in paths:
        if path.is_file():
            total += path.stat().st_blocks * 512
        elif path.is_dir():
            total += sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())
    return total / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
