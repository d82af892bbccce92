"""Crontab line and systemd user units for `kb daily`, filled in with this install's paths."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from kb.settings import Settings


def kb_executable() -> str:
    """The `kb` console script of this environment (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "kb"
    if beside.exists():
        return str(beside)
    found = shutil.which("kb")
    return found or f"{sys.executable} -m kb.cli"


def cron_line(settings: Settings, *, hour: int = 7, minute: int = 15) -> str:
    """A crontab line for `kb daily`.  No redirection: cron mails a job's output, and with
    ``--quiet`` kb daily prints only on failure, so the mail is the failure report."""
    home = shlex.quote(str(settings.home.resolve()))
    exe = kb_executable()
    return (f"# kb: daily digest at {hour:02d}:{minute:02d}; logs in {settings.logs_dir}\n"
            f"# cron mails whatever a job prints (to $MAILTO, else you); with --quiet kb daily\n"
            f"# prints only when it fails, so a mail means something needs a look\n"
            f"{minute} {hour} * * * KB_HOME={home} {exe} daily --no-progress --quiet\n")


def systemd_units(settings: Settings, *, hour: int = 7, minute: int = 15) -> str:
    home = settings.home.resolve()
    exe = kb_executable()
    return f"""\
# ~/.config/systemd/user/kb-daily.service
[Unit]
Description=kb daily: ingest, index, summarize and write the AI-alignment digest
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
Environment=KB_HOME={home}
# --quiet: the journal gets output only from a run that failed (every run logs to
# {settings.logs_dir})
ExecStart={exe} daily --no-progress --quiet
# 75 = another run holds the lock; 3 = finished with some failures (see {settings.logs_dir})
SuccessExitStatus=75
Nice=10

# ~/.config/systemd/user/kb-daily.timer
[Unit]
Description=Run kb daily every morning

[Timer]
OnCalendar=*-*-* {hour:02d}:{minute:02d}:00
Persistent=true
RandomizedDelaySec=10min

[Install]
WantedBy=timers.target

# Install with:
#   systemctl --user daemon-reload && systemctl --user enable --now kb-daily.timer
#   loginctl enable-linger $USER   # so it also runs when you are not logged in
"""


def timer_text(settings: Settings, kind: str) -> str:
    if kind == "cron":
        return cron_line(settings)
    if kind == "systemd":
        return systemd_units(settings)
    raise ValueError(f"unknown timer kind {kind!r} (systemd or cron)")
