"""The jobs the faces run, in one place: ingest (or import, or backfill) then index, and
`kb daily`.

The CLI and the TUI both call these with their :class:`kb.runtime.Runtime`; progress goes up
through ``on_progress`` and messages through ``echo``, and only the faces draw them.  Every
step is idempotent (the store merges, the index embeds only what is pending, summaries and
theme texts are cached, digests are written atomically), so a killed run is simply run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest.build import DigestResult, build_digest, digest_path
from digest.claimcheck import ClaimChecker
from digest.daily import (
    EXIT_LOCKED,
    EXIT_OK,
    LAST_SUCCESS_KEY,
    DailyReport,
    LockHeld,
    add_demo_sources,
    daily_lock,
    days_to_build,
    demo_days,
    prune_logs,
    run_log,
)
from digest.days import posts_of_day, today
from digest.interests import unmuted
from digest.summarize import summarize_posts
from ingest.pipeline import IngestReport, run_import, run_ingest
from kb.embed.base import EmbedderError
from kb.index.indexer import IndexReport, run_index
from kb.index.vector import VectorIndexError
from kb.models.base import ModelUnavailable
from kb.models.counting import CountingLLM
from kb.progress import Counter, OnProgress
from kb.runtime import Runtime
from kb.store.db import kv_set

if TYPE_CHECKING:
    from ingest.backfill import BackfillReport

log = logging.getLogger("digest.jobs")
Echo = Callable[[str], None]


@dataclass
class IngestOutcome:
    """What an ingest or import stored, and what indexing it did (or why it could not)."""

    ingest: IngestReport
    index: IndexReport | None = None
    index_error: str = ""

    def to_json(self) -> dict[str, Any]:
        out = self.ingest.to_json()
        if self.index is not None:
            out["index"] = self.index.to_json()
        if self.index_error:
            out["index_error"] = self.index_error
        return out


def index_archive(rt: Runtime, on_progress: OnProgress | None = None) -> IndexReport:
    """Chunk, embed and store what is pending in the runtime's vector index."""
    return run_index(rt.store, rt.embedder, rt.index, batch_size=rt.settings.index.batch_size,
                     on_progress=on_progress)


def _then_index(rt: Runtime, report: IngestReport, index: bool | None, always: bool,
                on_progress: OnProgress | None) -> IngestOutcome:
    out = IngestOutcome(report)
    wanted = rt.settings.ingest.index if index is None else index
    if wanted and (always or report.new or report.updated):
        try:
            out.index = index_archive(rt, on_progress)
        except (EmbedderError, VectorIndexError) as exc:  # the posts are stored either way
            log.error("indexing failed: %s", exc)
            out.index_error = f"indexing failed (search may miss new posts; run `kb index` " \
                              f"to retry): {exc}"
    return out


def ingest_and_index(rt: Runtime, *, source: str | None = None, index: bool | None = None,
                     always_index: bool = False, on_progress: OnProgress | None = None
                     ) -> IngestOutcome:
    """Fetch every source (or only ``source``: a name, id or URL), store what changed, then
    index it.  ``index`` None follows ``ingest.index``; indexing runs when something is new or
    updated, or with ``always_index`` (to finish what an earlier run left pending).  Raises
    :class:`ingest.pipeline.IngestError` for an unknown source."""
    report = run_ingest(rt.settings, rt.store, rt.fetcher, source=source,
                        on_progress=on_progress)
    return _then_index(rt, report, index, always_index, on_progress)


def import_and_index(rt: Runtime, paths: list[Path | str], *, index: bool | None = None,
                     on_progress: OnProgress | None = None) -> IngestOutcome:
    """Import local archives (see :mod:`ingest.archives`), then index what is new."""
    report = run_import(rt.settings, rt.store, paths, on_progress=on_progress)
    return _then_index(rt, report, index, False, on_progress)


