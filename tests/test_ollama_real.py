"""The Ollama backend tests against YOUR real Ollama (``OLLAMA_HOST=… make test-ollama``).

The rest of the suite uses tests/ollama_server.py, an Ollama-protocol stand-in backed by
SmolLM2.  These tests run the same checks against a real Ollama when ``KB_TEST_REAL_OLLAMA=1``
and ``OLLAMA_HOST`` are set (the locked model must be pulled: ``kb models pull``; another tag
can be chosen with ``KB_TEST_OLLAMA_MODEL``).  Otherwise they are skipped, with that reason.
"""

from __future__ import annotations

import json
import os

import pytest

from kb.models.base import ContextOverflow, Message, ModelTimeout, ModelUnavailable

# read at import: the autouse kb_home fixture clears KB_* and OLLAMA_HOST for each test
REAL = os.environ.get("KB_TEST_REAL_OLLAMA") == "1"
HOST = os.environ.get("OLLAMA_HOST", "")
MODEL = os.environ.get("KB_TEST_OLLAMA_MODEL", "")

pytestmark = [
    pytest.mark.ollama_real,
    pytest.mark.skipif(not (REAL and HOST), reason="needs a real Ollama: run "
                       "`OLLAMA_HOST=http://127.0.0.1:11434 make test-ollama`"),
]


@pytest.fixture
def real_settings(monkeypatch):
    from kb.settings import load_settings

    monkeypatch.setenv("OLLAMA_HOST", HOST)
    monkeypatch.setenv("KB_LLM_BACKEND", "ollama")
    if MODEL:
        monkeypatch.setenv("KB_LLM_MODEL", MODEL)
    return load_settings()


def get_llm(settings):
    from kb.models.factory import build_llm

    llm, notice = build_llm(settings)
    assert notice is None  # llm.backend = "ollama": never the built-in fallback
    return llm


@pytest.fixture
def llm(real_settings):
    return get_llm(real_settings)


def test_chat(llm):
    c = llm.chat([Message("system", "Be brief."), Message("user", "What is a star?")],
                 max_tokens=32)
    assert c.text.strip() and 0 < c.output_tokens <= 32 and c.prompt_tokens > 5
    assert "@" in llm.model_id and not llm.model_id.endswith("@unlocked")


def test_stream(llm):
    pieces = list(llm.stream([Message("user", "Name three rivers.")], max_tokens=32))
    assert len(pieces) > 2 and "".join(pieces).strip()


def test_json_schema(llm):
    schema = {"type": "object", "properties": {"title": {"type": "string"},
                                               "rating": {"type": "integer"}},
              "required": ["title", "rating"]}
    c = llm.chat([Message("user", "Give a title and a rating from 1 to 5 for: rain.")],
                 max_tokens=64, json_schema=schema)
    data = json.loads(c.text)
    assert isinstance(data["title"], str) and isinstance(data["rating"], int)


def test_context_overflow(llm):
    with pytest.raises(ContextOverflow):
        llm.chat([Message("user", "x" * (4 * llm.context_window))], max_tokens=16)


def test_unknown_model(real_settings, monkeypatch):
    from kb.settings import load_settings

    monkeypatch.setenv("KB_LLM_MODEL", "kb-test-no-such-model:1b")
    with pytest.raises(ModelUnavailable, match="kb models pull"):
        get_llm(load_settings())


def test_timeout(llm):
    from kb.models.ollama import OllamaClient, OllamaLLM

    client = OllamaClient(llm.client.host, timeout=0.01, connect_timeout=3, retries=0)
    slow = OllamaLLM(client, llm.model, num_ctx=llm.context_window)
    with pytest.raises(ModelTimeout):
        slow.chat([Message("user", "Write a long poem about the sea.")], max_tokens=256)


def test_status_and_tags(real_settings, llm):
    from kb.models.ollama_client import OllamaClient
    from kb.models.status import models_status

    with OllamaClient.from_settings(real_settings) as client:
        assert llm.model in client.tags()
        trained = client.context_length(llm.model)
        assert trained is None or trained >= llm.context_window
    role = next(r for r in models_status(real_settings)["roles"] if r["role"] == "llm")
    assert role["reachable"] is True and role["present"] is True


def test_digest_mismatch(real_settings):
    from kb.models.ollama import DigestMismatch
    from kb.models.status import models_status
    from kb.settings import shipped_models_lock

    if MODEL:
        pytest.skip("KB_TEST_OLLAMA_MODEL overrides the lock: no digest to check")
    text = shipped_models_lock().read_text()
    head, sep, rest = text.partition("[llm]\n")
    real_settings.home.mkdir(parents=True, exist_ok=True)
    (real_settings.home / "models.lock").write_text(
        head + sep + rest.replace('digest = ""', f'digest = "{"0" * 64}"', 1))
    with pytest.raises(DigestMismatch, match="kb models lock"):
        get_llm(real_settings)
    llm_role = next(r for r in models_status(real_settings)["roles"] if r["role"] == "llm")
    assert llm_role["digest_ok"] is False
