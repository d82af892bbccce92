"""Shared fixtures.  Every test runs with KB_HOME in a fresh temp dir (autouse)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus_paths import CORPUS, REPO  # noqa: E402,F401

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def kb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """KB_HOME and the user's config directory in the test's temp dir; no KB_* or OLLAMA_HOST
    from the environment leaks in."""
    home = tmp_path / "kb-home"
    monkeypatch.setenv("KB_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    for name in list(os.environ):
        if name.startswith("KB_") and name not in ("KB_HOME", "KB_TEST_CORPUS"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    return home


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus, or skip cleanly when a fresh clone has none beside it."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture
def settings(kb_home: Path):
    from kb.settings import load_settings

    return load_settings()


@pytest.fixture
def store(settings):
    from kb.settings import ensure_home
    from kb.store import Store

    ensure_home(settings)
    s = Store(settings.db_path)
    yield s
    s.close()


# --- the Ollama-protocol test server: real SmolLM2 behind Ollama's HTTP API -----------------
@pytest.fixture(scope="session")
def ollama_server():
    """A session-wide Ollama stand-in (tests/ollama_server.py); ``.url`` is its base URL.
    Do not stop or slow it down: use ``make_ollama_server`` for that."""
    pytest.importorskip("llama_cpp", reason="the Ollama test server needs llama-cpp-python")
    from ollama_server import OllamaTestServer

    server = OllamaTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def make_ollama_server():
    """Factory for private test servers (stopped at the end of the test):
    ``make_ollama_server(delay=2.0, digests={...}, present=[...])``."""
    pytest.importorskip("llama_cpp", reason="the Ollama test server needs llama-cpp-python")
    from ollama_server import OllamaTestServer

    servers: list[OllamaTestServer] = []

    def make(**kwargs):
        server = OllamaTestServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fetcher(settings):
    """The real HTTP (and file://) fetcher of the test's settings."""
    from kb.fetch import HttpFetcher

    f = HttpFetcher(settings.ingest)
    yield f
    f.close()


# --- a real Chroma server (`chroma run` from the installed chromadb) ---------------------------
@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """One Chroma server on loopback for the session; tests that stop it use their own."""
    from bench.chroma_server import ChromaServer

    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    yield server
    server.stop()

