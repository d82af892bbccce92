"""The `kb` command line: the face of kb.

This package is the only part of ``kb`` that imports ``ingest``, ``digest`` or ``tui``, and it
does so lazily inside each command, so `kb --help` and `kb stats` start fast.

Exit codes (documented in the README): 0 success; 1 error; 2 usage error; 3 finished with
some failures (e.g. a source or a summary failed; see the message); 75 another `kb daily`
holds the lock.
"""

from __future__ import annotations

import sys

import click

from kb.cli.app import App, KbError, SectionedGroup, console, err_console, run_cli  # noqa: F401
from kb.cli.commands import register


@click.group(cls=SectionedGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="kb", prog_name="kb")
@click.option("--home", type=click.Path(file_okay=False), envvar=None,
              help="Use this directory instead of $KB_HOME.")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """kb — an offline knowledge base and daily digest for AI-alignment research."""
    ctx.obj = App(home=home)
    ctx.call_on_close(ctx.obj.close)


register(cli)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run_cli(cli, argv))
