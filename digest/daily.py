"""`kb daily`: ingest → index → summarize → digest, one run at a time, from cron or systemd.

Every step is idempotent (the store merges, the index embeds only what is pending, summaries
and theme texts are cached, digests are written atomically), so a killed run is simply run
again.  Exit codes: 0 all done; 1 could not run at all; 3 finished with some failures (a
source, the index, a summary or a digest; the summary line and the log say which); 75 another
`kb daily` holds the lock (the message names its PID).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from digest.build import DigestResult, build_digest
from digest.days import days_with_posts, local_day, posts_of_day, today
from digest.llmtools import CountingLLM
from digest.repo import get_digest, kv_get, kv_set
from digest.summarize import summarize_posts
from kb.store.db import Store

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


def run_daily(settings: Any, *, demo: bool = False, progress: bool = True,
              echo: Callable[[str], None] = print, store: Store | None = None,
              llm: Any = None, embedder: Any = None, now: date | None = None,
              report_out: DailyReport | None = None) -> int:
    """Run the daily job; returns the exit code (see the module doc)."""
    from kb.settings import ensure_home

    ensure_home(settings)
    try:
        with daily_lock(settings.lock_path):
            own = store is None
            st = store or Store(settings.db_path)
            try:
                with run_log(settings.logs_dir) as log_path:
                    report = report_out or DailyReport()
                    report.log_path = log_path
                    _run(settings, st, report, demo=demo, progress=progress, echo=echo,
                         llm=llm, embedder=embedder, now=now)
            finally:
                if own:
                    st.close()
    except LockHeld as exc:
        echo(f"error: {exc}")
        return EXIT_LOCKED
    code = report.exit_code()
    if demo and any(d.status in ("written", "unchanged") for d in report.digests):
        code = EXIT_OK  # the demo's point is the digest; failing network sources are expected
    return code


def _run(settings: Any, store: Store, report: DailyReport, *, demo: bool, progress: bool,
         echo: Callable[[str], None], llm: Any, embedder: Any, now: date | None) -> None:
    t0 = time.monotonic()
    tz = settings.digest.timezone
    log.info("kb daily starting (KB_HOME=%s, demo=%s)", settings.home, demo)
    demo_ids = add_demo_sources(store) if demo else []
    touched: list[str] = []
    try:  # 1. ingest
        from ingest.pipeline import run_ingest

        ing = run_ingest(settings, store, progress=progress)
        report.new, report.updated = ing.new, ing.updated
        report.source_errors = list(ing.failures)
        touched = list(ing.post_ids)
        for _src, msg in ing.failures:  # each message names its source
            echo(f"warning: {msg}")
            log.warning("%s", msg)
    except Exception as exc:  # a crashed step must not stop the digest of what is stored
        log.exception("ingest failed")
        report.step_errors.append(f"ingest: {exc}")
        echo(f"warning: ingest failed: {exc}")
    try:  # 2. index
        from kb.index.indexer import run_index

        idx = run_index(settings, store, progress=progress)
        report.indexed = idx.chunks_embedded
    except Exception as exc:
        log.exception("index failed")
        report.step_errors.append(f"index: {exc}")
        echo(f"warning: indexing failed (search may miss new posts): {exc}")

    c = llm if isinstance(llm, CountingLLM) else (
        CountingLLM(llm) if llm is not None else CountingLLM(factory=lambda: _llm(settings)))
    day0 = now or today(tz)
    days = days_to_build(store, tz, day0)
    if demo:
        days = sorted(set(days) | set(demo_days(store, demo_ids, tz)))
    # 3. summarize: what ingest touched and every post of the days we build
    pids = list(dict.fromkeys(touched + [p for d in days
                                         for p in posts_of_day(store, d, tz).published]))
    if pids:
        try:
            with _summary_bar(len(pids), progress) as advance:
                sr = summarize_posts(store, c, pids, parallel=settings.digest.parallel,
                                     on_done=lambda _pid, _row: advance())
            report.summarized, report.cached, report.pending = sr.made, sr.cached, sr.pending
            for pid, err in sr.failures[:5]:
                echo(f"warning: summary of {pid} pending: {err}")
        except Exception as exc:
            log.exception("summarize failed")
            report.step_errors.append(f"summarize: {exc}")
            echo(f"warning: summarizing failed: {exc}")
    # 4. digests
    for d in days:
        try:
            res = build_digest(settings, store, d, llm=c, embedder=embedder)
        except Exception as exc:
            log.exception("digest of %s failed", d)
            res = DigestResult(d.isoformat(), "failed", message=f"{d}: {exc}")
        report.digests.append(res)
        (log.info if res.ok else log.error)("%s", res.message)
        echo(("" if res.ok else "error: ") + res.message)
    report.calls = c.calls
    if c._inner is not None:
        report.notice = _notice(settings)
        if report.notice:
            echo("notice: " + report.notice)
    if all(r.ok for r in report.digests):
        kv_set(store, LAST_SUCCESS_KEY, day0.isoformat())
    if demo:
        _demo_help(settings, report, echo)
    log.info("%s (%.1fs)", report.line(), time.monotonic() - t0)
    echo(report.line())


@contextmanager
def _summary_bar(total: int, show: bool) -> Iterator[Callable[[], None]]:
    """A 'summarizing n/N' bar on stderr (model calls are the slow part of a daily run)."""
    if not show:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("summarizing"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False) as prog:
        task = prog.add_task("summarizing", total=total)
        yield lambda: prog.advance(task)


def _llm(settings: Any) -> Any:
    from kb.models.factory import get_llm

    return get_llm(settings)


def _notice(settings: Any) -> str | None:
    try:
        from kb.models.factory import llm_notice

        return llm_notice(settings)
    except Exception:  # the notice is a courtesy; never fail the run over it
        return None


def _demo_help(settings: Any, report: DailyReport, echo: Callable[[str], None]) -> None:
    from digest.timer import kb_executable

    exe = kb_executable()
    env = f"KB_HOME={settings.home} "
    paths = [str(d.path) for d in report.digests if d.path and d.status in ("written",
                                                                             "unchanged")]
    echo("")
    echo("Demo results:")
    for p in paths:
        echo(f"  digest file:  {p}")
    days = [d.day for d in report.digests if d.status in ("written", "unchanged")]
    if days:
        echo(f"  in the terminal:  {env}{exe} digest show {days[-1]}")
    echo(f"  list digests:     {env}{exe} digest list")
    echo(f"  browse it all:    {env}{exe} tui")
