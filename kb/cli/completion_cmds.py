"""`kb completion bash|zsh|fish`: print click's shell-completion script for kb.

The script calls kb back with ``_KB_COMPLETE`` set on every <Tab>; besides commands and
options it completes source names (``--source``, `kb sources remove|set`) and the dates of
stored digests (`kb digest show`, ``--date``), see kb/cli/complete.py."""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_KB_COMPLETE"

INSTALL = {
    "bash": 'eval "$(kb completion bash)"   # in ~/.bashrc',
    "zsh": 'eval "$(kb completion zsh)"    # in ~/.zshrc, after compinit',
    "fish": "kb completion fish > ~/.config/fish/completions/kb.fish",
}


def completion_script(cli: click.Command, shell: str) -> str:
    """The script `kb completion SHELL` prints (what ``_KB_COMPLETE=SHELL_source kb`` gives)."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - SHELLS are all built into click
        raise click.UsageError(f"no completion for {shell}")
    return cls(cli, {}, "kb", COMPLETE_VAR).source()


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the shell-completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(kb completion bash)"     (in ~/.bashrc)
    zsh:   eval "$(kb completion zsh)"      (in ~/.zshrc, after compinit)
    fish:  kb completion fish > ~/.config/fish/completions/kb.fish

    It completes commands, options, source names and the dates of stored digests."""
    click.echo(completion_script(ctx.find_root().command, shell), nl=False)
