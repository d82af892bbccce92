"""The parts of `kb daily` (run by :func:`digest.jobs.run_daily`): the lock, the report, the
run log and its pruning, the demo sources, and which days need a digest.

Exit codes: 0 all done; 1 could not run at all; 3 finished with some failures (a source, the
index, a summary or a digest; the summary line and the log say which); 75 another `kb daily`
holds the lock (the message names its PID).
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from digest.build import DigestResult
from digest.days import days_with_posts, local_day
from digest.repo import get_digest
from kb.store.db import Store, kv_get

log = logging.getLogger("digest.daily")

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL, EXIT_LOCKED = 0, 1, 3, 75
LAST_SUCCESS_KEY = "daily_last_success"
FIRST_RUN_DAYS = 2  # with no earlier run: today and yesterday
MAX_BACKFILL_DAYS = 31
DEMO_SOURCES = (("demo-lesswrong", "lesswrong_demo.xml"),
                ("demo-alignmentforum", "alignmentforum_demo.xml"))


class LockHeld(RuntimeError):
    def __init__(self, path: Path, pid: str) -> None:
        self.path, self.pid = path, pid
        super().__init__(f"another `kb daily` (PID {pid or 'unknown'}) is running and holds "
                         f"{path}; this run exits without doing anything")


@contextmanager
def daily_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` (released by the OS if the process dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise LockHeld(path, pid) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@dataclass
class DailyReport:
    new: int = 0
    updated: int = 0
    source_errors: list[tuple[str, str]] = field(default_factory=list)
    indexed: int = 0
    step_errors: list[str] = field(default_factory=list)
    summarized: int = 0
    cached: int = 0
    pending: int = 0
    digests: list[DigestResult] = field(default_factory=list)
    calls: int = 0
    log_path: Path | None = None
    notice: str | None = None

    def exit_code(self) -> int:
        failed = any(not d.ok for d in self.digests)
        return EXIT_PARTIAL if (self.source_errors or self.step_errors or self.pending or failed) \
            else EXIT_OK

    def line(self) -> str:
        counts: dict[str, int] = {}
        for d in self.digests:
            counts[d.status] = counts.get(d.status, 0) + 1
        dig = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"
        errs = f" ({len(self.source_errors)} source errors)" if self.source_errors else ""
        steps = f"; step errors: {len(self.step_errors)}" if self.step_errors else ""
        return (f"kb daily: ingested {self.new} new, {self.updated} updated{errs}; indexed "
                f"{self.indexed} chunks; summaries {self.summarized} new, {self.cached} cached, "
                f"{self.pending} pending; digests: {dig}; model calls {self.calls}{steps}; "
                f"log {self.log_path}")

    def to_json(self) -> dict[str, Any]:
        return {"new": self.new, "updated": self.updated, "indexed": self.indexed,
                "source_errors": [{"source": s, "error": e} for s, e in self.source_errors],
                "step_errors": self.step_errors, "summarized": self.summarized,
                "cached": self.cached, "pending": self.pending, "model_calls": self.calls,
                "digests": [d.to_json() for d in self.digests],
                "log": str(self.log_path or ""), "exit_code": self.exit_code()}


@contextmanager
def run_log(logs_dir: Path) -> Iterator[Path]:
    """A log file for this run, fed by the kb, ingest and digest loggers."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = logs_dir / f"daily-{stamp}-{os.getpid()}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger(n) for n in ("kb", "ingest", "digest")]
    old_levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.level == logging.NOTSET or lg.level > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield path
    finally:
        for lg, lvl in zip(loggers, old_levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(lvl)
        handler.close()


LOG_NAME = re.compile(r"^daily-\d{8}-\d{6}-\d+\.log$")


def prune_logs(logs_dir: Path, keep_days: int, *, now: float | None = None) -> list[Path]:
    """Delete this job's logs (``daily-*.log``) older than ``keep_days`` days; 0 keeps all.
    Returns what was deleted.  Nothing else in the directory is touched."""
    if keep_days <= 0 or not logs_dir.is_dir():
        return []
    cutoff = (time.time() if now is None else now) - keep_days * 86400
    gone = []
    for path in logs_dir.iterdir():
        if LOG_NAME.match(path.name) and path.is_file():
            with suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    gone.append(path)
    return sorted(gone)


def demo_feed_paths() -> list[tuple[str, Path]]:
    base = Path(__file__).resolve().parent.parent / "kb" / "demo_data"
    try:
        from importlib import resources

        base = Path(str(resources.files("kb.demo_data")))
    except (ModuleNotFoundError, TypeError):
        pass
    return [(name, base / fname) for name, fname in DEMO_SOURCES]


def add_demo_sources(store: Store) -> list[int]:
    """Track the bundled demo feeds (file:// sources); returns their source ids."""
    from kb.store.sources import SourceError, add_source, ensure_default_sources, get_source

    ensure_default_sources(store)
    ids = []
    for name, path in demo_feed_paths():
        src = get_source(store, path.as_uri()) or get_source(store, name)
        if src is None:
            try:
                src = add_source(store, path.as_uri(), name=name, kind="feed")
            except SourceError:
                src = get_source(store, path.as_uri())
        if src is not None:
            ids.append(src.id)
    return ids


def demo_days(store: Store, source_ids: list[int], tz: str) -> list[date]:
    if not source_ids:
        return []
    marks = ",".join("?" * len(source_ids))
    rows = store.conn.execute(
        f"SELECT DISTINCT COALESCE(published, first_seen_at) FROM posts WHERE source_id IN "
        f"({marks})", source_ids).fetchall()
    return sorted({d for r in rows if (d := local_day(r[0], tz)) is not None})


def days_to_build(store: Store, tz: str, now: date) -> list[date]:
    """Today, plus every day since the last successful run that has posts but no complete
    digest."""
    last = kv_get(store, LAST_SUCCESS_KEY)
    since = now - timedelta(days=FIRST_RUN_DAYS - 1)
    if last:
        with suppress(ValueError):
            since = min(since, date.fromisoformat(last))
    since = max(since, now - timedelta(days=MAX_BACKFILL_DAYS))
    out = []
    for d in days_with_posts(store, since, now, tz):
        old = get_digest(store, d.isoformat())
        if d == now or old is None or not old.complete:
            out.append(d)
    return out
