"""`kb config`, `kb stats`, `kb posts`, `kb sources`."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from kb.cli.app import App, KbError, console, emit_json, err_console, inert
from kb.store import posts as posts_repo
from kb.store import sources as sources_repo

pass_app = click.make_pass_decorator(App)


# --- config -------------------------------------------------------------------------------
def _config_files() -> tuple[Path, Path, Path | None]:
    """(the user's config file, the older ``$KB_HOME/config.toml``, the ``--home`` given).

    Worked out without loading the settings, so a config file that no longer loads can still
    be located, rewritten and edited."""
    from kb.settings import default_home, user_config_path

    env = dict(os.environ)
    given = click.get_current_context().find_root().params.get("home")
    home = (Path(given) if given else Path(env["KB_HOME"]) if env.get("KB_HOME")
            else default_home(env))
    return user_config_path(env), home.expanduser() / "config.toml", Path(given) if given else None


def _note_legacy(path: Path, legacy: Path) -> None:
    if legacy.is_file() and legacy != path:
        err_console.print(f"note: {legacy} (the older location) is read too, after {path}: "
                          f"its settings win", markup=False)


def _write_config(path: Path) -> None:
    from kb.config_file import render_config

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render_config(), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise KbError(f"cannot write {path}: {exc}") from exc


@click.group()
def config() -> None:
    """Show, locate, create and edit kb's settings."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def config_show(app: App, as_json: bool) -> None:
    """Print every setting, its value and where it came from (default, config.toml, env)."""
    s = app.settings
    rows = s.as_rows()
    if as_json:
        emit_json({k: {"value": v, "origin": o} for k, v, o in rows})
        return
    table = Table(title=f"kb settings (config file: {s.config_path})")
    table.add_column("setting")
    table.add_column("value")
    table.add_column("from")
    for key, value, origin in rows:
        table.add_row(key, str(value), origin)
    console.print(table)


@config.command("path")
def config_path() -> None:
    """Print the config file's path ($KB_CONFIG, else $XDG_CONFIG_HOME/kb/config.toml).

    It need not exist yet: `kb config init` writes it."""
    path, legacy, _ = _config_files()
    click.echo(str(path))
    _note_legacy(path, legacy)


@config.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing config file.")
def config_init(force: bool) -> None:
    """Write a config file listing every setting with its default and what it does."""
    path, legacy, _ = _config_files()
    if path.exists() and not force:
        raise KbError(f"{path} already exists: `kb config edit` opens it, "
                      f"`kb config init --force` replaces it with the defaults")
    _write_config(path)
    console.print(f"wrote {path}", markup=False)
    _note_legacy(path, legacy)


@config.command("edit")
def config_edit() -> None:
    """Open the config file in $VISUAL or $EDITOR (default vi), then check it.

    A missing file is first written with every default (as `kb config init` does).  A value
    kb cannot use is reported with the file and the setting (exit code 2)."""
    import shlex
    import subprocess

    from kb.cli.app import EXIT_USAGE
    from kb.settings import SettingsError, load_settings

    path, legacy, home = _config_files()
    if not path.exists():
        _write_config(path)
        err_console.print(f"wrote {path} with every setting at its default", markup=False)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    argv = [*shlex.split(editor), str(path)]
    try:
        rc = subprocess.run(argv, check=False).returncode
    except OSError as exc:
        raise KbError(f"cannot start the editor {editor!r} ($VISUAL, else $EDITOR, else vi): "
                      f"{exc}") from exc
    if rc != 0:
        err_console.print(f"note: the editor {editor!r} exited with code {rc}", markup=False)
    try:
        load_settings(home=home)
    except SettingsError as exc:
        raise KbError(f"the settings do not load: {exc}. Run `kb config edit` again to fix it",
                      EXIT_USAGE) from exc
    console.print(f"{path}: ok", markup=False)
    _note_legacy(path, legacy)


# --- stats --------------------------------------------------------------------------------
@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def stats(app: App, as_json: bool) -> None:
    """Counts of what the archive holds."""
    data = posts_repo.stats(app.store)
    if as_json:
        emit_json(data)
        return
    for key, value in data.items():
        console.print(f"{key:>16}  {value}")


# --- posts --------------------------------------------------------------------------------
@click.group()
def posts() -> None:
    """List and show archived posts."""


@posts.command("list")
@click.option("--since", help="Posted on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Posted on or before this date (YYYY-MM-DD).")
@click.option("--source", help="Only posts first seen from this source (name or id) or site.")
@click.option("--limit", type=int, default=None, help="At most this many posts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_list(app: App, since: str | None, until: str | None, source: str | None,
               limit: int | None, as_json: bool) -> None:
    """Posts, newest first."""
    items = posts_repo.list_posts(app.store, since=since, until=until, source=source, limit=limit)
    if as_json:
        emit_json([{k: v for k, v in p.to_json().items() if k != "text"} for p in items])
        return
    table = Table(show_lines=False)
    for col in ("id", "published", "title", "authors", "site"):
        table.add_column(col, overflow="fold")
    for p in items:
        table.add_row(p.id, (p.published or "")[:10], inert(p.title),
                      inert(", ".join(p.authors[:3])), inert(p.site))
    console.print(table, markup=False)
    console.print(f"{len(items)} posts")


@posts.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def posts_show(app: App, ref: str, as_json: bool) -> None:
    """One post by id or by any of its URLs."""
    post = posts_repo.get_post(app.store, ref)
    if post is None:
        raise KbError(f"no post {ref!r} in the archive (try `kb posts list` or `kb search`)")
    versions = posts_repo.list_versions(app.store, post.id)
    if as_json:
        emit_json(post.to_json(versions=versions))
        return
    console.print(inert(post.title), style="bold", markup=False)
    console.print(inert(f"{', '.join(post.authors)} — {post.published or 'undated'}"),
                  markup=False)
    for u in post.urls:
        console.print(inert(("* " if u == post.canonical_url else "  ") + u), markup=False)
    console.print(f"version {post.version} of {len(versions)}\n", style="dim")
    console.print(inert(post.text), markup=False)


# --- sources ------------------------------------------------------------------------------
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
@pass_app
def sources_add(app: App, url: str, name: str | None, kind: str | None, min_karma: int | None,
                tags: tuple[str, ...]) -> None:
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
@click.argument("ref")
@click.option("--min-karma", type=int, default=None, help="Only posts with this karma.")
@click.option("--tag", "tags", multiple=True, help="Also keep posts with this tag (repeatable).")
@click.option("--clear", is_flag=True, help="Remove the karma minimum and the tags first.")
@pass_app
def sources_set(app: App, ref: str, min_karma: int | None, tags: tuple[str, ...],
                clear: bool) -> None:
    """Change a forum source's filters: its karma minimum and the tags a post needs one of."""
    try:
        src = sources_repo.set_filters(app.store, ref, min_karma=min_karma, tags=list(tags),
                                       clear=clear)
    except sources_repo.SourceError as exc:
        raise KbError(str(exc)) from exc
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
@click.argument("ref")
@pass_app
def sources_remove(app: App, ref: str) -> None:
    """Stop tracking a source (by name, id or URL). Its posts stay in the archive."""
    try:
        src = sources_repo.remove_source(app.store, ref)
    except sources_repo.SourceError as exc:
        raise KbError(str(exc)) from exc
    console.print(f"removed {src.name} ({src.url}); its posts stay in the archive", markup=False)


@sources.command("import-opml")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_app
def sources_import_opml(app: App, file: Path) -> None:
    """Add every feed of an OPML file (already tracked ones are skipped)."""
    from kb.opml import OpmlError, parse_opml

    sources_repo.ensure_default_sources(app.store)
    try:
        entries = parse_opml(file.read_bytes(), where=str(file))
    except OpmlError as exc:
        raise KbError(str(exc)) from exc
    added = skipped = 0
    for title, url, kind in entries:
        try:
            sources_repo.add_source(app.store, url, name=title or None,
                                    kind="page" if kind == "page" else
                                    "forum" if sources_repo.looks_like_forum(url) else "feed")
            added += 1
        except sources_repo.SourceError:
            skipped += 1
    console.print(f"{added} added, {skipped} already tracked", markup=False)


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
