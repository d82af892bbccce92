"""`kb ingest` and `kb import`: fetch/read everything, store it, report honestly.

Fetching and parsing run concurrently (``settings.ingest.concurrency`` threads); every write
to SQLite happens on the calling thread, one post per transaction.  A failing source never
stops the others and never touches what is already stored: its error is recorded on the
source (``kb sources list``) and counted in the report.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kb.fetch import Fetcher, FetchError, FetchResult
from kb.progress import Counter, OnProgress
from kb.store import sources as sources_repo
from kb.store.posts import PostRecord, SaveResult, save_post

if TYPE_CHECKING:
    from kb.settings import Settings
    from kb.store.db import Store
    from kb.store.sources import Source


class IngestError(ValueError):
    """The ingest cannot start (e.g. an unknown --source); the message says why."""


@dataclass
class IngestReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: int = 0
    post_ids: list[str] = field(default_factory=list)  # posts that are new or changed
    # (source or file, message); every message names its source or file itself
    failures: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)  # non-fatal warnings
    attempted: int = 0  # sources fetched or files read

    def line(self) -> str:
        return f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, " \
               f"{self.errors} errors"

    def count(self, pid: str, result: SaveResult) -> None:
        if result is SaveResult.NEW:
            self.new += 1
        elif result is SaveResult.UPDATED:
            self.updated += 1
        else:
            self.unchanged += 1
            return
        if pid not in self.post_ids:
            self.post_ids.append(pid)

    def fail(self, where: str, message: str) -> None:
        self.errors += 1
        self.failures.append((where, message))

    def to_json(self) -> dict[str, Any]:
        return {"new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "errors": self.errors, "post_ids": self.post_ids,
                "failures": [list(f) for f in self.failures],
                "notes": [list(n) for n in self.notes]}


@dataclass
class _Outcome:
    records: list[PostRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fetched: FetchResult | None = None
    error: str | None = None


def fetch_source(src: Source, fetcher: Fetcher) -> _Outcome:
    """Fetch and parse one source (runs in a worker thread; never touches the store)."""
    from ingest.feeds import FeedError, parse_feed
    from ingest.pages import PageError, extract_page

    out = _Outcome()
    try:
        res = fetcher.fetch(src.url, etag=src.etag, last_modified=src.last_modified)
        out.fetched = res
        if res.not_modified:
            return out
        if src.kind == "page":
            rec, out.notes = extract_page(res.body, url=src.url, content_type=res.content_type,
                                          origin=src.url)
            out.records = [rec]
        else:
            parsed = parse_feed(res.body, url=src.url, content_type=res.content_type)
            out.records, out.notes = parsed.records, parsed.notes
    except (FetchError, FeedError, PageError) as exc:
        out.error = str(exc)
    except Exception as exc:  # a bug or a parser crash: report it, keep the others going
        out.error = f"{src.url}: unexpected {exc.__class__.__name__}: {exc}"
    if out.error and not out.error.startswith(f"source {src.name}:"):
        out.error = f"source {src.name}: {out.error}"
    return out


def _save_all(store: Store, records: list[PostRecord], report: IngestReport, where: str,
              source_id: int | None, label: str) -> dict[str, int]:
    """Store ``records``; a record that fails is reported as ``label: could not store …``."""
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for rec in records:
        try:
            pid, result = save_post(store, rec, source_id=source_id)
        except Exception as exc:  # one bad record never loses the rest
            report.fail(where, f"{label}: could not store {rec.urls[:1]}: "
                               f"{exc.__class__.__name__}: {exc}")
            continue
        counts[result.value] += 1
        report.count(pid, result)
    return counts


def run_ingest(settings: Settings, store: Store, fetcher: Fetcher, *, source: str | None = None,
               on_progress: OnProgress | None = None, now: datetime | None = None
               ) -> IngestReport:
    """Fetch every source (or the one named ``source``) and store what changed.  Fetching and
    parsing run on ``ingest.concurrency`` threads; every write happens on this thread.  ``now``
    (default: the clock) is where a forum source's windows end."""
    if source is not None:
        src = sources_repo.get_source(store, source)
        if src is None:
            raise IngestError(f"no source named {source!r} (see `kb sources list`)")
        todo = [src]
    else:
        sources_repo.ensure_default_sources(store)
        todo = sources_repo.list_sources(store)
    report = IngestReport(attempted=len(todo))
    step = Counter(on_progress, "ingest", len(todo), "sources")
    forums = [s for s in todo if s.kind == "forum"]
    others = [s for s in todo if s.kind != "forum"]
    workers = max(1, min(settings.ingest.concurrency, len(others) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kb-fetch") as pool:
        futures: dict[Future[_Outcome], Source] = {
            pool.submit(fetch_source, s, fetcher): s for s in others}
        # forum windows are fetched and stored page by page on this thread (the one that
        # writes) while the feeds download in the pool
        for src in forums:
            from ingest.forum_sync import sync_forum

            sync_forum(settings, store, fetcher, src, report, now=now)
            step.advance(label=src.name)
        for fut in as_completed(futures):
            src = futures[fut]
            _store_outcome(store, src, fut.result(), report)
            step.advance(label=src.name)
    return report


def _store_outcome(store: Store, src: Source, out: _Outcome, report: IngestReport) -> None:
    for note in out.notes:
        report.notes.append((src.name, note))
    if out.error:
        report.fail(src.name, out.error)
        sources_repo.record_fetch(store, src.id, status="error", error=out.error)
        return
    res = out.fetched
    if res is not None and res.not_modified:
        sources_repo.record_fetch(store, src.id, status="not modified",
                                  counts={"new": 0, "updated": 0, "unchanged": 0})
        return
    errors_before = report.errors
    counts = _save_all(store, out.records, report, src.name, src.id, f"source {src.name}")
    failed = report.errors - errors_before
    sources_repo.record_fetch(
        store, src.id, status="ok" if not failed else "error",
        error=f"{failed} item(s) could not be stored" if failed else None,
        # keep the validators only when everything was stored, so a retry refetches
        etag=res.etag if res is not None and not failed else None,
        last_modified=res.last_modified if res is not None and not failed else None,
        counts=counts)


def run_import(settings: Settings, store: Store, paths: list[Path | str], *,
               on_progress: OnProgress | None = None) -> IngestReport:
    """Import local archives (files or directories); see :mod:`ingest.archives`."""
    from ingest.archives import read_file, walk

    report = IngestReport()
    files: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            report.fail(str(p), f"{p}: no such file or directory")
            continue
        found = list(walk([p]))
        if p.is_dir() and not found:
            report.notes.append((str(p), f"{p}: no importable files (Markdown, JSON, RSS/Atom, "
                                         "HTML) in this directory"))
        files += found
    report.attempted = len(files)
    records: list[tuple[str, PostRecord]] = []
    step = Counter(on_progress, "reading", len(files), "files")
    for f in files:
        res = read_file(f, max_bytes=settings.ingest.max_bytes)
        report.notes += [(str(f), n) for n in res.notes]
        if res.error:
            report.fail(str(f), res.error)
        records += [(str(f), r) for r in res.records]
        step.advance(label=f.name)
    merged = _merge_duplicates(records)
    step = Counter(on_progress, "storing", len(merged), "posts")
    for where, rec in merged:
        _save_all(store, [rec], report, where, None, where)
        step.advance(label=rec.title)
    return report


def _merge_duplicates(records: list[tuple[str, PostRecord]]) -> list[tuple[str, PostRecord]]:
    """One record per LW/AF id: a co-authored post appears once per author in per-user
    dumps; keep the first copy's text and every author."""
    out: list[tuple[str, PostRecord]] = []
    by_id: dict[tuple[str, str], PostRecord] = {}
    for where, rec in records:
        key = (rec.lw_id, rec.origin) if rec.lw_id else None
        if key is None:
            out.append((where, rec))
            continue
        first = by_id.get(key)
        if first is None:
            by_id[key] = rec
            out.append((where, rec))
        else:
            first.authors = list(dict.fromkeys([*first.authors, *rec.authors]))
            first.is_af = first.is_af or rec.is_af
            if not first.text and rec.text:
                first.text = rec.text
    return out
