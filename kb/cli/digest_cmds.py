"""`kb summarize`, `kb digest [show|list]`, `kb daily`."""

from __future__ import annotations

from datetime import date, timedelta

import click

from kb.cli.app import (
    EXIT_PARTIAL,
    EXIT_USAGE,
    App,
    KbError,
    backend_errors,
    console,
    emit_json,
    err_console,
)
from kb.cli.complete import complete_digest_dates
from kb.cli.progress import progress_bars

pass_app = click.make_pass_decorator(App)


def _day(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    from digest.days import DayError, parse_day

    try:
        return parse_day(value)
    except DayError as exc:
        raise KbError(f"{what}: {exc}", EXIT_USAGE) from exc


def _notice(app: App) -> None:
    """Say once, after the run, why there was no chat model (summaries are extractive)."""
    rt = app.runtime
    if rt.llm_notice:
        err_console.print("notice: " + rt.llm_notice, style="yellow", markup=False)


# --- summarize ----------------------------------------------------------------------------
@click.command()
@click.option("--since", help="Only posts posted on or after this date (YYYY-MM-DD).")
@click.option("--post", "post_ids", multiple=True, help="Only this post (id or URL); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@click.pass_context
def summarize(ctx: click.Context, since: str | None, post_ids: tuple[str, ...],
              as_json: bool) -> None:
    """Summarize posts with the local model (cached: re-running costs no model call).

    Without options, every post that has no summary by the current model yet."""
    from digest.claimcheck import ClaimChecker
    from digest.summarize import select_posts, summarize_posts
    from kb.store.posts import get_post

    app = ctx.ensure_object(App)
    _day(since, "--since")
    ids: list[str] = []
    for ref in post_ids:
        post = get_post(app.store, ref, with_text=False)
        if post is None:
            raise KbError(f"no post {ref!r} in the archive (see `kb posts list`)")
        ids.append(post.id)
    ids = select_posts(app.store, since=since, post_ids=ids or None)
    if not ids:
        console.print("no posts to summarize")
        return
    from kb.progress import Counter

    rt = app.runtime
    with backend_errors(), progress_bars(not as_json) as on_progress:
        step = Counter(on_progress, "summarizing", len(ids), "posts")
        report = summarize_posts(app.store, rt.chat_llm()[0], ids,
                                 parallel=app.settings.digest.parallel,
                                 on_done=lambda _pid, _row: step.advance(),
                                 checker=ClaimChecker(rt.embedder))
    _notice(app)
    if as_json:
        emit_json(report.to_json())
    else:
        console.print(f"{report.made} summarized, {report.cached} already done, "
                      f"{report.pending} pending ({report.calls} model calls)", markup=False)
        for pid, err in report.failures[:10]:
            err_console.print(f"pending {pid}: {err}", style="yellow", markup=False)
    if report.pending:
        ctx.exit(EXIT_PARTIAL)


# --- digest -------------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--date", "day", help="The day to digest (YYYY-MM-DD; default today).",
              shell_complete=complete_digest_dates)
@click.option("--since", help="First day of a range (YYYY-MM-DD).")
@click.option("--until", help="Last day of a range (default today).")
@click.option("--week", is_flag=True, help="The last 7 days, today included.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@click.pass_context
def digest(ctx: click.Context, day: str | None, since: str | None, until: str | None,
           week: bool, as_json: bool) -> None:
    """Build the digest of a day (or of each day of a range) into $KB_HOME/digests/.

    \b
    kb digest                         today (in digest.timezone)
    kb digest --date 2025-03-12       one day
    kb digest --since D --until D     each day of a range
    kb digest --week                  the last 7 days
    kb digest show [D|today|yesterday] [--format md|json]   (default: the latest)
    kb digest list"""
    if ctx.invoked_subcommand:
        return
    from digest.build import build_digest
    from digest.days import today

    app = ctx.ensure_object(App)
    tz = app.settings.digest.timezone
    if sum(bool(x) for x in (day, since or until, week)) > 1:
        raise KbError("use one of --date, --since/--until or --week", EXIT_USAGE)
    if until and not since:
        raise KbError("--until needs --since", EXIT_USAGE)
    try:
        now = today(tz)
    except ValueError as exc:
        raise KbError(str(exc), EXIT_USAGE) from exc
    if week:
        days = [now - timedelta(days=i) for i in range(6, -1, -1)]
    elif since:
        first, last = _day(since, "--since"), _day(until, "--until") or now
        assert first is not None
        if last < first:
            raise KbError("--until is before --since", EXIT_USAGE)
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    else:
        d0 = _day(day, "--date") or now
        days = [d0]
    rt = app.runtime
    results = []
    with backend_errors():
        llm = rt.chat_llm()[0]  # None: extractive (no chat model)
    for d in days:
        with backend_errors():
            res = build_digest(app.settings, app.store, llm, rt.embedder, d)
        results.append(res)
        if not as_json:
            style = "red" if res.status == "failed" else ("dim" if res.status == "empty" else None)
            console.print(("error: " if res.status == "failed" else "") + res.message,
                          style=style, markup=False, soft_wrap=True)
    _notice(app)
    if as_json:
        emit_json({"digests": [r.to_json() for r in results], "model_calls": rt.llm.calls})
    failed = [r for r in results if r.status == "failed"]
    if failed and len(days) == 1:
        ctx.exit(1)
    if failed or any(r.pending for r in results):
        ctx.exit(EXIT_PARTIAL)


def _show_day(app: App, value: str | None) -> str:
    """The day `kb digest show` means: the latest stored digest without DAY; ``today`` and
    ``yesterday`` in digest.timezone; else a YYYY-MM-DD date."""
    from digest.days import DayError, today
    from digest.repo import digest_days

    if value is None:
        days = digest_days(app.store)
        if not days:
            raise KbError("no digest stored yet (build one with `kb digest` or `kb daily`)")
        return days[0]
    word = value.strip().lower()
    if word in ("today", "yesterday"):
        try:
            now = today(app.settings.digest.timezone)
        except DayError as exc:
            raise KbError(str(exc), EXIT_USAGE) from exc
        return (now - timedelta(days=1 if word == "yesterday" else 0)).isoformat()
    d = _day(value, "DAY")
    assert d is not None
    return d.isoformat()


def _stdout_is_terminal() -> bool:
    import sys

    return sys.stdout.isatty()


def _page_markdown(markdown: str, pager: bool) -> None:
    """Render the digest's Markdown with Rich, through the pager ($PAGER, else less) when asked.
    Feed text inside it is made inert (no terminal escapes)."""
    import os

    from rich.markdown import Markdown

    from kb.cli.app import inert

    doc = Markdown(inert(markdown), hyperlinks=False)  # URLs shown: a pager cannot follow links
    if not pager:
        console.print(doc)
        return
    # less shows colours only with -R; respect a LESS the user set
    os.environ.setdefault("LESS", "-FRX")
    with console.pager(styles=True):
        console.print(doc)


@digest.command("show")
@click.argument("day", required=False, shell_complete=complete_digest_dates)
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md",
              help="Markdown (default) or the structured JSON.")
@click.option("--no-pager", is_flag=True, help="On a terminal, print without the pager.")
@pass_app
def digest_show(app: App, day: str | None, fmt: str, no_pager: bool) -> None:
    """Show the stored digest of DAY (YYYY-MM-DD, today, yesterday; default: the latest).

    On a terminal the Markdown is rendered through a pager; piped, the raw Markdown is
    printed."""
    from digest.repo import get_digest

    d = _show_day(app, day)
    stored = get_digest(app.store, d)
    if stored is None:
        raise KbError(f"no digest for {d} yet (build it with `kb digest --date {d}`)")
    if fmt == "json":
        emit_json(stored.data | {"complete": stored.complete, "updated_at": stored.updated_at})
    elif _stdout_is_terminal():
        _page_markdown(stored.markdown, pager=not no_pager)
    else:
        click.echo(stored.markdown, nl=False)


@digest.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def digest_list(app: App, as_json: bool) -> None:
    """Stored digests, newest first."""
    from rich.table import Table

    from digest.build import digest_path
    from digest.repo import list_digests

    items = list_digests(app.store)
    rows = [{"date": x.day, "posts": len(x.data.get("posts", [])) +
             len(x.data.get("also_published", [])), "themes": len(x.data.get("themes", [])),
             "muted": int(x.data.get("muted", 0) or 0),
             "complete": x.complete, "model": x.model_id,
             "path": str(digest_path(app.settings, x.day)), "updated_at": x.updated_at}
            for x in items]
    if as_json:
        emit_json(rows)
        return
    table = Table()
    for col in ("date", "posts", "themes", "complete", "model", "path"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["date"]), str(r["posts"]), str(r["themes"]),
                      "yes" if r["complete"] else "pending", str(r["model"]), str(r["path"]))
    console.print(table, markup=False)
    console.print(f"{len(rows)} digests")


