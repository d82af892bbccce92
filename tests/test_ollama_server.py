"""The Ollama-protocol test server itself speaks Ollama's API (checked with the `ollama`
client, the same library llama-index's Ollama integration uses)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

pytestmark = pytest.mark.model


def test_tags_show_and_unknown_model(ollama_server):
    tags = httpx.get(f"{ollama_server.url}/api/tags").json()["models"]
    names = {m["name"] for m in tags}
    assert "qwen2.5:7b-instruct" in names
    assert all(len(m["digest"]) == 64 for m in tags)
    show = httpx.post(f"{ollama_server.url}/api/show", json={"model": "qwen2.5:7b-instruct"}).json()
    arch = show["model_info"]["general.architecture"]
    assert show["model_info"][f"{arch}.context_length"] == 8192
    assert {"modelfile", "parameters", "template", "details"} <= show.keys()
    r = httpx.post(f"{ollama_server.url}/api/chat", json={"model": "nope:1b", "messages": []})
    assert r.status_code == 404
    assert r.json() == {"error": "model 'nope:1b' not found"}


def test_chat_with_the_ollama_client(ollama_server):
    import ollama

    client = ollama.Client(host=ollama_server.url)
    r = client.chat(model="qwen2.5:7b-instruct", messages=[{"role": "user", "content": "Hi"}],
                    options={"num_predict": 16, "temperature": 0, "num_ctx": 2048})
    assert r.done and r.done_reason in ("stop", "length")
    assert r.message.content.strip()
    assert r.eval_count and r.eval_count <= 16
    assert r.prompt_eval_count and r.prompt_eval_count > 5
    pieces = list(client.chat(model="qwen2.5:7b-instruct", stream=True,
                              messages=[{"role": "user", "content": "Count to ten"}],
                              options={"num_predict": 12, "temperature": 0}))
    assert len(pieces) > 3 and pieces[-1].done and not pieces[0].done
    with pytest.raises(ollama.ResponseError) as exc:
        client.chat(model="missing:7b", messages=[{"role": "user", "content": "Hi"}])
    assert exc.value.status_code == 404


def test_generate_json_format_and_embed(ollama_server):
    schema = {"type": "object", "properties": {"topic": {"type": "string"}},
              "required": ["topic"]}
    r = httpx.post(f"{ollama_server.url}/api/generate", timeout=60, json={
        "model": "qwen2.5:3b-instruct", "prompt": "Name the topic of: cats purr.",
        "format": schema, "stream": False, "options": {"num_predict": 40, "temperature": 0}})
    body = r.json()
    assert body["done"] is True
    for key in ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                "eval_count", "eval_duration", "done_reason"):
        assert key in body
    if body["done_reason"] == "stop":
        assert "topic" in json.loads(body["response"])
    e = httpx.post(f"{ollama_server.url}/api/embed", timeout=60,
                   json={"model": "nomic-embed-text", "input": ["alpha", "beta gamma"]}).json()
    assert len(e["embeddings"]) == 2 and len(e["embeddings"][0]) == 576
    one = httpx.post(f"{ollama_server.url}/api/embed", timeout=60,
                     json={"model": "nomic-embed-text", "input": "alpha"}).json()
    assert one["embeddings"][0] == pytest.approx(e["embeddings"][0], abs=1e-4)


def test_pull_streams_progress_and_makes_the_tag_present(make_ollama_server):
    server = make_ollama_server(present=[])
    assert httpx.get(f"{server.url}/api/tags").json()["models"] == []
    with httpx.stream("POST", f"{server.url}/api/pull", json={"model": "qwen2.5:7b-instruct"}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[-1] == {"status": "success"}
    assert any("completed" in x and "total" in x for x in lines)
    assert [m["name"] for m in httpx.get(f"{server.url}/api/tags").json()["models"]] == [
        "qwen2.5:7b-instruct"]
    assert httpx.post(f"{server.url}/api/pull", json={"model": "other:1b"}).status_code == 404


def test_stop_and_start_on_the_same_port(make_ollama_server):
    server = make_ollama_server()
    url = server.url
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/tags", timeout=2)
    server.start()
    assert server.url == url
    assert httpx.get(f"{url}/api/version", timeout=2).status_code == 200


def test_llama_index_ollama_llm_works_against_it(ollama_server):
    """llama-index's Ollama integration (used by other parts of kb) talks to it too."""
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.ollama import Ollama

    llm = Ollama(model="qwen2.5:7b-instruct", base_url=ollama_server.url, request_timeout=60,
                 temperature=0.0, additional_kwargs={"num_predict": 16})
    assert llm.metadata.context_window == 8192  # read from /api/show model_info
    r = llm.chat([ChatMessage(role="user", content="Say hello.")])
    assert r.message.content.strip()
    pieces = list(llm.stream_complete("Count to five."))
    assert len(pieces) > 1 and pieces[-1].text.strip()


@pytest.mark.timeout(60)
def test_client_hanging_up_mid_stream_frees_the_model(ollama_server):
    with httpx.stream("POST", f"{ollama_server.url}/api/chat", timeout=30, json={
            "model": "qwen2.5:7b-instruct", "messages": [{"role": "user", "content": "Tell a story."}],
            "options": {"num_predict": 200}}) as r:
        first = json.loads(next(r.iter_lines()))
        assert first["done"] is False
    r = httpx.post(f"{ollama_server.url}/api/generate", timeout=30, json={
        "model": "qwen2.5:7b-instruct", "prompt": "Hi", "stream": False,
        "options": {"num_predict": 4}})
    assert r.json()["done"] is True


