"""`kb completion bash|zsh|fish` and the completion of source names and digest dates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner

from digest.repo import save_digest
from kb.cli import cli
from kb.cli.complete import complete_digest_dates, complete_sources
from kb.cli.completion_cmds import completion_script
from kb.settings import ensure_home, load_settings
from kb.store import Store
from kb.store import sources as sources_repo

REPO = Path(__file__).resolve().parent.parent


def _archive(home: Path | None = None) -> None:
    settings = load_settings(home=home)
    ensure_home(settings)
    store = Store(settings.db_path)
    sources_repo.add_source(store, "https://lw.example/feed.xml", name="lw-feed", kind="feed")
    sources_repo.add_source(store, "https://lilian.example/index.xml", name="lilian",
                            kind="feed")
    for day, complete in (("2025-03-10", True), ("2025-03-12", False), ("2024-12-31", True)):
        save_digest(store, day, {"themes": []}, "# d", "m", "h", complete)
    store.close()


def _values(items) -> list[str]:
    return [i.value for i in items]


def _ctx() -> click.Context:
    ctx = click.Context(cli, info_name="kb")
    ctx.params = {"home": None}
    return ctx


@pytest.mark.parametrize("shell, marker", [
    ("bash", "_KB_COMPLETE=bash_complete"),
    ("zsh", "#compdef kb"),
    ("fish", "complete --no-files --command kb"),
])
def test_completion_prints_clicks_script_for_each_shell(shell, marker):
    r = CliRunner().invoke(cli, ["completion", shell])
    assert r.exit_code == 0, r.output
    assert marker in r.stdout and "_KB_COMPLETE" in r.stdout
    assert r.stdout == completion_script(cli, shell)


def test_completion_script_is_what_the_env_var_gives():
    env = {**os.environ, "_KB_COMPLETE": "bash_source"}
    proc = subprocess.run([sys.executable, "-m", "kb.cli.__main__"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == CliRunner().invoke(cli, ["completion", "bash"]).stdout


def test_unknown_shell_is_a_usage_error():
    r = CliRunner().invoke(cli, ["completion", "tcsh"])
    assert r.exit_code == 2 and "tcsh" in r.stderr


def test_callbacks_read_source_names_and_digest_dates():
    _archive()
    names = _values(complete_sources(_ctx(), None, ""))  # type: ignore[arg-type]
    assert {"lw-feed", "lilian"} <= set(names)
    assert _values(complete_sources(_ctx(), None, "li")) == ["lilian"]  # type: ignore[arg-type]
    items = complete_digest_dates(_ctx(), None, "")  # type: ignore[arg-type]
    assert _values(items) == ["2025-03-12", "2025-03-10", "2024-12-31"]  # newest first
    assert items[0].help == "pending" and items[1].help is None
    assert _values(complete_digest_dates(_ctx(), None, "2025-03-1")) == [  # type: ignore[arg-type]
        "2025-03-12", "2025-03-10"]


def test_callbacks_complete_nothing_without_an_archive(kb_home: Path):
    assert complete_sources(_ctx(), None, "") == []  # type: ignore[arg-type]
    assert complete_digest_dates(_ctx(), None, "") == []  # type: ignore[arg-type]
    assert not (kb_home / "kb.sqlite3").exists()  # completing created nothing


@pytest.mark.parametrize("args, incomplete, expected", [
    (["sources", "remove"], "lw", ["lw-feed"]),
    (["sources", "set"], "lil", ["lilian"]),
    (["ingest", "--source"], "lw", ["lw-feed"]),
    (["search", "x", "--source"], "li", ["lilian"]),
    (["ask", "--source"], "lw", ["lw-feed"]),
    (["backfill", "--source"], "li", ["lilian"]),
    (["posts", "list", "--source"], "lw", ["lw-feed"]),
    (["digest", "show"], "2025", ["2025-03-12", "2025-03-10"]),
    (["digest", "--date"], "2024", ["2024-12-31"]),
])
def test_commands_complete_sources_and_dates(args, incomplete, expected):
    _archive()
    comp = ShellComplete(cli, {}, "kb", "_KB_COMPLETE")
    assert _values(comp.get_completions(args, incomplete)) == expected


def test_completion_through_the_shell_protocol_honours_home(tmp_path: Path):
    other = tmp_path / "other-home"
    _archive(home=other)
    env = {**os.environ, "_KB_COMPLETE": "bash_complete",
           "COMP_WORDS": f"kb --home {other} digest show 2025-03", "COMP_CWORD": "5"}
    proc = subprocess.run([sys.executable, "-m", "kb.cli.__main__"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["plain,2025-03-12", "plain,2025-03-10"]
