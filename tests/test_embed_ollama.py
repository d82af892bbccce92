"""The Ollama embedder against the Ollama-protocol test server (real GGUF over loopback HTTP)."""

from __future__ import annotations

import numpy as np
import pytest

from kb.embed.base import EmbedderError
from kb.embed.factory import clear_cache, get_embedder


@pytest.fixture
def ollama_settings(monkeypatch, kb_home):
    def make(url: str, model: str = ""):
        from kb.settings import load_settings

        monkeypatch.setenv("KB_EMBED_BACKEND", "ollama")
        monkeypatch.setenv("OLLAMA_HOST", url)
        if model:
            monkeypatch.setenv("KB_EMBED_OLLAMA_MODEL", model)
        clear_cache()
        return load_settings()

    yield make
    clear_cache()


@pytest.mark.model
def test_ollama_embeddings_end_to_end_and_into_the_index(make_ollama_server, ollama_settings):
    from index_helpers import POSTS

    from kb.index.indexer import run_index
    from kb.index.vector import forget_clients
    from kb.retrieval import search
    from kb.settings import ensure_home
    from kb.store import Store
    from kb.store.posts import save_post

    server = make_ollama_server(tags=["test-embed"])
    s = ollama_settings(server.url, "test-embed")
    emb = get_embedder(s)
    assert emb.model_id == "ollama:test-embed:latest"
    vecs = np.array(emb.embed_documents(["reward hacking", "tomato garden", "reward hacking"]))
    assert vecs.shape[0] == 3 and emb.dim == vecs.shape[1] > 0
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vecs[0], vecs[2], atol=1e-4)
    ensure_home(s)
    st = Store(s.db_path)
    for p in POSTS:
        save_post(st, p)
    r = run_index(s, st, progress=False)
    assert r.model_id == emb.model_id and r.vectors_total == r.chunks_total > 0
    assert search(s, st, "induction head circuit", k=3, mode="vector")
    st.close()
    forget_clients()


@pytest.mark.model
def test_ollama_errors_are_one_clear_sentence(make_ollama_server, ollama_settings):
    server = make_ollama_server(tags=["other-model"])
    s = ollama_settings(server.url, "missing-model")
    with pytest.raises(EmbedderError, match="ollama pull missing-model"):
        get_embedder(s).embed_query("x")
    s = ollama_settings("http://127.0.0.1:9", "x")  # nothing listens on the discard port
    with pytest.raises(EmbedderError, match="not reachable"):
        get_embedder(s).embed_query("x")


@pytest.mark.model
def test_locked_model_with_other_dimension_is_refused(make_ollama_server, ollama_settings):
    server = make_ollama_server()  # serves models.lock's tags; its vectors are not 768-dim
    s = ollama_settings(server.url)
    emb = get_embedder(s)
    assert emb.model_id.startswith("ollama:nomic-embed-text:latest")
    with pytest.raises(EmbedderError, match="expected 768"):
        emb.embed_query("x")
