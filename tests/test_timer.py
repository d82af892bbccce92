"""The crontab line and systemd units `kb daily --print-timer` prints: cron must be able to
mail failures, so the job's output is not thrown away and `kb daily` is told to be quiet
unless something failed."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from click.testing import CliRunner

from digest.timer import cron_line, systemd_units


def _daily_options() -> set[str]:
    from kb.cli.digest_cmds import daily

    return {opt for p in daily.params for opt in p.opts}


def test_cron_line_lets_cron_mail_failures(settings):
    text = cron_line(settings, hour=6, minute=5)
    lines = text.splitlines()
    comments = [x for x in lines if x.startswith("#")]
    jobs = [x for x in lines if x and not x.startswith("#")]
    assert len(jobs) == 1
    job = jobs[0]
    assert job.startswith("5 6 * * * ")
    assert ">" not in job and "/dev/null" not in job and "2>&1" not in job  # output reaches cron
    argv = shlex.split(job.split(None, 5)[5])
    assert argv[0] == f"KB_HOME={settings.home.resolve()}"
    assert argv[-3:] == ["daily", "--no-progress", "--quiet"]
    assert {"--no-progress", "--quiet"} <= _daily_options()  # flags `kb daily` really has
    said = " ".join(comments).lower()
    assert "mail" in said and "fail" in said  # the comment says why there is no redirection
    assert str(settings.logs_dir) in said


def test_systemd_service_runs_quiet(settings):
    text = systemd_units(settings)
    exec_start = [x for x in text.splitlines() if x.startswith("ExecStart=")]
    assert len(exec_start) == 1
    assert exec_start[0].endswith(" daily --no-progress --quiet")
    assert f"Environment=KB_HOME={settings.home.resolve()}" in text
    assert "SuccessExitStatus=75" in text and "OnCalendar=*-*-* 07:15:00" in text


def test_print_timer_cron_through_the_cli(settings):
    from kb.cli import cli

    r = CliRunner().invoke(cli, ["daily", "--print-timer", "cron"])
    assert r.exit_code == 0, r.output
    job = [x for x in r.output.splitlines() if x and not x.startswith("#")][0]
    exe = Path(sys.executable).parent / "kb"
    assert f"{exe} daily --no-progress --quiet" in job
    assert job.endswith("--quiet")
