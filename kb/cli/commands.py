"""Every command group of the CLI, registered explicitly.  Each module owns one area; they
import only click, rich and the light parts of kb at module level (see
tests/test_architecture.py), so `kb --help` stays fast."""

from __future__ import annotations

import click

from kb.cli import (
    ask_cmds,
    backfill_cmds,
    check_cmds,
    completion_cmds,
    core_cmds,
    digest_cmds,
    index_cmds,
    ingest_cmds,
    models_cmds,
    posts_cmds,
    sources_cmds,
    tui_cmds,
)
from kb.cli.app import SectionedGroup

# `kb --help` lists the commands in these sections, in this order (each command in one).
SECTIONS: dict[str, tuple[click.Command, ...]] = {
    "Reading": (
        digest_cmds.digest, digest_cmds.daily, ask_cmds.ask, index_cmds.search,
        check_cmds.check, posts_cmds.posts, tui_cmds.tui,
    ),
    "Archive": (
        ingest_cmds.ingest, ingest_cmds.import_, backfill_cmds.backfill, sources_cmds.sources,
        index_cmds.index, index_cmds.reindex, digest_cmds.summarize, core_cmds.stats,
    ),
    "Models": (models_cmds.models, index_cmds.eval_),
    "Setup": (core_cmds.config, completion_cmds.completion),
}

COMMANDS: tuple[click.Command, ...] = tuple(c for cmds in SECTIONS.values() for c in cmds)


def register(cli: click.Group) -> None:
    for cmd in COMMANDS:
        cli.add_command(cmd)
    if isinstance(cli, SectionedGroup):
        cli.sections = {title: tuple(c.name or "" for c in cmds)
                        for title, cmds in SECTIONS.items()}
