"""`kb sources add|set|list|remove|import-opml|export-opml`: the feeds, pages and forums kb
fetches.  Every command that changes something takes --json (fields in the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from kb.cli.app import EXIT_PARTIAL, App, KbError, console, emit_json, err_console, inert
from kb.cli.complete import complete_sources
from kb.store import sources as sources_repo

pass_app = click.make_pass_decorator(App)


@click.group()
def sources() -> None:
    """Manage the feeds, pages and forums kb fetches."""


@sources.command("add")
@click.argument("url")
@click.option("--name", help="A short name (default: from the host).")
@click.option("--kind", type=click.Choice(["feed", "page", "forum"]), default=None,
              help="feed (RSS/Atom), page (a feedless page to watch for edits) or forum (a "
                   "ForumMagnum GraphQL endpoint such as https://www.lesswrong.com/graphql). "
                   "Given, the URL is stored as is, without fetching it.")
@click.option("--min-karma", type=int, default=None, help="Forum: only posts with this karma.")
@click.option("--tag", "tags", multiple=True, help="Forum: only posts with this tag "
                                                   "(repeatable: any of them).")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"action": "added", "source": {...}, "discovered": {...}|null}.')
@pass_app
def sources_add(app: App, url: str, name: str | None, kind: str | None, min_karma: int | None,
                tags: tuple[str, ...], as_json: bool) -> None:
    """Track a feed, a page or a forum (URL, file:// URL or local path).

    Without --kind, an http(s) address is fetched once: a feed is added with its title and
    item count shown; a homepage is searched for its feed (which is added, and the homepage
    kept for `kb backfill`); anything else is an error and nothing is stored.  An address
    ending in /graphql is a forum."""
    from kb.store.sources import looks_like_forum

    sources_repo.ensure_default_sources(app.store)
    home: str | None = None
    found = None
    if kind is None and url.startswith(("http://", "https://")) and not looks_like_forum(url):
        from ingest.discover import DiscoveryError, discover

        try:
            found = discover(app.runtime.fetcher, url)
        except DiscoveryError as exc:
            raise KbError(str(exc)) from exc
        url, home, kind = found.feed_url, found.home_url, "feed"
    try:
        src = sources_repo.add_source(app.store, url, name=name, kind=kind,  # type: ignore[arg-type]
                                      min_karma=min_karma, tags=list(tags) or None,
                                      home_url=home)
    except sources_repo.SourceError as exc:
        raise KbError(str(exc)) from exc
    if as_json:
        emit_json({"action": "added", "source": src.to_json(),
                   "discovered": None if found is None else {
                       "title": found.title, "items": found.items,
                       "feed_url": found.feed_url, "home_url": found.home_url}})
        return
    if found is not None:
        via = f" (found on {found.home_url})" if found.home_url and found.home_url != src.url \
            else ""
        console.print(inert(f"feed: {found.title} — {found.items} items{via}"), markup=False)
    console.print(f"added {src.kind} source {src.name}: {src.url}{_filters(src)}", markup=False)


def _filters(src: sources_repo.Source) -> str:
    parts = []
    if src.min_karma:
        parts.append(f"karma >= {src.min_karma}")
    if src.tags:
        parts.append("tags: " + ", ".join(src.tags))
    return f" ({'; '.join(parts)})" if parts else ""


@sources.command("set")
@click.argument("ref", shell_complete=complete_sources)
@click.option("--min-karma", type=int, default=None, help="Only posts with this karma.")
@click.option("--tag", "tags", multiple=True, help="Also keep posts with this tag (repeatable).")
@click.option("--clear", is_flag=True, help="Remove the karma minimum and the tags first.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"action": "updated", "source": {...}}.')
@pass_app
def sources_set(app: App, ref: str, min_karma: int | None, tags: tuple[str, ...],
                clear: bool, as_json: bool) -> None:
    """Change a forum source's filters: its karma minimum and the tags a post needs one of."""
    try:
        src = sources_repo.set_filters(app.store, ref, min_karma=min_karma, tags=list(tags),
                                       clear=clear)
    except sources_repo.SourceError as exc:
        raise KbError(str(exc)) from exc
    if as_json:
        emit_json({"action": "updated", "source": src.to_json()})
        return
    console.print(f"{src.name}: {_filters(src).strip(' ()') or 'every post'}", markup=False)


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def sources_list(app: App, as_json: bool) -> None:
    """Sources with their kind, last fetch status and error, and backfill checkpoint."""
    from kb.store.backfill import summary

    sources_repo.ensure_default_sources(app.store)
    items = sources_repo.list_sources(app.store)
    if as_json:
        emit_json([{**s.to_json(), "backfill": summary(app.store, s.id)} for s in items])
        return
    table = Table()
    for col in ("name", "kind", "url", "last fetch", "status", "backfill", "error"):
        table.add_column(col, overflow="fold")
    for s in items:
        table.add_row(s.name, s.kind, s.url + _filters(s), s.last_fetched_at or "never",
                      s.last_status or "", _checkpoint(summary(app.store, s.id)),
                      inert(s.last_error or ""))
    console.print(table, markup=False)


def _checkpoint(info: dict[str, object] | None) -> str:
    if info is None:
        return ""
    out = f"{info['windows_done']} windows done"
    if info["done_from"]:
        out += f" ({str(info['done_from'])[:10]}..{str(info['done_until'])[:10]})"
    current = info["current"]
    if isinstance(current, dict) and current.get("position"):
        out += f"; at {current['position']} in {str(current['start'])[:10]}.."
    return out


@sources.command("remove")
@click.argument("ref", shell_complete=complete_sources)
@click.option("--json", "as_json", is_flag=True,
              help='Print {"action": "removed", "source": {...}}.')
@pass_app
def sources_remove(app: App, ref: str, as_json: bool) -> None:
    """Stop tracking a source (by name, id or URL). Its posts stay in the archive."""
    try:
        src = sources_repo.remove_source(app.store, ref)
    except sources_repo.SourceError as exc:
        raise KbError(str(exc)) from exc
    if as_json:
        emit_json({"action": "removed", "source": src.to_json()})
        return
    console.print(f"removed {src.name} ({src.url}); its posts stay in the archive", markup=False)


def _feed_problem(app: App, url: str) -> tuple[str, str] | None:
    """(error kind, reason) when ``url`` cannot be fetched or is not a feed with items."""
    from ingest.feeds import FeedError, parse_feed
    from kb.fetch import FetchError

    try:
        res = app.runtime.fetcher.fetch(url)
    except FetchError as exc:
        return "fetch_failed", "fetch failed: " + str(exc).removeprefix(f"{url}: ")
    try:
        parsed = parse_feed(res.body, url=url, content_type=res.content_type)
    except FeedError as exc:
        return "not_a_feed", "not a feed: " + str(exc).removeprefix(f"{url}: ")
    if not parsed.records and not parsed.link:
        return "not_a_feed", "not a feed: no items and no channel"
    return None


def import_entries(app: App, entries: list[tuple[str, str, str]],
                   problems: list[tuple[str, str]], *, check: bool = False
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Add each OPML entry; (added sources, failures with their reason and ``error`` kind:
    ``duplicate``, ``invalid_url``, ``rejected``, and with ``check`` (each feed fetched
    once first) ``fetch_failed`` or ``not_a_feed``)."""
    from kb.opml import url_problem

    added: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = [{"title": t, "url": "", "error": "invalid_url",
                                     "reason": why} for t, why in problems]
    for title, url, kind in entries:
        why = url_problem(url)
        if why is not None:
            failed.append({"title": title, "url": url, "error": "invalid_url", "reason": why})
            continue
        existing = sources_repo.get_source(app.store, url)
        if existing is not None:
            failed.append({"title": title, "url": url, "error": "duplicate",
                           "reason": f"already tracked (as {existing.name})"})
            continue
        is_feed = kind != "page" and not sources_repo.looks_like_forum(url)
        if check and is_feed and (bad := _feed_problem(app, url)) is not None:
            failed.append({"title": title, "url": url, "error": bad[0], "reason": bad[1]})
            continue
        try:
            src = sources_repo.add_source(
                app.store, url, name=title or None,
                kind="page" if kind == "page" else
                "forum" if sources_repo.looks_like_forum(url) else "feed")
        except sources_repo.SourceError as exc:
            failed.append({"title": title, "url": url, "error": "rejected", "reason": str(exc)})
            continue
        added.append(src.to_json())
    return added, failed


@sources.command("import-opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True,
              help="Fetch each new feed once first and add only those that parse as feeds.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"file", "added": [source...], "failed": [{"title", "url", "error", '
                   '"reason"}...], "counts": {"added", "failed"}}.')
@pass_app
def sources_import_opml(app: App, file: Path, check: bool, as_json: bool) -> None:
    """Add every feed of an OPML file, and say why each one that is not added is not:
    already tracked, an invalid URL, refused, or (with --check) a fetch that failed or a
    reply that is not a feed.

    Without --check the URLs are not fetched here: the next `kb ingest` fetches them and
    `kb sources list` shows any that fail.  Exit code 3 when some entry failed for a reason
    other than being already tracked."""
    from kb.opml import OpmlError, parse_opml

    sources_repo.ensure_default_sources(app.store)
    problems: list[tuple[str, str]] = []
    try:
        entries = parse_opml(file.read_bytes(), where=str(file), problems=problems)
    except OpmlError as exc:
        raise KbError(str(exc)) from exc
    except OSError as exc:
        raise KbError(f"{file}: cannot read it: {exc}") from exc
    added, failed = import_entries(app, entries, problems, check=check)
    serious = sum(1 for f in failed if f["error"] != "duplicate")
    if as_json:
        emit_json({"file": str(file), "added": added, "failed": failed,
                   "counts": {"added": len(added), "failed": len(failed)}})
    else:
        for src in added:
            console.print(f"added {src['kind']} source {src['name']}: {src['url']}",
                          markup=False)
        for f in failed:
            what = f["url"] or f["title"] or "an outline"
            err_console.print(inert(f"not added {what}: {f['reason']}"), markup=False,
                              style="dim" if f["error"] == "duplicate" else "red",
                              soft_wrap=True)
        dup = len(failed) - serious
        console.print(f"{len(added)} added, {dup} already tracked, {serious} failed",
                      markup=False)
    if serious:
        click.get_current_context().exit(EXIT_PARTIAL)


@sources.command("export-opml")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@pass_app
def sources_export_opml(app: App, output: Path | None) -> None:
    """Print all sources as OPML."""
    from kb.opml import to_opml

    sources_repo.ensure_default_sources(app.store)
    text = to_opml([(s.name, s.url, s.kind) for s in sources_repo.list_sources(app.store)])
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)
