"""The Ollama embedder against the Ollama-protocol test server (real GGUF over loopback HTTP)."""

from __future__ import annotations

import numpy as np
import pytest

from kb.embed.base import EmbedderError
from kb.embed.factory import build_embedder


@pytest.fixture
def ollama_settings(monkeypatch, kb_home):
    def make(url: str, model: str = "", **env: str):
        from kb.settings import load_settings

        monkeypatch.setenv("KB_EMBED_BACKEND", "ollama")
        monkeypatch.setenv("OLLAMA_HOST", url)
        if model:
            monkeypatch.setenv("KB_EMBED_OLLAMA_MODEL", model)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        return load_settings()

    return make


def embed_requests(server) -> int:
    return sum(1 for _m, path, _b in server.requests if path == "/api/embed")


@pytest.mark.model
def test_ollama_embeddings_end_to_end_and_into_the_index(make_ollama_server, ollama_settings):
    from index_helpers import POSTS

    from kb.embed.ollama import OllamaEmbedder
    from kb.index.indexer import run_index
    from kb.retrieval import search
    from kb.runtime import Runtime
    from kb.store.posts import save_post

    server = make_ollama_server(tags=["test-embed"])
    s = ollama_settings(server.url, "test-embed")
    emb = build_embedder(s)
    assert isinstance(emb, OllamaEmbedder)
    assert emb.model_id == "ollama:test-embed:latest"
    vecs = np.array(emb.embed_documents(["reward hacking", "tomato garden", "reward hacking"]))
    assert vecs.shape[0] == 3 and emb.dim == vecs.shape[1] > 0
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vecs[0], vecs[2], atol=1e-4)
    with Runtime(s) as rt:
        for p in POSTS:
            save_post(rt.store, p)
        r = run_index(rt.store, rt.embedder, rt.index)
        assert r.model_id == emb.model_id and r.vectors_total == r.chunks_total > 0
        assert search(rt.store, rt.embedder, rt.index, "induction head circuit", k=3,
                      mode="vector")


@pytest.mark.model
def test_ollama_errors_are_one_clear_sentence(make_ollama_server, ollama_settings):
    server = make_ollama_server(tags=["other-model"])
    s = ollama_settings(server.url, "missing-model")
    with pytest.raises(EmbedderError, match="ollama pull missing-model"):
        build_embedder(s).embed_query("x")
    s = ollama_settings("http://127.0.0.1:9", "x", KB_OLLAMA_RETRIES="0")  # the discard port
    with pytest.raises(EmbedderError, match="not reachable") as exc:
        build_embedder(s).embed_query("x")
    assert str(exc.value) == ("Ollama at http://127.0.0.1:9 is not reachable for embeddings: "
                              "start it with `ollama serve`, set OLLAMA_HOST, or use "
                              "KB_EMBED_BACKEND=onnx")


@pytest.mark.model
@pytest.mark.timeout(60)
def test_embedder_has_the_clients_retry_and_timeout_policy(make_ollama_server, ollama_settings):
    server = make_ollama_server(tags=["test-embed"])
    emb = build_embedder(ollama_settings(server.url, "test-embed", KB_OLLAMA_RETRIES="2",
                                         KB_OLLAMA_TIMEOUT="60"))
    server.fail_next = 2  # 503, 503, then the vectors
    assert len(emb.embed_query("x")) == 576
    assert embed_requests(server) == 3
    # a short timeout only now: the real model's first answer may take longer on a busy machine
    emb = build_embedder(ollama_settings(server.url, "test-embed", KB_OLLAMA_RETRIES="2",
                                         KB_OLLAMA_TIMEOUT="0.5"))
    server.delay = 20.0
    with pytest.raises(EmbedderError, match=r"did not answer within 0.5 seconds.*ollama.timeout"):
        emb.embed_query("x")
    assert embed_requests(server) == 4  # a timeout is not retried


@pytest.mark.model
def test_locked_model_with_other_dimension_is_refused(make_ollama_server, ollama_settings):
    server = make_ollama_server()  # serves models.lock's tags; its vectors are not 768-dim
    s = ollama_settings(server.url)
    emb = build_embedder(s)
    assert emb.model_id.startswith("ollama:nomic-embed-text:latest")
    with pytest.raises(EmbedderError, match="expected 768"):
        emb.embed_query("x")
