"""Shared fixtures.  Every test runs with KB_HOME in a fresh temp dir (autouse)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("KB_TEST_CORPUS", REPO.parent / "shared" / "corpus"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def kb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "kb-home"
    monkeypatch.setenv("KB_HOME", str(home))
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