# --- daily --------------------------------------------------------------------------------
@click.command()
@click.option("--demo", is_flag=True,
              help="Also add the bundled demo feeds and build the digests of their days.")
@click.option("--print-timer", type=click.Choice(["systemd", "cron"]), default=None,
              help="Print a systemd service+timer or a crontab line for this install; do nothing "
                   "else.")
@click.option("--no-progress", is_flag=True, help="No progress bars (for cron and logs).")
@click.option("-q", "--quiet", is_flag=True,
              help="Print nothing when all went well; on failure print the problems and the "
                   "summary line to stderr (cron mails exactly that).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report at the end.")
@click.pass_context
def daily(ctx: click.Context, demo: bool, print_timer: str | None, no_progress: bool,
          quiet: bool, as_json: bool) -> None:
    """Ingest → index → summarize → digest (today and any missed day).  Safe to repeat.

    \b
    Exit codes: 0 done; 1 could not run; 3 finished with some failures (a source, a summary
    or a digest; see the summary line and $KB_HOME/logs); 75 another `kb daily` is running."""
    app = ctx.ensure_object(App)
    if print_timer:
        from digest.timer import timer_text

        click.echo(timer_text(app.settings, print_timer), nl=False)
        return
    from digest.daily import DailyReport
    from digest.jobs import run_daily

    report = DailyReport()
    held: list[tuple[bool, str]] = []  # with --quiet: (to stderr, line), shown only on failure

    def echo(line: str) -> None:
        problem = line.startswith(("error:", "warning:", "notice:"))
        if quiet:
            held.append((problem, line))
            return
        if as_json and not problem:
            return
        (err_console if problem else console).print(line, markup=False, highlight=False,
                                                    soft_wrap=True)

    app.store  # noqa: B018 - a store that cannot be opened is a clean error, first
    with progress_bars(not (no_progress or as_json or quiet)) as on_progress:
        code = run_daily(app.runtime, demo=demo, echo=echo, on_progress=on_progress,
                         report_out=report)
    if quiet and code:
        for problem, line in held:
            if problem or line == report.line():
                err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    if as_json:
        emit_json(report.to_json())
    if code:
        ctx.exit(code)
