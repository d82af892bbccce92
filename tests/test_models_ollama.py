"""The product's Ollama backend end to end against the Ollama-protocol test server
(real SmolLM2 behind real HTTP on 127.0.0.1)."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from kb.models.base import (
    LLM,
    ContextOverflow,
    LLMError,
    Message,
    ModelTimeout,
    ModelUnavailable,
)

pytestmark = pytest.mark.model

LOCKED = "qwen2.5:7b-instruct"


def settings_for(monkeypatch, url: str, **env: str):
    from kb.settings import load_settings

    monkeypatch.setenv("OLLAMA_HOST", url)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_user_lock(settings, llm_digest: str) -> None:
    from kb.settings import shipped_models_lock

    text = shipped_models_lock().read_text()
    head, sep, rest = text.partition("[llm]\n")
    rest = rest.replace('digest = ""', f'digest = "{llm_digest}"', 1)
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "models.lock").write_text(head + sep + rest)


def chat_requests(server):
    return [body for method, path, body in server.requests if path == "/api/chat"]


def get_llm(settings) -> LLM:
    """The model ``build_llm`` selects (its notice is checked through the runtime)."""
    from kb.models.factory import build_llm

    return build_llm(settings)[0]


def llm_notice(settings) -> str | None:
    """What a runtime reports as its LLM notice (building the LLM)."""
    from kb.runtime import Runtime

    return Runtime(settings).llm_notice


def test_chat_passes_num_ctx_and_reports_counts(monkeypatch, ollama_server):
    from kb.models.ollama import OllamaLLM

    s = settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="ollama")
    llm = get_llm(s)
    assert isinstance(llm, OllamaLLM) and isinstance(llm, LLM)
    assert llm.model_id == f"{LOCKED}@{ollama_server.digests[LOCKED][:12]}"
    assert llm.context_window == 8192  # min(models.lock num_ctx 32768, the model's 8192)
    before = len(chat_requests(ollama_server))
    c = llm.chat([Message("system", "Be brief."), Message("user", "What is a star?")],
                 max_tokens=24)
    assert c.text.strip()
    assert 0 < c.output_tokens <= 24 and c.prompt_tokens > 5
    assert c.done_reason in ("stop", "length")
    sent = chat_requests(ollama_server)[before]
    assert sent["options"]["num_ctx"] == 8192
    assert sent["options"]["num_predict"] == 24
    assert sent["options"]["temperature"] == 0.0
    assert sent["stream"] is False


def test_stream_pieces_arrive_incrementally(monkeypatch, make_ollama_server):

    server = make_ollama_server()
    server.stream_gate = threading.Event()
    llm = get_llm(settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama"))
    it = llm.stream([Message("user", "Name three rivers.")], max_tokens=24)
    first = next(it)
    # the server is holding the rest of the stream: the first piece came on its own
    assert server.stream_paused.is_set()
    assert isinstance(first, str) and first
    server.stream_gate.set()
    rest = list(it)
    assert len(rest) >= 2
    assert chat_requests(server)[-1]["stream"] is True


def test_json_schema_is_sent_as_format_and_output_parses(monkeypatch, ollama_server):

    llm = get_llm(settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="ollama"))
    schema = {"type": "object", "properties": {"title": {"type": "string"},
                                               "rating": {"type": "integer"}},
              "required": ["title", "rating"]}
    c = llm.chat([Message("user", "Give a title and a rating from 1 to 5 for: rain.")],
                 max_tokens=64, json_schema=schema)
    assert chat_requests(ollama_server)[-1]["format"] == schema
    data = json.loads(c.text)
    assert set(schema["required"]) <= data.keys()


def test_unknown_model_says_kb_models_pull(monkeypatch, ollama_server):
    from kb.models.ollama import OllamaLLM

    s = settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="ollama",
                     KB_LLM_MODEL="llama3:70b")
    with pytest.raises(ModelUnavailable, match=r"does not have the model llama3:70b: run `kb models pull`"):
        get_llm(s)
    # and a model that vanished after the backend was built
    from kb.models.ollama_client import ModelNotFound, OllamaClient

    llm = OllamaLLM(OllamaClient.from_settings(s), "gone:1b", num_ctx=4096)
    with pytest.raises(ModelNotFound, match="kb models pull"):
        llm.chat([Message("user", "hi")], max_tokens=4)
    with pytest.raises(ModelNotFound, match="kb models pull"):
        list(llm.stream([Message("user", "hi")], max_tokens=4))


def test_stopped_server_says_ollama_serve(monkeypatch, make_ollama_server):

    server = make_ollama_server()
    s = settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama", KB_OLLAMA_RETRIES="1")
    llm = get_llm(s)
    server.stop()
    for call in (lambda: llm.chat([Message("user", "hi")], max_tokens=4),
                 lambda: list(llm.stream([Message("user", "hi")], max_tokens=4)),
                 lambda: get_llm(s)):
        with pytest.raises(ModelUnavailable) as exc:
            call()
        assert "`ollama serve`" in str(exc.value) and "OLLAMA_HOST" in str(exc.value)
        assert server.url in str(exc.value)


@pytest.mark.timeout(60)
def test_slow_server_times_out_quickly(monkeypatch, make_ollama_server):

    server = make_ollama_server()
    s = settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama", KB_OLLAMA_TIMEOUT="0.5",
                     KB_OLLAMA_RETRIES="3")
    llm = get_llm(s)
    server.delay = 20.0
    with pytest.raises(ModelTimeout, match="did not answer within 0.5 seconds.*ollama.timeout"):
        llm.chat([Message("user", "hi")], max_tokens=4)
    with pytest.raises(ModelTimeout):
        list(llm.stream([Message("user", "hi")], max_tokens=4))
    assert len(chat_requests(server)) == 2  # timeouts are not retried


def test_context_overflow_before_any_request(monkeypatch, ollama_server):

    llm = get_llm(settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="ollama"))
    before = len(chat_requests(ollama_server))
    text = "x" * (3 * 8192)
    with pytest.raises(ContextOverflow, match="context window of 8192"):
        llm.chat([Message("user", text)], max_tokens=16)
    with pytest.raises(ContextOverflow):
        llm.stream([Message("user", text)], max_tokens=16)
    assert len(chat_requests(ollama_server)) == before
    assert llm.count_tokens("abcdef") == 2  # chars/3, conservative


def test_digest_mismatch_refused_by_ollama_backend(monkeypatch, ollama_server):
    from kb.models.ollama import DigestMismatch

    s = settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="ollama")
    write_user_lock(s, "0" * 64)
    with pytest.raises(DigestMismatch, match="kb models lock"):
        get_llm(s)
    write_user_lock(s, ollama_server.digests[LOCKED])
    assert get_llm(s).model_id.endswith(ollama_server.digests[LOCKED][:12])


def test_preset_and_unknown_preset(monkeypatch, ollama_server):

    llm = get_llm(settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="ollama",
                               KB_LLM_PRESET="fast"))
    assert llm.model_id.startswith("qwen2.5:3b-instruct@")
    monkeypatch.setenv("KB_LLM_PRESET", "huge")
    from kb.settings import load_settings

    with pytest.raises(LLMError, match="llm.preset 'huge' is not in .*presets there: fast"):
        get_llm(load_settings())


# --- auto: Ollama when reachable with the locked model, else the embedded model -------------
def test_auto_uses_ollama_when_reachable(monkeypatch, ollama_server):
    from kb.models.factory import build_llm
    from kb.models.ollama import OllamaLLM
    from kb.runtime import Runtime

    s = settings_for(monkeypatch, ollama_server.url)
    assert s.llm.backend == "auto"
    llm, notice = build_llm(s)
    assert isinstance(llm, OllamaLLM) and notice is None
    rt = Runtime(s)
    assert rt.llm_notice is None
    assert rt.chat_llm() == (rt.llm, None)
    assert isinstance(rt.llm.inner, OllamaLLM)
    assert rt.llm_notice is None


def test_auto_without_ollama_runs_extractive_with_one_notice(monkeypatch):
    """No Ollama: no chat model at all (no llama.cpp load), and a notice saying why and how."""
    from kb.models.factory import build_llm
    from kb.runtime import Runtime

    def no_llamacpp(*_a, **_k):
        raise AssertionError("auto must not load the embedded model")

    monkeypatch.setattr("kb.models.llamacpp_llm.load_llamacpp_llm", no_llamacpp)
    s = settings_for(monkeypatch, f"http://127.0.0.1:{free_port()}")
    llm, notice = build_llm(s)
    assert llm is None
    assert notice is not None and "`ollama serve`" in notice
    assert "extractive" in notice and "https://ollama.com" in notice
    rt = Runtime(s)
    assert rt.chat_llm() == (None, notice)
    assert rt.llm_notice == notice and not rt.llm_loaded
    with pytest.raises(ModelUnavailable, match="Ollama is not available"):
        rt.llm.model_id  # noqa: B018 - code that needs a chat model gets one clear error


def test_auto_without_the_locked_version_runs_extractive(monkeypatch, ollama_server):
    s = settings_for(monkeypatch, ollama_server.url)
    write_user_lock(s, "f" * 64)
    assert get_llm(s) is None
    notice = llm_notice(s)
    assert notice is not None and "kb models lock" in notice


def test_backend_none_asks_no_model(monkeypatch, ollama_server):
    from kb.runtime import Runtime

    s = settings_for(monkeypatch, ollama_server.url, KB_LLM_BACKEND="none")
    assert s.llm.backend == "none"
    before = len(ollama_server.requests)
    rt = Runtime(s)
    assert rt.chat_llm() == (None, None)
    assert rt.expected_llm_notice() is None
    assert len(ollama_server.requests) == before


def test_explicit_backends(monkeypatch):
    from kb.models.fake import FakeLLM
    from kb.models.llamacpp_llm import LlamaCppLLM

    s = settings_for(monkeypatch, f"http://127.0.0.1:{free_port()}", KB_LLM_BACKEND="embedded")
    assert isinstance(get_llm(s), LlamaCppLLM)
    assert llm_notice(s) is None
    monkeypatch.setenv("KB_LLM_BACKEND", "fake")
    from kb.settings import load_settings

    assert isinstance(get_llm(load_settings()), FakeLLM)
    monkeypatch.setenv("KB_LLM_BACKEND", "ollama")
    with pytest.raises(ModelUnavailable, match="ollama serve"):
        get_llm(load_settings())


def test_server_errors_are_retried_then_reported(monkeypatch, make_ollama_server):

    server = make_ollama_server()
    llm = get_llm(settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama",
                               KB_OLLAMA_RETRIES="2"))
    before = len(chat_requests(server))
    server.fail_next = 2
    assert llm.chat([Message("user", "hi")], max_tokens=4).output_tokens >= 1
    assert server.fail_next == 0
    assert len(chat_requests(server)) == before + 3  # two 503s, then the answer
    server.fail_next = 3
    with pytest.raises(LLMError, match="answered HTTP 503: server busy"):
        llm.chat([Message("user", "hi")], max_tokens=4)
    assert server.fail_next == 0 and len(chat_requests(server)) == before + 6


# --- streams: retried only before the first piece, never passed off as complete when broken --
def test_stream_is_retried_until_its_first_piece(monkeypatch, make_ollama_server):
    server = make_ollama_server()
    llm = get_llm(settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama",
                               KB_OLLAMA_RETRIES="2"))
    before = len(chat_requests(server))
    server.fail_next, server.drop_next = 1, 1  # one dropped connection, then one 503
    assert "".join(llm.stream([Message("user", "Name a river.")], max_tokens=8)).strip()
    assert len(chat_requests(server)) == before + 3


@pytest.mark.parametrize("how", ["hangup", "garble", "end"])
def test_stream_that_breaks_off_mid_answer_raises(monkeypatch, make_ollama_server, how):
    server = make_ollama_server()
    llm = get_llm(settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama",
                               KB_OLLAMA_RETRIES="3"))
    server.break_stream_after, server.break_stream_how = 3, how
    before = len(chat_requests(server))
    pieces = []
    with pytest.raises(LLMError, match=r"broke off the answer .*: try again") as exc:
        for piece in llm.stream([Message("user", "Count from one to twenty.")],
                                max_tokens=40):
            pieces.append(piece)
    assert len(pieces) == 3  # what arrived was handed on, then the break was raised
    assert not isinstance(exc.value, ModelUnavailable | ModelTimeout)
    assert server.url in str(exc.value)
    assert len(chat_requests(server)) == before + 1  # not retried once pieces were yielded
    server.break_stream_after = None
    assert "".join(llm.stream([Message("user", "hi")], max_tokens=4))


def test_stream_closed_early_by_the_caller_frees_the_server(monkeypatch, make_ollama_server):
    server = make_ollama_server()
    llm = get_llm(settings_for(monkeypatch, server.url, KB_LLM_BACKEND="ollama"))
    it = llm.stream([Message("user", "Tell a long story.")], max_tokens=200)
    assert next(it)
    it.close()
    assert llm.chat([Message("user", "hi")], max_tokens=4).text  # the model lock was released
