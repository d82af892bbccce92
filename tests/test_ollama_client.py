"""kb's one Ollama client (kb/models/ollama_client.py) against the Ollama-protocol test server:
the official ``ollama`` client underneath, the retry policy, the proxy policy, pull progress,
and one clear sentence per failure."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from kb.models.base import LLMError, ModelTimeout

pytestmark = pytest.mark.model

LOCKED = "qwen2.5:7b-instruct"
HI = [{"role": "user", "content": "hi"}]
SHORT = {"num_predict": 4, "num_ctx": 2048, "temperature": 0.0}
PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(url: str, **kw):
    from kb.models.ollama_client import OllamaClient

    return OllamaClient(url, **({"timeout": 60.0, "retries": 2} | kw))


def retry_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "kb.models.ollama" and "retry" in r.message]


@pytest.fixture
def proxy_env(monkeypatch):
    """Set HTTP(S)_PROXY and ALL_PROXY (both spellings) to ``url``; NO_PROXY cleared."""
    def set_proxy(url: str) -> None:
        for name in PROXY_VARS:
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        for name in PROXY_VARS[:3]:
            monkeypatch.setenv(name, url)
            monkeypatch.setenv(name.lower(), url)

    return set_proxy


# --- the official client underneath ---------------------------------------------------------
def test_every_call_goes_through_the_official_client(make_ollama_server, monkeypatch):
    from kb.embed.ollama import load_ollama_embedder
    from kb.models.status import models_status, pull
    from kb.settings import load_settings

    server = make_ollama_server(present=[LOCKED, "nomic-embed-text"])
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    monkeypatch.setenv("KB_EMBED_OLLAMA_MODEL", "nomic-embed-text:latest")  # any dim goes
    s = load_settings()
    with client(server.url) as c:
        assert set(c.tags()) == {LOCKED, "nomic-embed-text:latest"}
        assert c.context_length(LOCKED) == 8192
        assert c.chat(LOCKED, HI, options=SHORT).message.content
        assert [p.done for p in c.stream_chat(LOCKED, HI, options=SHORT)][-1] is True
    assert load_ollama_embedder(s).embed_query("alpha")
    pull(s, "qwen2.5:3b-instruct")
    assert models_status(s)["ollama_host"] == server.url
    paths = {path for _m, path, _b in server.requests}
    assert paths == {"/api/tags", "/api/show", "/api/chat", "/api/embed", "/api/pull"}
    assert server.user_agents and all(ua.startswith("ollama-python/")
                                      for ua in server.user_agents)
    chat = [b for _m, path, b in server.requests if path == "/api/chat"][0]
    assert chat["options"] == SHORT and chat["stream"] is False
    embed = [b for _m, path, b in server.requests if path == "/api/embed"][0]
    assert embed == {"model": "nomic-embed-text:latest", "input": ["alpha"], "truncate": True}


# --- retries ----------------------------------------------------------------------------------
def test_server_errors_are_retried_with_backoff_then_succeed(make_ollama_server, caplog):
    caplog.set_level(logging.INFO, logger="kb.models.ollama")
    server = make_ollama_server()
    server.fail_next = 2
    t0 = time.monotonic()
    assert LOCKED in client(server.url, retries=2).tags()
    assert time.monotonic() - t0 >= 0.25 + 0.5  # the backoff: 0.25 s, then 0.5 s
    assert len(server.requests) == 3
    assert [r.message.split("; ")[1] for r in retry_records(caplog)] == [
        "retry 1 of 2 in 0.25 s", "retry 2 of 2 in 0.50 s"]
    assert "answered HTTP 503" in retry_records(caplog)[0].message


def test_connection_refused_is_retried_then_one_clear_sentence(caplog):
    from kb.models.ollama_client import OllamaUnreachable

    caplog.set_level(logging.INFO, logger="kb.models.ollama")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    for call in (lambda c: c.tags(), lambda c: c.context_length(LOCKED),
                 lambda c: c.chat(LOCKED, HI, options=SHORT),
                 lambda c: list(c.stream_chat(LOCKED, HI, options=SHORT)),
                 lambda c: c.embed("nomic-embed-text", ["x"]), lambda c: list(c.pull(LOCKED))):
        caplog.clear()
        with pytest.raises(OllamaUnreachable) as exc:
            call(client(url, retries=2))
        assert str(exc.value) == (f"cannot reach Ollama at {url}: start it with `ollama serve` "
                                  f"(or point OLLAMA_HOST / ollama.host at the server you run)")
        assert len(retry_records(caplog)) == 2  # retried `retries` times, then reported


def test_a_retry_reaches_a_server_that_came_back(make_ollama_server):
    server = make_ollama_server()
    server.stop()
    timer = threading.Timer(0.05, server.start)
    timer.start()
    try:
        assert LOCKED in client(server.url, retries=3).tags()
    finally:
        timer.join()


def test_dropped_connections_are_retried_then_reported(make_ollama_server):
    server = make_ollama_server()
    c = client(server.url, retries=2)
    server.drop_next = 2
    assert c.chat(LOCKED, HI, options=SHORT).done
    assert server.drop_next == 0 and len(server.requests) == 3
    server.drop_next = 3
    with pytest.raises(LLMError, match="closed the connection without answering .*try again"):
        c.chat(LOCKED, HI, options=SHORT)
    assert len(server.requests) == 6


@pytest.mark.timeout(60)
def test_timeouts_are_not_retried(make_ollama_server, caplog):
    caplog.set_level(logging.INFO, logger="kb.models.ollama")
    server = make_ollama_server(delay=20.0)
    c = client(server.url, timeout=0.3, retries=3)
    for call in (c.tags, lambda: c.chat(LOCKED, HI, options=SHORT),
                 lambda: list(c.stream_chat(LOCKED, HI, options=SHORT)),
                 lambda: c.embed("nomic-embed-text", ["x"])):
        with pytest.raises(ModelTimeout) as exc:
            call()
        assert "did not answer within 0.3 seconds" in str(exc.value)
        assert "ollama.timeout (KB_OLLAMA_TIMEOUT)" in str(exc.value)
    assert len(server.requests) == 4 and not retry_records(caplog)


def test_client_errors_are_not_retried(make_ollama_server):
    from kb.models.ollama_client import ModelNotFound

    server = make_ollama_server()
    c = client(server.url, retries=3)
    with pytest.raises(ModelNotFound, match=r"does not have the model nope:1b: run `kb models pull`"):
        c.chat("nope:1b", HI, options=SHORT)
    with pytest.raises(LLMError, match="answered HTTP 404: model 'nope:1b' not found"):
        list(c.pull("nope:1b"))
    assert len(server.requests) == 2


def test_an_error_line_in_a_stream_is_reported(make_ollama_server):
    server = make_ollama_server()
    c = client(server.url, retries=3)
    server.break_stream_how = "error"
    server.break_stream_after = 0  # in place of the first part: reported, not retried
    with pytest.raises(LLMError, match=r"reported an error: the model runner stopped"):
        list(c.stream_chat(LOCKED, HI, options=SHORT))
    server.break_stream_after = 2  # mid-answer
    parts = []
    with pytest.raises(LLMError, match=r"broke off the answer \(it reported: the model runner "
                                       r"stopped \(test knob\)\): try again"):
        for part in c.stream_chat(LOCKED, HI, options={**SHORT, "num_predict": 20}):
            parts.append(part)
    assert len(parts) == 2 and not parts[-1].done
    assert len(server.requests) == 2


def test_an_invalid_request_is_reported_without_sending_it(make_ollama_server):
    server = make_ollama_server()
    with pytest.raises(LLMError, match="kb built an invalid request for Ollama"):
        client(server.url).chat("", HI, options=SHORT)
    assert server.requests == []


# --- proxies ----------------------------------------------------------------------------------
@pytest.mark.parametrize("host, local", [
    ("http://127.0.0.1:11434", True), ("http://127.8.9.1:80", True), ("http://[::1]:11434", True),
    ("http://localhost:11434", True), ("http://ollama.localhost:1", True),
    ("http://0.0.0.0:11434", True), ("http://[::]:11434", True),
    ("http://192.168.1.20:11434", False), ("https://ollama.example.org:443", False),
    ("http://[2001:db8::1]:11434", False), ("http://localhost.example.org:11434", False)])
def test_which_hosts_are_local(host, local):
    from kb.models.ollama_client import OllamaClient, is_local_host

    assert is_local_host(host) is local
    assert OllamaClient(host).uses_env_proxy is not local


def test_loopback_is_never_proxied(make_ollama_server, proxy_env, monkeypatch):
    """A proxy in the environment (here one that is down) must not break the local Ollama."""
    from kb.embed.ollama import load_ollama_embedder
    from kb.models.status import models_status, pull
    from kb.settings import load_settings

    server = make_ollama_server(present=[LOCKED, "nomic-embed-text"])
    proxy_env(f"http://127.0.0.1:{free_port()}")
    for url in (server.url, f"http://localhost:{server.port}"):
        c = client(url, retries=0)
        assert LOCKED in c.tags()
        assert c.chat(LOCKED, HI, options=SHORT).done
        assert list(c.stream_chat(LOCKED, HI, options=SHORT))[-1].done
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    monkeypatch.setenv("KB_EMBED_OLLAMA_MODEL", "nomic-embed-text:latest")  # any dim goes
    s = load_settings()
    assert len(load_ollama_embedder(s).embed_query("x")) == 576
    pull(s, "qwen2.5:3b-instruct")
    llm = next(r for r in models_status(s)["roles"] if r["role"] == "llm")
    assert llm["reachable"] is True and llm["present"] is True
    assert server.proxied == []


def test_a_remote_host_goes_through_the_environment_proxy(make_ollama_server, proxy_env):
    """As Ollama's own clients do: here the test server is the proxy, and the Ollama host's
    name never has to resolve (the proxy is asked for it)."""
    server = make_ollama_server()
    proxy_env(server.url)
    c = client("http://ollama.invalid:11434", retries=0)
    assert c.uses_env_proxy
    assert LOCKED in c.tags()
    assert c.chat(LOCKED, HI, options=SHORT).message.content
    assert server.proxied == ["http://ollama.invalid:11434/api/tags",
                              "http://ollama.invalid:11434/api/chat"]


def test_a_remote_host_behind_a_proxy_that_is_down_is_unreachable(proxy_env):
    from kb.models.ollama_client import OllamaUnreachable

    proxy_env(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(OllamaUnreachable, match=r"cannot reach Ollama at http://ollama.invalid"):
        client("http://ollama.invalid:11434", retries=0).tags()


# --- pull -------------------------------------------------------------------------------------
def test_pull_reports_progress_and_makes_the_tag_present(make_ollama_server, monkeypatch):
    from kb.models.status import pull
    from kb.settings import load_settings

    server = make_ollama_server(present=[])
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    events: list[tuple[str, str, int | None, int | None]] = []
    pull(load_settings(), LOCKED, lambda *e: events.append(e))
    assert events[0] == (LOCKED, "pulling manifest", None, None)
    assert events[-1] == (LOCKED, "success", None, None)
    sizes = [(done, total) for _t, status, done, total in events if total]
    assert len(sizes) == 5 and {total for _d, total in sizes} == {server.model_host.size}
    assert [d for d, _t in sizes] == sorted(d for d, _t in sizes)
    assert sizes[-1][0] == sizes[-1][1]
    assert [b for _m, p, b in server.requests if p == "/api/pull"] == [
        {"model": LOCKED, "stream": True, "insecure": False}]
    assert LOCKED in client(server.url).tags()


@pytest.mark.parametrize("how", ["hangup", "end"])
def test_a_pull_that_stops_before_success_raises(make_ollama_server, monkeypatch, how):
    from kb.models.status import pull
    from kb.settings import load_settings

    server = make_ollama_server(present=[])
    server.break_stream_after, server.break_stream_how = 3, how
    monkeypatch.setenv("OLLAMA_HOST", server.url)
    events: list[str] = []
    with pytest.raises(LLMError, match=f"broke off the download of {LOCKED} .*try again"):
        pull(load_settings(), LOCKED, lambda tag, status, done, total: events.append(status))
    assert len(events) == 3 and "success" not in events
    assert len(server.requests) == 1
