"""`kb models pull --json` and `kb models lock --json` against the Ollama-protocol test server
(pull and tags only: no model is loaded)."""

from __future__ import annotations

import json
import tomllib

import pytest
from click.testing import CliRunner

from kb.cli import cli

pytestmark = pytest.mark.model

LOCKED = "qwen2.5:7b-instruct"


def kb(monkeypatch, url: str, *args: str):
    monkeypatch.setenv("OLLAMA_HOST", url)
    return CliRunner().invoke(cli, ["models", *args])


def test_pull_json_reports_what_was_pulled_and_each_role(make_ollama_server, monkeypatch):
    server = make_ollama_server(present=[])
    r = kb(monkeypatch, server.url, "pull", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["pulled"] == [{"role": "llm", "model": LOCKED}]
    assert data["ok"] is True
    roles = {row["role"]: row for row in data["roles"]}
    assert roles["llm"]["model"] == LOCKED and roles["llm"]["ok"] is True
    assert all(set(row) == {"role", "model", "ok", "detail"} for row in data["roles"])
    assert "success" not in r.stderr  # no progress bar with --json
    assert [b["model"] for _, p, b in server.requests if p == "/api/pull"] == [LOCKED]


def test_lock_json_lists_locked_and_missing_entries(make_ollama_server, monkeypatch, kb_home):
    server = make_ollama_server(present=[LOCKED])
    r = kb(monkeypatch, server.url, "lock", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["path"] == str(kb_home / "models.lock")
    assert data["locked"] == [{"entry": "llm", "model": LOCKED,
                               "digest": server.digests[LOCKED]}]
    assert {m["entry"] for m in data["missing"]} == {"llm.presets.fast", "embed_ollama"}
    lock = tomllib.loads((kb_home / "models.lock").read_text())
    assert lock["llm"]["digest"] == server.digests[LOCKED]


def test_lock_json_with_nothing_to_lock_still_prints_json_and_exits_3(make_ollama_server,
                                                                      monkeypatch):
    server = make_ollama_server(present=[])
    r = kb(monkeypatch, server.url, "lock", "--json")
    assert r.exit_code == 3
    data = json.loads(r.stdout)
    assert data["locked"] == [] and len(data["missing"]) == 3
    assert "kb models pull" in r.stderr
