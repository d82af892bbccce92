"""Registers every command group.  Each module owns one area of the CLI."""

from __future__ import annotations

import importlib

import click

# module name -> attribute names of the click commands/groups it defines
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "kb.cli.core_cmds": ("config", "stats", "posts", "sources"),
    "kb.cli.ingest_cmds": ("ingest", "import_"),
    "kb.cli.index_cmds": ("index", "reindex", "search", "eval_"),
    "kb.cli.models_cmds": ("models",),
    "kb.cli.digest_cmds": ("summarize", "digest", "daily"),
    "kb.cli.ask_cmds": ("ask",),
    "kb.cli.tui_cmds": ("tui",),
}


def register(cli: click.Group) -> None:
    for module_name, names in COMMAND_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # that part of the CLI is not built yet
            raise
        for name in names:
            cmd = getattr(module, name, None)
            if isinstance(cmd, click.Command):
                cli.add_command(cmd)
