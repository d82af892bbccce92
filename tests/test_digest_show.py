"""`kb digest show` (latest / today / yesterday / a date; pager on a terminal, raw Markdown
when piped) and `kb digest list --json`, on digests stored directly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from digest.days import today
from digest.repo import save_digest
from kb.cli import cli


def _store_digest(store, day: str, *, posts: int = 2, themes: int = 1, muted: int = 0,
                  hostile: str = "") -> str:
    md = (f"# AI Alignment Daily Digest - {day}\n\n## Themes\n\n**Bold theme** for {day}{hostile}.\n\n"
          "- a [link](https://example.org/x)\n")
    data = {"date": day, "posts": [{"n": i} for i in range(posts)],
            "themes": [{"title": f"t{i}"} for i in range(themes)], "muted": muted}
    save_digest(store, day, data, md, "fake-model", "hash", True)
    return md


def run(*args: str, code: int = 0):
    r = CliRunner().invoke(cli, list(args))
    assert r.exit_code == code, (r.output, r.exception)
    return r


def test_show_without_a_day_is_the_latest_and_piped_output_is_raw(store):
    _store_digest(store, "2025-03-19")
    latest = _store_digest(store, "2025-03-21")
    _store_digest(store, "2025-03-20")
    assert run("digest", "show").output == latest
    assert run("digest", "show", "2025-03-19").output.startswith(
        "# AI Alignment Daily Digest - 2025-03-19")
    assert json.loads(run("digest", "show", "--format", "json").output)["date"] == "2025-03-21"


def test_today_and_yesterday_are_in_the_digest_timezone(store, settings):
    now = today(settings.digest.timezone)
    for word, day in (("today", now), ("yesterday", now - timedelta(days=1)),
                      ("Yesterday", now - timedelta(days=1))):
        md = _store_digest(store, day.isoformat())
        assert run("digest", "show", word).output == md
    r = run("digest", "show", "tomorrow", code=2)
    assert "'tomorrow' is not a date" in r.output


def test_missing_digests_are_clear_errors(store):
    assert "no digest stored yet" in run("digest", "show", code=1).output
    assert "no digest for 2001-01-01" in run("digest", "show", "2001-01-01", code=1).output


def test_on_a_terminal_markdown_is_rendered_through_the_pager(store, monkeypatch):
    _store_digest(store, "2025-03-21", hostile="\x1b[2J")
    shown: list[str] = []
    monkeypatch.setattr("kb.cli.digest_cmds._stdout_is_terminal", lambda: True)
    monkeypatch.setattr("rich.pager.SystemPager._pager", lambda self, content: shown.append(content))
    r = run("digest", "show")
    assert r.output == "" and len(shown) == 1
    page = shown[0]
    # rendered, not raw: no Markdown markers, the heading and bold text are there
    assert "AI Alignment Daily Digest - 2025-03-21" in page and "# AI" not in page
    assert "Bold theme" in page and "**" not in page
    assert "https://example.org/x" in page and "](" not in page  # links show their URL
    assert "\x1b[2J" not in page  # a feed's terminal escape is shown inert, never acted on
    shown.clear()
    r = run("digest", "show", "--no-pager")
    assert not shown and "Bold theme" in r.output and "**" not in r.output


def test_list_json(store, settings):
    _store_digest(store, "2025-03-20", posts=3, themes=2, muted=4)
    _store_digest(store, "2025-03-21", posts=1, themes=0)
    rows = json.loads(run("digest", "list", "--json").output)
    assert [(r["date"], r["posts"], r["themes"], r["muted"]) for r in rows] == [
        ("2025-03-21", 1, 0, 0), ("2025-03-20", 3, 2, 4)]
    assert rows[0]["path"] == str(settings.digests_dir / "2025-03-21.md")
    assert rows[0]["complete"] is True and rows[0]["model"] == "fake-model"


@pytest.mark.parametrize("bad", ["2025-13-01", "03/20/2025"])
def test_bad_dates(store, bad):
    assert "is not a date" in run("digest", "show", bad, code=2).output
