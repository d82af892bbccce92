"""Shared state of a CLI invocation: settings, store, consoles and error handling."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from kb.settings import Settings, SettingsError, ensure_home, load_settings
from kb.store.db import Store, StoreError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_LOCKED = 0, 1, 2, 3, 75


class KbError(click.ClickException):
    """A user-facing failure: printed as one clear message, exit code ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        err_console.print("error: " + self.message, style="red", markup=False, highlight=False)


class App:
    """Lazily built settings and store for one command."""

    def __init__(self, home: str | None = None) -> None:
        self._home = home
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(home=self._home)
            except SettingsError as exc:
                raise KbError(str(exc), EXIT_USAGE) from exc
        return self._settings

    @property
    def store(self) -> Store:
        if self._store is None:
            ensure_home(self.settings)
            try:
                self._store = Store(self.settings.db_path)
            except StoreError as exc:
                raise KbError(str(exc)) from exc
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def run_cli(cli: click.Group, argv: list[str] | None) -> int:
    try:
        rv = cli.main(args=argv, prog_name="kb", standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted", style="red")
        return 130
    except KeyboardInterrupt:
        err_console.print("interrupted: everything stored so far is kept; run the command again "
                          "to continue", style="red")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except BrokenPipeError:
        return 0
    return rv if isinstance(rv, int) else 0


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f, *range(0x80, 0xa0))
            if chr(c) not in "\n\t"}


def inert(text: str) -> str:
    """Text from feeds and pages made safe for a terminal: control characters (ANSI escapes,
    bells, carriage returns) are shown as visible ``\\xNN`` instead of acting.  Print it with
    ``markup=False`` so Rich markup stays literal too."""
    return text.translate(_CONTROL)


def emit_json(data: Any) -> None:
    """Print JSON to stdout (no Rich markup or wrapping)."""
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()
