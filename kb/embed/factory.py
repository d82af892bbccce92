"""Choose the embedder from settings; one instance per process and configuration."""

from __future__ import annotations

import threading
from typing import Any

from kb.embed.base import Embedder, EmbedderError

_cache: dict[tuple[Any, ...], Embedder] = {}
_lock = threading.Lock()


def _key(settings: Any) -> tuple[Any, ...]:
    e = settings.embed
    key: tuple[Any, ...] = (e.backend, e.batch_size, e.threads, str(settings.models_lock_path))
    if e.backend == "ollama":
        key += (settings.ollama.host, e.ollama_model)
    return key


def get_embedder(settings: Any) -> Embedder:
    """The embedder of ``settings.embed.backend`` (onnx | ollama | fake), cached per process so
    the ONNX session is built once however many searches a process runs."""
    key = _key(settings)
    with _lock:
        emb = _cache.get(key)
        if emb is None:
            emb = _build(settings)
            _cache[key] = emb
        return emb


def _build(settings: Any) -> Embedder:
    backend = settings.embed.backend
    if backend == "onnx":
        from kb.embed.onnx import load_onnx_embedder

        return load_onnx_embedder(settings)
    if backend == "ollama":
        from kb.embed.ollama import load_ollama_embedder

        return load_ollama_embedder(settings)
    if backend == "fake":
        from kb.embed.fake import FakeEmbedder

        return FakeEmbedder(dim=384)  # wide enough that hash collisions stay rare
    raise EmbedderError(f"embed.backend: unknown backend {backend!r} (onnx, ollama or fake)")


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def use_with_llama_index(embedder: Embedder) -> Any:
    """Make ``embedder`` llama-index's embed model and set no LLM, so llama-index never reaches
    for its OpenAI defaults.  Returns the adapter."""
    from llama_index.core import Settings as LlamaSettings

    from kb.embed.llama_adapter import KbEmbedding

    adapter = KbEmbedding.wrap(embedder)
    current = LlamaSettings._embed_model  # read without triggering the OpenAI default
    if not (isinstance(current, KbEmbedding) and current.kb_embedder is embedder):
        LlamaSettings.embed_model = adapter
    if LlamaSettings._llm is None:
        from llama_index.core.llms.mock import MockLLM

        # explicit and silent (``llm = None`` prints to stdout); indexing and search use no LLM
        LlamaSettings.llm = MockLLM()
    return LlamaSettings._embed_model
