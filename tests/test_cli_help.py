"""`kb --help` lists every command once, in its section (reading, archive, models, setup)."""

from __future__ import annotations

import re

import click
from click.testing import CliRunner

from kb.cli import cli
from kb.cli.app import SectionedGroup
from kb.cli.commands import SECTIONS

TITLES = ["Reading", "Archive", "Models", "Setup"]


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if re.fullmatch(r"[A-Z][\w ]*:", line):
            current = line[:-1]
            out[current] = []
        elif current and (m := re.match(r"  (\S+)\s", line)):
            out[current].append(m.group(1))
    return out


def test_help_groups_every_command_in_exactly_one_section():
    r = CliRunner().invoke(cli, ["--help"])
    assert r.exit_code == 0, r.output
    sections = _sections(r.stdout)
    assert [t for t in sections if t != "Options"] == TITLES  # no "Other commands"
    listed = [name for title, names in sections.items() if title != "Options" for name in names]
    assert sorted(listed) == sorted(cli.commands)  # every command, none twice
    assert len(listed) == len(set(listed))
    assert {"ask", "digest", "search", "posts"} <= set(sections["Reading"])
    assert {"ingest", "sources", "backfill"} <= set(sections["Archive"])
    assert "models" in sections["Models"]
    assert {"config", "completion"} <= set(sections["Setup"])
    assert "Commands:" not in r.stdout


def test_sections_name_each_registered_command_once():
    named = [c.name for cmds in SECTIONS.values() for c in cmds]
    assert len(named) == len(set(named)) and set(named) == set(cli.commands)


def test_a_command_no_section_names_is_still_listed():
    @click.group(cls=SectionedGroup)
    def g() -> None:
        """A group."""

    @g.command()
    def one() -> None:
        """First."""

    @g.command()
    def stray() -> None:
        """Not in a section."""

    g.sections = {"Main": ("one",)}
    out = CliRunner().invoke(g, ["--help"]).stdout
    assert _sections(out)["Main"] == ["one"] and _sections(out)["Other commands"] == ["stray"]
