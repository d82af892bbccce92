"""Every command group of the CLI, registered explicitly.  Each module owns one area; they
import only click, rich and the light parts of kb at module level (see
tests/test_architecture.py), so `kb --help` stays fast."""

from __future__ import annotations

import click

from kb.cli import (
    ask_cmds,
    backfill_cmds,
    check_cmds,
    core_cmds,
    digest_cmds,
    index_cmds,
    ingest_cmds,
    models_cmds,
    tui_cmds,
)

COMMANDS: tuple[click.Command, ...] = (
    core_cmds.config, core_cmds.stats, core_cmds.posts, core_cmds.sources,
    ingest_cmds.ingest, ingest_cmds.import_, backfill_cmds.backfill,
    index_cmds.index, index_cmds.reindex, index_cmds.search, index_cmds.eval_,
    models_cmds.models,
    digest_cmds.summarize, digest_cmds.digest, digest_cmds.daily,
    ask_cmds.ask, check_cmds.check,
    tui_cmds.tui,
)


def register(cli: click.Group) -> None:
    for cmd in COMMANDS:
        cli.add_command(cmd)
