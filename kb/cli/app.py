"""Shared state of a CLI invocation: the runtime, consoles and error handling."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import click
from rich.console import Console

from kb.embed.base import EmbedderError
from kb.index.vector import VectorIndexError
from kb.models.base import LLMError
from kb.runtime import Runtime
from kb.settings import Settings, SettingsError, load_settings
from kb.store.db import Store, StoreError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_LOCKED = 0, 1, 2, 3, 75


class KbError(click.ClickException):
    """A user-facing failure: printed as one clear message, exit code ``code``."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]

    def show(self, file: IO[Any] | None = None) -> None:
        err_console.print("error: " + self.message, style="red", markup=False, highlight=False)


class App:
    """The runtime of one command, built on first use (so `kb --help` builds nothing)."""

    def __init__(self, home: str | None = None) -> None:
        self._home = home
        self._runtime: Runtime | None = None

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            try:
                settings = load_settings(home=self._home)
            except SettingsError as exc:
                raise KbError(str(exc), EXIT_USAGE) from exc
            self._runtime = Runtime(settings)
        return self._runtime

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    def adjust_settings(self, adjust: Callable[[Settings], Settings]) -> Runtime:
        """Rebuild the runtime with ``adjust(settings)`` (e.g. `kb ask -m MODEL` choosing the
        chat model for one call).  Call it before the command uses any backend: whatever the
        old runtime had built is closed."""
        old = self.runtime
        new = adjust(old.settings)
        if new is not old.settings:
            old.close()
            self._runtime = Runtime(new)
        return self.runtime

    @property
    def store(self) -> Store:
        try:
            return self.runtime.store
        except StoreError as exc:
            raise KbError(str(exc)) from exc

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


class SectionedGroup(click.Group):
    """A group whose `--help` lists its commands in named sections (``sections``: title ->
    command names, in order).  A command no section names is listed under "Other commands",
    so none can go missing from the help."""

    sections: dict[str, tuple[str, ...]] = {}

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        shown: dict[str, click.Command] = {}
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                shown[name] = cmd
        if not shown:
            return
        pad = max(len(n) for n in shown)  # one column for every section
        width = formatter.width - 6 - pad
        placed: set[str] = set()
        groups: list[tuple[str, list[str]]] = []
        for title, names in self.sections.items():
            members = [n for n in names if n in shown and n not in placed]
            placed.update(members)
            groups.append((title, members))
        groups.append(("Other commands", [n for n in shown if n not in placed]))
        for title, members in groups:
            if members:
                with formatter.section(title):
                    formatter.write_dl([(n.ljust(pad), shown[n].get_short_help_str(width))
                                        for n in members])


BACKEND_ERRORS: tuple[type[Exception], ...] = (EmbedderError, VectorIndexError, LLMError,
                                               StoreError)


@contextmanager
def backend_errors(code: int = 1) -> Iterator[None]:
    """A backend that cannot be built or used (embedder, index, model, store) ends the command
    with its one-sentence message instead of a traceback."""
    try:
        yield
    except BACKEND_ERRORS as exc:
        raise KbError(str(exc), code) from exc


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


def emit_json(data: object) -> None:
    """Print JSON to stdout (no Rich markup or wrapping)."""
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    sys.stdout.flush()
