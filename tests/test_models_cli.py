"""`kb models status|pull|lock` through the real console entry point, against the
Ollama-protocol test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest

pytestmark = pytest.mark.model

KB = [sys.executable, "-m", "kb.cli.__main__"]
LOCKED = "qwen2.5:7b-instruct"


def kb(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ.copy() | {"OLLAMA_HOST": url, "COLUMNS": "160"}
    return subprocess.run([*KB, "models", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def status(url: str) -> dict:
    proc = kb(url, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    data["by_role"] = {r["role"]: r for r in data["roles"]}
    return data


def test_status_reports_every_role(ollama_server):
    data = status(ollama_server.url)
    r = data["by_role"]
    assert set(r) == {"embed", "llm", "llm_embedded", "embed_ollama"}
    assert data["active_llm"] == "ollama" and data["llm_backend"] == "auto"
    assert r["llm"]["backend"] == "ollama" and r["llm"]["reachable"] is True
    assert r["llm"]["present"] is True and r["llm"]["model"] == LOCKED
    assert r["llm"]["digest"] == ollama_server.digests[LOCKED]
    assert r["llm"]["locked_digest"] == "" and r["llm"]["digest_ok"] is None
    assert "kb models lock" in r["llm"]["detail"]
    assert r["llm_embedded"]["sha256_ok"] is True and r["llm_embedded"]["backend"] == "llama.cpp"
    assert r["embed"]["sha256_ok"] is True and r["embed"]["backend"] == "onnx"
    human = kb(ollama_server.url, "status")
    assert human.returncode == 0 and "llm_embedded" in human.stdout


def test_lock_records_digests_then_status_matches(ollama_server, kb_home):
    proc = kb(ollama_server.url, "lock")
    assert proc.returncode == 0, proc.stderr
    user_lock = kb_home / "models.lock"
    lock = tomllib.loads(user_lock.read_text())
    assert lock["llm"]["digest"] == ollama_server.digests[LOCKED]
    assert lock["llm"]["presets"]["fast"]["digest"] == ollama_server.digests["qwen2.5:3b-instruct"]
    assert lock["embed_ollama"]["digest"] == ollama_server.digests["nomic-embed-text:latest"]
    assert "# models.lock" in user_lock.read_text()  # the comments are kept
    data = status(ollama_server.url)
    assert data["models_lock"] == str(user_lock)
    assert data["by_role"]["llm"]["digest_ok"] is True
    assert kb(ollama_server.url, "lock").returncode == 0  # safe to repeat
    assert tomllib.loads(user_lock.read_text()) == lock


def test_digest_mismatch_detected(make_ollama_server, ollama_server, kb_home):
    assert kb(ollama_server.url, "lock").returncode == 0
    other = make_ollama_server(digests={LOCKED: "ab" * 32})
    data = status(other.url)
    llm = data["by_role"]["llm"]
    assert llm["digest_ok"] is False and llm["ok"] is False
    assert "kb models lock" in llm["detail"]
    assert data["active_llm"] == "none"  # auto without a usable Ollama: extractive only


def test_pull_shows_progress_and_verifies(make_ollama_server):
    server = make_ollama_server(present=[])
    assert status(server.url)["by_role"]["llm"]["present"] is False
    proc = kb(server.url, "pull")
    assert proc.returncode == 0, proc.stderr
    assert f"{LOCKED}: success" in proc.stderr  # the progress bar's last state
    assert "llm           qwen2.5:7b-instruct:" in proc.stdout
    pulled = [b["model"] for m, p, b in server.requests if p == "/api/pull"]
    assert pulled == [LOCKED]
    assert status(server.url)["by_role"]["llm"]["present"] is True


def test_pull_all_pulls_every_locked_tag(make_ollama_server):
    server = make_ollama_server(present=[])
    assert kb(server.url, "pull", "--all").returncode == 0
    pulled = [b["model"] for m, p, b in server.requests if p == "/api/pull"]
    assert pulled == [LOCKED, "qwen2.5:3b-instruct", "nomic-embed-text"]


def test_unreachable_ollama(make_ollama_server):
    server = make_ollama_server()
    url = server.url
    server.stop()
    data = status(url)
    assert data["by_role"]["llm"]["reachable"] is False
    assert "ollama serve" in data["by_role"]["llm"]["detail"]
    assert data["active_llm"] == "none"  # auto without a usable Ollama: extractive only
    for args in (["lock"], ["pull"]):
        proc = kb(url, *args)
        assert proc.returncode == 1
        assert "ollama serve" in proc.stderr


def test_status_flags_a_packaged_file_with_the_wrong_sha256(ollama_server, kb_home):
    from kb.settings import shipped_models_lock

    text = shipped_models_lock().read_text()
    good = tomllib.loads(text)["llm_embedded"]["package"]["sha256"]
    kb_home.mkdir(parents=True, exist_ok=True)
    (kb_home / "models.lock").write_text(text.replace(good, "0" * 64))
    r = status(ollama_server.url)["by_role"]["llm_embedded"]
    assert r["present"] is True and r["sha256_ok"] is False
    assert "refusing to use it" in r["detail"]


def test_set_digests_keeps_comments_and_adds_missing_lines():
    from kb.models.lock_edit import set_digests

    text = ('# top\n[llm]  # the chat model\nmodel = "a"  # chat\ndigest = ""  # pin\n\n'
            '# the presets\n[llm.presets.fast]\nmodel = "b"\n\n# about other\n[other]\nx = 1\n\n'
            '[embed_ollama]\nmodel = "e"\ndim = 768\n')
    out = set_digests(text, {"llm": "d1", "llm.presets.fast": "d2", "embed_ollama": "d3"})
    data = tomllib.loads(out)
    assert data["llm"]["digest"] == "d1" and data["llm"]["presets"]["fast"]["digest"] == "d2"
    assert data["embed_ollama"]["digest"] == "d3"
    assert data["other"] == {"x": 1}
    assert out.startswith("# top\n") and '# chat' in out
    # every line is kept as written; a missing digest goes right after its table's last key,
    # before the comment that introduces the next table
    assert out == ('# top\n[llm]  # the chat model\nmodel = "a"  # chat\ndigest = "d1"  # pin\n\n'
                   '# the presets\n[llm.presets.fast]\nmodel = "b"\ndigest = "d2"\n\n'
                   '# about other\n[other]\nx = 1\n\n'
                   '[embed_ollama]\nmodel = "e"\ndim = 768\ndigest = "d3"\n')
    assert set_digests(out, {"llm": "d1", "llm.presets.fast": "d2", "embed_ollama": "d3"}) == out


def test_set_digests_on_the_shipped_lock_changes_only_the_digest_lines():
    from kb.models.lock_edit import set_digests
    from kb.settings import shipped_models_lock

    text = shipped_models_lock().read_text()
    out = set_digests(text, {"llm": "a" * 64, "llm.presets.fast": "b" * 64,
                             "embed_ollama": "c" * 64})
    changed = [(old, new) for old, new in zip(text.splitlines(), out.splitlines(), strict=True)
               if old != new]
    assert changed == [('digest = ""', f'digest = "{c * 64}"') for c in "abc"]
