"""The CLI's progress bars: rates only once they mean something."""

from __future__ import annotations

import io

from rich.console import Console

from kb.cli.progress import MIN_RATE_SECONDS, progress_bars, rate_text
from kb.progress import Progress


def test_no_rate_before_a_second_has_passed():
    assert rate_text(8, 0.00006, 131928.6, "posts") == ""
    assert rate_text(8, None, None, "posts") == ""
    assert rate_text(0, 0.0, None, "posts") == ""


def test_rate_once_the_task_has_run_a_while():
    assert rate_text(30, 2.0, None, "chunks") == "15.0 chunks/s"
    assert rate_text(30, 2.0, 16.25, "chunks") == "16.2 chunks/s"  # rich's own speed first
    assert rate_text(3, MIN_RATE_SECONDS, None, "sources") == "3.0 sources/s"
    # a finished task: its average, not the speed of its last burst
    assert rate_text(8, 1.2, 41.3, "sources", finished=True) == "6.7 sources/s"


def test_instant_task_shows_its_count_and_no_absurd_rate(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr("kb.cli.app.err_console", Console(file=out, width=120))
    with progress_bars() as on_progress:
        on_progress(Progress("summarizing", 0, 8, "posts"))
        on_progress(Progress("summarizing", 8, 8, "posts", "[bold]a post[/bold]"))
    text = out.getvalue()
    assert "summarizing" in text and "8/8" in text
    assert "posts/s" not in text
    assert "[bold]a post[/bold]" in text  # a feed's text is shown as text, not as markup
