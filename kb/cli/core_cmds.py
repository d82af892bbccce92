"""`kb config`, `kb stats` (`kb posts` is in posts_cmds.py, `kb sources` in sources_cmds.py)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.table import Table

from kb.cli.app import App, KbError, console, emit_json, err_console
from kb.store import posts as posts_repo

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
