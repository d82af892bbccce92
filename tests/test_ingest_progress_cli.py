"""`kb ingest --no-progress`: no progress bar even on a terminal; the output is otherwise the
same."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from kb.cli import app as cli_app
from kb.cli import cli
from kb.settings import ensure_home, load_settings
from kb.store import Store
from kb.store import sources as sources_repo

FIX = Path(__file__).parent / "fixtures" / "ingest"
BAR = "━"  # Rich's bar glyph


def _home(tmp_path: Path, name: str, monkeypatch) -> None:
    monkeypatch.setenv("KB_HOME", str(tmp_path / name))
    settings = load_settings()
    ensure_home(settings)
    store = Store(settings.db_path)
    sources_repo.ensure_default_sources(store)
    for src in sources_repo.list_sources(store):
        sources_repo.remove_source(store, src.name)
    sources_repo.add_source(store, (FIX / "lw_feed.xml").as_uri(), name="lw", kind="feed")
    sources_repo.add_source(store, (FIX / "af_feed.xml").as_uri(), name="af", kind="feed")
    store.close()


def test_no_progress_hides_the_bar_on_a_terminal(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(cli_app.err_console, "_force_terminal", True)
    _home(tmp_path, "with-bar", monkeypatch)
    shown = CliRunner().invoke(cli, ["ingest", "--no-index"])
    assert shown.exit_code == 0, shown.output
    assert BAR in shown.stderr  # the control: on a terminal the bar is drawn

    _home(tmp_path, "no-bar", monkeypatch)
    quiet = CliRunner().invoke(cli, ["ingest", "--no-index", "--no-progress"])
    assert quiet.exit_code == 0, quiet.output
    assert BAR not in quiet.stderr and "lw" not in quiet.stderr
    assert re.fullmatch(r"[1-9]\d* new, 0 updated, \d+ unchanged, 0 errors\n", quiet.stdout)
    assert quiet.stdout == shown.stdout  # the summary line is the same
