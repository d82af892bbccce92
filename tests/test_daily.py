"""`kb daily`: the whole pipeline over the bundled demo feeds, the lock, resumability, timers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from digest_fakes import add_post, fake_llm, pid

from digest.daily import LAST_SUCCESS_KEY, days_to_build
from digest.repo import get_digest, save_digest
from kb.models.base import ModelUnavailable
from kb.models.fake import FakeLLM
from kb.store.db import kv_get, kv_set

REPO = Path(__file__).resolve().parent.parent
KB = [sys.executable, "-m", "kb.cli.__main__"]
DEMO_DAYS = ("2025-03-20", "2025-03-21")


def no_default_sources(store) -> None:
    kv_set(store, "default_sources_added", "test")  # keep the test off the network


@pytest.fixture
def run_kb(store, monkeypatch):
    monkeypatch.setenv("KB_LLM_BACKEND", "fake")
    from kb.cli import cli

    def run(*args: str, llm=None):
        monkeypatch.setattr("kb.models.factory.build_llm", lambda s: (llm or fake_llm(), None))
        return CliRunner().invoke(cli, list(args))

    return run


@pytest.mark.model
def test_daily_demo_twice_second_run_makes_no_model_call(store, settings, run_kb):
    no_default_sources(store)
    r = run_kb("daily", "--demo", "--no-progress")
    assert r.exit_code == 0, r.output
    files = {d: settings.digests_dir / f"{d}.md" for d in DEMO_DAYS}
    assert all(f.exists() for f in files.values()), r.output
    for f in files.values():
        assert str(f) in r.output  # the demo says where the results are
    assert "kb tui" in r.output and "digest show" in r.output
    assert "kb daily: ingested 8 new" in r.output
    first = {d: f.read_bytes() for d, f in files.items()}
    md20 = first["2025-03-20"].decode()
    # the crosspost is one post with its AF link; the off-topic post is not in a theme
    assert md20.count("posts/kbDemoRwdHack0001/") == 2  # Key Posts + Individual summary
    assert "https://www.lesswrong.com/posts/kbDemoRwdHack0001" not in md20
    assert "sourdough" in md20.split("## Also Published")[1].lower()
    assert "sourdough" not in md20.split("## Also Published")[0].lower()
    logs = list((settings.logs_dir).glob("daily-*.log"))
    assert len(logs) == 1 and "kb daily: ingested" in logs[0].read_text()

    llm = fake_llm()
    r2 = run_kb("daily", "--demo", "--json", "--no-progress", llm=llm)
    assert r2.exit_code == 0, r2.output
    report = json.loads(r2.output[r2.output.index("{"):])
    assert report["model_calls"] == 0 and llm.calls == []
    assert report["new"] == 0 and report["summarized"] == 0
    assert {d["status"] for d in report["digests"]} == {"unchanged"}
    assert {d: f.read_bytes() for d, f in files.items()} == first


@pytest.mark.model
def test_daily_resumes_after_a_failed_or_killed_run(store, settings, run_kb):
    no_default_sources(store)
    settings.lock_path.parent.mkdir(parents=True, exist_ok=True)
    settings.lock_path.write_text("999999\n")  # a lock file left by a killed run: not held

    def down(messages):
        raise ModelUnavailable("Ollama is not running at http://127.0.0.1:11434")

    r = run_kb("daily", "--demo", "--no-progress", llm=FakeLLM(down))
    assert "pending" in r.output
    d = get_digest(store, "2025-03-21")
    assert d is not None and not d.complete  # posts listed as pending, no themes
    r = run_kb("daily", "--demo", "--json", "--no-progress")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output[r.output.index("{"):])
    assert report["summarized"] == 8 and report["pending"] == 0
    assert {x["status"] for x in report["digests"]} == {"written"}
    assert get_digest(store, "2025-03-21").complete


def test_daily_without_demo_exits_3_when_a_source_fails(store, settings, run_kb, tmp_path):
    no_default_sources(store)
    from kb.store.sources import add_source

    add_source(store, str(tmp_path / "missing-feed.xml"), name="broken-local")
    r = run_kb("daily", "--no-progress")
    assert r.exit_code == 3, r.output
    assert "broken-local" in r.output and "kb daily:" in r.output


def test_days_to_build_backfills_missed_days(store):
    for i, day in enumerate(["2025-03-17", "2025-03-18", "2025-03-19", "2025-03-20"], 1):
        add_post(store, pid(i), f"Post {i} on oversight", f"{day}T10:00:00Z")
    now = date(2025, 3, 20)
    assert days_to_build(store, "UTC", now) == [date(2025, 3, 19), now]  # first run: 2 days
    kv_set(store, LAST_SUCCESS_KEY, "2025-03-17")
    save_digest(store, "2025-03-18", {}, "", "m", "h", True)
    save_digest(store, "2025-03-20", {}, "", "m", "h", True)
    # missed days without a complete digest, plus today always
    assert days_to_build(store, "UTC", now) == [date(2025, 3, 17), date(2025, 3, 19), now]


def test_second_concurrent_run_exits_75_at_once_naming_the_pid(settings):
    settings.home.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from digest.daily import daily_lock\n"
         "with daily_lock(Path(sys.argv[1])):\n"
         "    print('locked', flush=True); time.sleep(60)\n", str(settings.lock_path)],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        proc = subprocess.run([*KB, "daily", "--no-progress"], capture_output=True, text=True,
                              env=os.environ.copy(), timeout=60, cwd=REPO)
        elapsed = time.monotonic() - t0
        assert proc.returncode == 75, proc.stderr
        assert f"PID {holder.pid}" in proc.stderr and str(settings.lock_path) in proc.stderr
        assert elapsed < 30  # it did not wait for the lock (generous: a loaded CI machine)
        assert not (settings.home / "kb.sqlite3").exists() or "kb daily:" not in proc.stdout
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=10)


def test_print_timer_cron_and_systemd(settings, store, run_kb, monkeypatch):
    import digest.jobs

    runs: list[object] = []
    real_run_daily = digest.jobs.run_daily

    def recording_run_daily(*args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(args)
        return real_run_daily(*args, **kwargs)

    monkeypatch.setattr(digest.jobs, "run_daily", recording_run_daily)

    def traces():  # what a `kb daily` run leaves behind
        return (sorted(settings.logs_dir.glob("daily-*.log")), settings.lock_path.exists(),
                kv_get(store, LAST_SUCCESS_KEY))

    r = run_kb("daily", "--print-timer", "cron")
    assert r.exit_code == 0
    line = [x for x in r.output.splitlines() if not x.startswith("#")][0]
    exe = str(Path(sys.executable).parent / "kb")
    assert line.startswith("15 7 * * * ") and f"KB_HOME={settings.home.resolve()}" in line
    assert f"{exe} daily" in line
    r = run_kb("daily", "--print-timer", "systemd")
    out = r.output
    for part in ("[Service]", "Type=oneshot", f"Environment=KB_HOME={settings.home.resolve()}",
                 f"ExecStart={exe} daily", "[Timer]", "OnCalendar=*-*-* 07:15:00",
                 "Persistent=true", "systemctl --user enable --now kb-daily.timer"):
        assert part in out, part
    # printing runs nothing: the job is never called; no run log, no lock, no last-success mark
    assert runs == []
    assert traces() == ([], False, None)
    # the same checks see a real run (with nothing to fetch), so they can fail
    no_default_sources(store)
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    r = run_kb("daily", "--no-progress")
    assert r.exit_code == 0, r.output
    logs, locked, last_success = traces()
    assert len(runs) == 1 and len(logs) == 1 and locked and last_success is not None


@pytest.mark.model
def test_make_demo_offline_as_a_subprocess(tmp_path):
    """What `make demo` runs, as a subprocess with no network at all (the offline guard): the
    default sources fail with clear errors and the demo feeds still produce digests.  (The fake
    backend answers "ok" to everything, so every model summary fails: each post shows its
    extractive summary instead — never garbage, never nothing.)"""
    home = tmp_path / "demo-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_HOME=str(home), KB_LLM_BACKEND="fake", KB_INGEST_RETRIES="0",
               PYTHONPATH=str(REPO / "tests" / "offline_guard"),
               KB_OFFLINE_LOG=str(tmp_path / "offline.log"))
    proc = subprocess.run([*KB, "daily", "--demo", "--no-progress"], capture_output=True,
                          text=True, env=env, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: source alignmentforum: https://www.alignmentforum.org/" in proc.stderr
    assert "Traceback" not in proc.stderr
    files = [home / "digests" / f"{d}.md" for d in DEMO_DAYS]
    assert all(f.exists() for f in files), proc.stdout
    assert all(str(f) in proc.stdout for f in files)
    assert f"KB_HOME={home}" in proc.stdout and " tui" in proc.stdout
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert text.startswith("# AI Alignment Daily Digest - 2025-03-2")
        assert "(pending:" not in text and "## Key Themes and Developments" in text
    assert "kb daily:" in proc.stdout.splitlines()[-1] or "kb daily:" in proc.stdout


def test_daily_reports_summarizing_progress_and_the_cli_draws_it(store, settings, run_kb):
    """Model calls are the slow part of a daily run: run_daily reports 'summarizing n/N'
    through on_progress, and `kb daily` draws it on stderr (not with --no-progress)."""
    from digest.jobs import run_daily
    from kb.progress import Progress
    from kb.runtime import Runtime

    settings.embed.backend = "fake"
    no_default_sources(store)
    for i in range(1, 4):
        add_post(store, pid(i), f"Interpretability note {i}", f"2025-03-20T1{i}:00:00Z")
    events: list[Progress] = []
    rt = Runtime(settings, store=store, llm=fake_llm())
    assert run_daily(rt, echo=lambda _line: None, on_progress=events.append,
                     now=date(2025, 3, 20)) == 0
    summ = [e for e in events if e.task == "summarizing"]
    assert summ[0] == Progress("summarizing", 0, 3, "posts")
    assert [e.done for e in summ] == [0, 1, 2, 3] and summ[-1].total == 3

    import datetime as dt

    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for i in range(4, 6):
        add_post(store, pid(i), f"Interpretability note {i}", today)
    r = run_kb("daily")
    assert r.exit_code == 0, r.output
    assert "summarizing" in r.stderr and "2/2" in r.stderr
    add_post(store, pid(6), "Interpretability note 6", today)
    r = run_kb("daily", "--no-progress")
    assert r.exit_code == 0 and "summarizing" not in r.stderr


def test_quiet_daily_prints_nothing_on_success_and_the_problems_on_failure(store, run_kb,
                                                                          tmp_path):
    """`kb daily --quiet` is what the cron line runs: cron mails any output, so a good run
    prints nothing and a failing one prints what went wrong and the summary line."""
    no_default_sources(store)
    r = run_kb("daily", "--quiet")
    assert r.exit_code == 0 and r.output == "" and r.stderr == ""
    from kb.store.sources import add_source

    add_source(store, str(tmp_path / "missing-feed.xml"), name="broken-local")
    r = run_kb("daily", "--quiet")
    assert r.exit_code == 3 and r.stdout == ""
    assert "warning: source broken-local" in r.stderr and "kb daily:" in r.stderr


def test_old_daily_logs_are_pruned(store, settings, run_kb):
    """logs/daily-*.log older than daily.keep_logs_days go; other files and new logs stay."""
    no_default_sources(store)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    old = settings.logs_dir / "daily-20240101-070000-123.log"
    recent = settings.logs_dir / "daily-20990101-070000-456.log"
    mine = settings.logs_dir / "notes.txt"
    for f in (old, recent, mine):
        f.write_text("x")
    forty_days_ago = time.time() - 40 * 86400
    os.utime(old, (forty_days_ago, forty_days_ago))
    assert run_kb("daily", "--no-progress").exit_code == 0
    assert not old.exists() and recent.exists() and mine.exists()
    assert len(list(settings.logs_dir.glob("daily-*.log"))) == 2  # recent + this run's
    os.utime(recent, (forty_days_ago, forty_days_ago))
    os.environ["KB_DAILY_KEEP_LOGS_DAYS"] = "0"  # 0 keeps everything
    try:
        assert run_kb("daily", "--no-progress").exit_code == 0
    finally:
        del os.environ["KB_DAILY_KEEP_LOGS_DAYS"]
    assert recent.exists()
