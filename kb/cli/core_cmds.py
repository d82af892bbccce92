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
    """Manage the feeds and pages kb fetches."""


@sources.command("add")
@click.argument("url")
@click.option("--name", help="A short name (default: from the host).")
@click.option("--kind", type=click.Choice(["feed", "page"]), default=None,
              help="feed (RSS/Atom) or page (a feedless page to watch for edits).")
@pass_app
def sources_add(app: App, url: str, name: str | None, kind: str | None) -> None:
    """Track a feed or a page (URL, file:// URL or local path)."""
    sources_repo.ensure_default_sources(app.store)
    try:
        src = sources_repo.add_source(app.store, url, name=name, kind=kind)  # type: ignore[arg-type]
    except sources_repo.SourceError as exc:
        raise KbError(str(exc)) from exc
    console.print(f"added {src.kind} source {src.name}: {src.url}", markup=False)


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def sources_list(app: App, as_json: bool) -> None:
    """Sources with their last fetch status and error."""
    sources_repo.ensure_default_sources(app.store)
    items = sources_repo.list_sources(app.store)
    if as_json:
        emit_json([s.to_json() for s in items])
        return
    table = Table()
    for col in ("name", "kind", "url", "last fetch", "status", "error"):
        table.add_column(col, overflow="fold")
    for s in items:
        table.add_row(s.name, s.kind, s.url, s.last_fetched_at or "never", s.last_status or "",
                      s.last_error or "")
    console.print(table, markup=False)


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
                                    kind="page" if kind == "page" else "feed")
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