def test_the_official_client_covers_the_api_kb_uses(make_ollama_server):
    import ollama

    server = make_ollama_server(present=["nomic-embed-text"])
    client = ollama.Client(host=server.url)
    assert [m.model for m in client.list().models] == ["nomic-embed-text:latest"]
    info = client.show("nomic-embed-text").modelinfo or {}
    assert info["llama.context_length"] == 8192
    e = client.embed(model="nomic-embed-text", input=["alpha", "beta"], truncate=True)
    assert len(e.embeddings) == 2 and len(e.embeddings[0]) == 576
    parts = list(client.pull("qwen2.5:7b-instruct", stream=True))
    assert parts[0].status == "pulling manifest" and parts[-1].status == "success"
    assert any(p.total and p.completed is not None for p in parts)
    r = client.chat(model="qwen2.5:7b-instruct", messages=[{"role": "user", "content": "Hi"}],
                    format={"type": "object", "properties": {"a": {"type": "integer"}},
                            "required": ["a"]},
                    options={"num_predict": 16, "temperature": 0, "num_ctx": 1024})
    assert r.done
    sent = server.requests[-1][2]
    assert sent["format"]["required"] == ["a"] and sent["options"]["num_ctx"] == 1024
    assert all(ua.startswith("ollama-python/") for ua in server.user_agents)


def test_chunked_bodies_and_absolute_form_targets_are_accepted(make_ollama_server):
    server = make_ollama_server()

    def chunks():
        yield b'{"model": "qwen2.5:7b-instruct", '
        yield b'"messages": []}'

    r = httpx.post(f"{server.url}/api/chat", content=chunks(), timeout=30)
    assert r.status_code == 200 and r.json()["done_reason"] == "load"
    assert server.requests[-1] == ("POST", "/api/chat",
                                   {"model": "qwen2.5:7b-instruct", "messages": []})
    with httpx.Client(proxy=server.url, timeout=30) as proxied:
        tags = proxied.get("http://ollama.invalid:11434/api/tags").json()["models"]
    assert "qwen2.5:7b-instruct" in {m["name"] for m in tags}
    assert server.proxied == ["http://ollama.invalid:11434/api/tags"]
    assert server.requests[-1][:2] == ("GET", "/api/tags")


def test_fault_knobs_drop_and_break(make_ollama_server):
    server = make_ollama_server()
    server.drop_next = 1
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{server.url}/api/tags", timeout=10)
    assert httpx.get(f"{server.url}/api/tags", timeout=10).status_code == 200
    body = {"model": "qwen2.5:7b-instruct", "messages": [{"role": "user", "content": "Count."}],
            "options": {"num_predict": 20}}
    server.break_stream_after = 2
    with (httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=30) as r,
          pytest.raises(httpx.RemoteProtocolError)):
        list(r.iter_lines())
    for how, check in (("garble", lambda lines: not lines[-1].endswith("}")),
                       ("end", lambda lines: not json.loads(lines[-1])["done"])):
        server.break_stream_how = how
        with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=30) as r:
            lines = [line for line in r.iter_lines() if line]
        assert len(lines) == (3 if how == "garble" else 2) and check(lines)
    server.break_stream_after = None
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=30) as r:
        assert json.loads([line for line in r.iter_lines() if line][-1])["done"] is True


def test_another_loopback_address_and_a_slow_first_token(make_ollama_server):
    from faults_support import ScriptedHost

    server = make_ollama_server(address="127.0.0.2", host=ScriptedHost(), first_token_delay=0.6)
    assert server.url == f"http://127.0.0.2:{server.port}"
    t0 = time.monotonic()
    assert httpx.get(f"{server.url}/api/tags", timeout=5).status_code == 200
    assert time.monotonic() - t0 < 0.6  # only answers wait for their first token
    body = {"model": "qwen2.5:7b-instruct", "messages": [{"role": "user", "content": "Hi"}]}
    t0 = time.monotonic()
    with httpx.stream("POST", f"{server.url}/api/chat", json=body, timeout=5) as r:
        headers_after = time.monotonic() - t0  # a stream's headers come at once
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert headers_after < 0.6 <= time.monotonic() - t0 and lines[-1]["done"] is True
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/api/chat", json=body | {"stream": False}, timeout=0.2)
    server.stop()
    server.start()  # the same address and port
    assert server.url == f"http://127.0.0.2:{server.port}"
    assert httpx.get(f"{server.url}/api/version", timeout=5).status_code == 200
    try:
        v6 = make_ollama_server(address="::1", host=ScriptedHost())
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert v6.url == f"http://[::1]:{v6.port}"
    assert httpx.get(f"{v6.url}/api/version", timeout=5).status_code == 200


def test_break_knobs_on_non_streamed_answers(make_ollama_server):
    from faults_support import ScriptedHost, scripted_reply

    server = make_ollama_server(host=ScriptedHost())
    body = {"model": "qwen2.5:7b-instruct", "messages": [{"role": "user", "content": "Hi"}],
            "stream": False}
    server.break_stream_after = 1  # ScriptedHost answers in one piece, then the final line
    server.break_stream_how = "hangup"
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{server.url}/api/chat", json=body, timeout=10)
    server.break_stream_how = "garble"
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=10)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    server.break_stream_how = "error"
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=10)
    assert r.status_code == 500 and r.json() == {"error": "the model runner stopped (test knob)"}
    server.break_stream_how = "end"
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=10).json()
    assert r["done"] is False and r["message"]["content"] == scripted_reply(None)
    server.break_stream_after = None
    r = httpx.post(f"{server.url}/api/chat", json=body, timeout=10).json()
    assert r["done"] is True and r["message"]["content"] == scripted_reply(None)
