"""Offline guarantee: the whole pipeline, run as real `kb` subprocesses, attempts no connection
and no name lookup other than loopback.

tests/offline_guard/sitecustomize.py is put on the subprocesses' PYTHONPATH: it refuses every
non-loopback connect/getaddrinfo and records the attempt in $KB_OFFLINE_LOG.  The environment
is scrubbed of the variables that would hide a problem (ANONYMIZED_TELEMETRY, HF_HUB_OFFLINE,
TIKTOKEN_CACHE_DIR, ...): kb itself must turn Chroma telemetry off, never download a model and
never let llama-index fetch tokenizer or NLTK data.  The model is the Ollama-protocol test
server on 127.0.0.1 (scripted replies: tests/faults_support.py) — loopback is allowed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from faults_support import OFFLINE_GUARD, REPO, ScriptedHost, kb_env, run_kb, seed_home, write_feed

pytestmark = [pytest.mark.slow, pytest.mark.model]

HIDING = ("ANONYMIZED_TELEMETRY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TIKTOKEN_CACHE_DIR",
          "NLTK_DATA", "LLAMA_INDEX_CACHE_DIR", "CHROMA_TELEMETRY", "POSTHOG_DISABLED")


def _offline_env(home: Path, log: Path, **extra: str) -> dict[str, str]:
    env = kb_env(home, **extra)
    for name in HIDING:
        env.pop(name, None)
    env["PYTHONPATH"] = os.pathsep.join([str(OFFLINE_GUARD), env["PYTHONPATH"]])
    env["KB_OFFLINE_LOG"] = str(log)
    return env


def test_the_guard_records_a_non_loopback_attempt(tmp_path: Path):
    """Without this, an empty log would prove nothing."""
    log = tmp_path / "offline.log"
    env = _offline_env(tmp_path / "home", log)
    code = ("import socket\n"
            "for attempt in (lambda: socket.socket().connect(('192.0.2.1', 80)),\n"
            "                lambda: socket.create_connection(('example.org', 443), timeout=1)):\n"
            "    try:\n"
            "        attempt()\n"
            "    except OSError:\n"
            "        pass\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1)\n"
            "socket.create_connection(s.getsockname(), timeout=1).close()\n")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True, timeout=60)
    lines = log.read_text().splitlines()
    assert lines == ["connect 192.0.2.1:80", "getaddrinfo example.org"]


def test_the_whole_pipeline_makes_no_outbound_connection(tmp_path: Path, make_ollama_server):
    server = make_ollama_server(host=ScriptedHost())
    home, log = tmp_path / "home", tmp_path / "offline.log"
    seed_home(home, [("offline-feed", write_feed(tmp_path / "feed.xml", n=3))])
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "note.md").write_text(
        "---\ntitle: A local note on interpretability\nauthor: Test Author\n"
        "date: 2025-03-12\n---\n\nSparse dictionaries recover features for attacked squares in "
        "a chess network; ablating them changes the chosen move.\n", encoding="utf-8")
    env = _offline_env(home, log, KB_LLM_BACKEND="ollama", KB_OLLAMA_HOST=server.url)
    steps = [
        ("import", str(archive), "--json"),  # reading files, storing, indexing (ONNX + Chroma)
        ("ingest", "--json"),  # a file:// feed
        ("index",),
        ("search", "chess features", "--json"),
        ("search", "chess features", "--mode", "vector", "--json"),
        ("summarize", "--json"),
        ("digest", "--json"),
        ("daily", "--no-progress", "--json"),
        ("reindex",),
        ("search", "oversight", "--json"),
    ]
    for args in steps:
        res = run_kb(env, *args, timeout=600)
        assert res.returncode == 0, (args, res.stdout[-2000:], res.stderr[-2000:])
        attempts = log.read_text() if log.exists() else ""
        assert attempts == "", f"`kb {' '.join(args)}` tried to reach the network:\n{attempts}"
    hits = json.loads(run_kb(env, "search", "chess features", "--json").stdout)
    assert hits, "the offline pipeline built a searchable archive"
    assert not log.exists() or log.read_text() == ""