@dataclass
class BackfillOutcome:
    """What a backfill stored, and the indexing done in batches as the posts arrived."""

    backfill: BackfillReport
    index: IndexReport | None = None  # the batches, summed
    index_batches: int = 0
    index_error: str = ""

    def to_json(self) -> dict[str, Any]:
        out = self.backfill.to_json()
        if self.index is not None:
            out["index"] = {**self.index.to_json(), "batches": self.index_batches}
        if self.index_error:
            out["index_error"] = self.index_error
        return out


def _add_index(total: IndexReport | None, part: IndexReport) -> IndexReport:
    if total is None:
        return part
    for name in ("posts_chunked", "chunks_added", "chunks_removed", "chunks_embedded",
                 "chunks_reused", "tokens_embedded", "seconds", "embed_seconds"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.chunks_total, total.vectors_total = part.chunks_total, part.vectors_total
    return total


class _Batches:
    """Indexes the posts a backfill stores, every ``every`` new or updated posts."""

    def __init__(self, rt: Runtime, every: int, on_progress: OnProgress | None) -> None:
        self.rt, self.every, self.on_progress = rt, max(1, every), on_progress
        self.pending = 0
        self.total: IndexReport | None = None
        self.count = 0
        self.error = ""

    def stored(self, post_ids: list[str]) -> None:
        self.pending += len(post_ids)
        if self.pending >= self.every:
            self.run()

    def run(self) -> None:
        self.pending = 0
        if self.error:
            return
        try:
            part = index_archive(self.rt, self.on_progress)
        except (EmbedderError, VectorIndexError) as exc:  # the posts are stored either way
            log.error("indexing failed: %s", exc)
            self.error = (f"indexing failed (search may miss the backfilled posts; run "
                          f"`kb index` to retry): {exc}")
            return
        self.total = _add_index(self.total, part)
        self.count += 1


def backfill_and_index(rt: Runtime, *, since: datetime, until: datetime,
                       source: str | None = None, index: bool | None = None,
                       on_progress: OnProgress | None = None) -> BackfillOutcome:
    """Fill the archive with the posts of ``[since, until)`` (see :mod:`ingest.backfill`),
    indexing every ``backfill.index_every`` new posts as they arrive — so questions work on
    the first part of the history while the rest is still coming — and what is left at the
    end.  ``index`` None follows ``ingest.index``.  Raises
    :class:`ingest.pipeline.IngestError` for an unknown source."""
    from ingest.backfill import run_backfill

    wanted = rt.settings.ingest.index if index is None else index
    batches = _Batches(rt, rt.settings.backfill.index_every, on_progress)
    report = run_backfill(rt.settings, rt.store, rt.fetcher, since=since, until=until,
                          source=source, on_progress=on_progress,
                          on_stored=batches.stored if wanted else None)
    if wanted and batches.pending:
        batches.run()
    return BackfillOutcome(report, batches.total, batches.count, batches.error)


# --- kb daily --------------------------------------------------------------------------------
def run_daily(rt: Runtime, *, demo: bool = False, now: date | None = None,
              echo: Echo = print, on_progress: OnProgress | None = None,
              report_out: DailyReport | None = None) -> int:
    """Ingest → index → summarize → digest (today and every missed day), one run at a time.
    Returns the exit code (see :mod:`digest.daily`); ``report_out`` receives the report."""
    settings = rt.settings
    report = report_out or DailyReport()
    try:
        with daily_lock(settings.lock_path), run_log(settings.logs_dir) as log_path:
            report.log_path = log_path
            for old in prune_logs(settings.logs_dir, settings.daily.keep_logs_days):
                log.info("removed old log %s", old.name)
            _run(rt, report, demo=demo, now=now, echo=echo, on_progress=on_progress)
    except LockHeld as exc:
        echo(f"error: {exc}")
        return EXIT_LOCKED
    code = report.exit_code()
    if demo and any(d.status in ("written", "unchanged") for d in report.digests):
        code = EXIT_OK  # the demo's point is the digest; failing network sources are expected
    return code


def _run(rt: Runtime, report: DailyReport, *, demo: bool, now: date | None, echo: Echo,
         on_progress: OnProgress | None) -> None:
    t0 = time.monotonic()
    settings, store = rt.settings, rt.store
    tz = settings.digest.timezone
    log.info("kb daily starting (KB_HOME=%s, demo=%s)", settings.home, demo)
    demo_ids = add_demo_sources(store) if demo else []
    touched: list[str] = []
    try:  # 1. ingest, 2. index (also what an earlier run left pending)
        out = ingest_and_index(rt, index=True, always_index=True, on_progress=on_progress)
        ing = out.ingest
        report.new, report.updated = ing.new, ing.updated
        report.source_errors = list(ing.failures)
        touched = list(ing.post_ids)
        for _src, msg in ing.failures:  # each message names its source
            echo(f"warning: {msg}")
            log.warning("%s", msg)
        if out.index is not None:
            report.indexed = out.index.chunks_embedded
        if out.index_error:
            report.step_errors.append(f"index: {out.index_error}")
            echo(f"warning: {out.index_error}")
    except Exception as exc:  # a crashed step must not stop the digest of what is stored
        log.exception("ingest failed")
        report.step_errors.append(f"ingest: {exc}")
        echo(f"warning: ingest failed: {exc}")

    llm = _chat_llm(rt, report, echo)
    day0 = now or today(tz)
    days = days_to_build(store, tz, day0)
    if demo:
        days = sorted(set(days) | set(demo_days(store, demo_ids, tz)))
    # 3. summarize: what ingest touched and every post of the days we build
    pids = list(dict.fromkeys(touched + [p for d in days
                                         for p in posts_of_day(store, d, tz).published]))
    pids = unmuted(store, settings, pids)  # the killfile's posts stay out of the digest
    if pids:
        try:
            step = Counter(on_progress, "summarizing", len(pids), "posts")
            sr = summarize_posts(store, llm, pids, parallel=settings.digest.parallel,
                                 on_done=lambda _pid, _row: step.advance(),
                                 checker=ClaimChecker(rt.embedder))
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
            res = build_digest(settings, store, llm, rt.embedder, d)
        except Exception as exc:
            log.exception("digest of %s failed", d)
            res = DigestResult(d.isoformat(), "failed", message=f"{d}: {exc}")
        report.digests.append(res)
        (log.info if res.ok else log.error)("%s", res.message)
        echo(("" if res.ok else "error: ") + res.message)
    report.calls = llm.calls if llm is not None else 0
    if all(r.ok for r in report.digests):
        kv_set(store, LAST_SUCCESS_KEY, day0.isoformat())
    if demo:
        _demo_help(rt, report, echo)
    log.info("%s (%.1fs)", report.line(), time.monotonic() - t0)
    echo(report.line())


def _chat_llm(rt: Runtime, report: DailyReport, echo: Echo) -> CountingLLM | None:
    """The runtime's chat model, or None (extractive only), saying once why there is none.
    A chosen backend that cannot be used does not stop the run: its digests are extractive."""
    try:
        llm, notice = rt.chat_llm()
    except ModelUnavailable as exc:  # the backend chosen explicitly: a partial run (exit 3)
        llm, notice = None, f"{exc} — summaries and digests are extractive this time."
        report.step_errors.append(f"chat model: {exc}")
    except Exception as exc:  # the chat model is an improvement; never fail the run over it
        log.exception("chat model failed to load")
        llm, notice = None, f"the chat model failed to load ({exc}); summaries and digests " \
                            f"are extractive this time."
    if notice:
        report.notice = notice
        log.warning("%s", notice)
        echo("notice: " + notice)
    return llm


def _demo_help(rt: Runtime, report: DailyReport, echo: Echo) -> None:
    from digest.timer import kb_executable

    exe = kb_executable()
    env = f"KB_HOME={rt.settings.home} "
    ok = [d for d in report.digests if d.status in ("written", "unchanged")]
    echo("")
    echo("Demo results:")
    for d in ok:
        echo(f"  digest file:  {d.path or digest_path(rt.settings, d.day)}")
    if ok:
        echo(f"  in the terminal:  {env}{exe} digest show {ok[-1].day}")
    echo(f"  list digests:     {env}{exe} digest list")
    echo(f"  browse it all:    {env}{exe} tui")
