"""Fault suite: the model server goes away or crawls in the middle of `kb daily`.

The real `kb daily` runs in a subprocess on a local file:// feed, with the Ollama backend
pointed at the Ollama-protocol test server on 127.0.0.1 (tests/ollama_server.py) serving a
scripted model (tests/faults_support.py: the protocol, kb's client, retries and timeouts are
real; the replies are fixed valid answers, so that only the fault decides the outcome).
Two concurrent `kb daily` runs (exit 75 naming the holder) are covered by the digest tests.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest
from faults_support import (
    ScriptedHost,
    chat_requests,
    kb_env,
    popen_kb,
    run_kb,
    seed_home,
    write_feed,
)

pytestmark = [pytest.mark.slow, pytest.mark.model]


def _pending(home: Path) -> int:
    with sqlite3.connect(home / "kb.sqlite3") as db:
        return db.execute("SELECT count(*) FROM summaries WHERE status != 'ok'").fetchone()[0]


def _ok(home: Path) -> int:
    with sqlite3.connect(home / "kb.sqlite3") as db:
        return db.execute("SELECT count(*) FROM summaries WHERE status = 'ok' AND model_id "
                          "NOT LIKE 'extractive:%'").fetchone()[0]  # the model's summaries


@pytest.fixture
def daily_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    seed_home(home, [("fault-feed", write_feed(tmp_path / "feed.xml", n=4))])
    return home


def test_server_stopped_mid_daily_leaves_pending_then_next_run_completes(daily_home,
                                                                         make_ollama_server):
    gate = threading.Event()
    host = ScriptedHost(gate=gate)
    server = make_ollama_server(host=host)
    env = kb_env(daily_home, KB_LLM_BACKEND="ollama", KB_OLLAMA_HOST=server.url,
                 KB_OLLAMA_RETRIES="1", KB_OLLAMA_TIMEOUT="20")
    proc = popen_kb(env, "daily", "--no-progress", "--json")
    try:
        assert host.first_chat.wait(180), "kb daily never asked for a summary"
        server.stop()  # the port now refuses connections; the request in flight still answers
        gate.set()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, (out, err)
    report = json.loads(out)
    assert report["pending"] >= 1 and report["exit_code"] == 3
    assert f"cannot reach Ollama at {server.url}" in err  # the clear message, on stderr
    assert "pending" in err
    pending_before = report["pending"]
    assert _ok(daily_home) == 4 - pending_before  # what was made before the stop is kept

    server.start()  # same port
    calls_before = chat_requests(server)
    second = run_kb(env, "daily", "--no-progress", "--json", timeout=300)
    assert second.returncode == 0, (second.stdout, second.stderr)
    rep2 = json.loads(second.stdout)
    assert rep2["pending"] == 0 and rep2["summarized"] == pending_before
    assert _pending(daily_home) == 0 and _ok(daily_home) == 4
    assert chat_requests(server) > calls_before
    written = [d for d in rep2["digests"] if d["status"] in ("written", "unchanged")]
    assert written, rep2["digests"]
    assert any((daily_home / "digests").glob("*.md"))


def test_slow_server_times_out_and_nothing_hangs(daily_home, make_ollama_server):
    host = ScriptedHost(slow=60.0)  # every chat reply would take a minute
    server = make_ollama_server(host=host)
    env = kb_env(daily_home, KB_LLM_BACKEND="ollama", KB_OLLAMA_HOST=server.url,
                 KB_OLLAMA_TIMEOUT="1", KB_OLLAMA_RETRIES="0")
    res = run_kb(env, "daily", "--no-progress", "--json", timeout=180)  # our own bound
    assert res.returncode == 3, (res.stdout, res.stderr)
    report = json.loads(res.stdout)
    assert report["pending"] == 4  # no summary could be made, none is lost or faked
    assert "did not answer within 1 seconds" in res.stderr
    assert _ok(daily_home) == 0
