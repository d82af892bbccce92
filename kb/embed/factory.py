"""Building the embedder the settings select: ``embed.backend = onnx|ollama|fake``.

Only :class:`kb.runtime.Runtime` calls :func:`build_embedder` (once per process): the ONNX
session costs ~0.3 s to create, so everything else is handed the runtime's embedder.
"""

from __future__ import annotations

from kb.embed.base import Embedder, EmbedderError
from kb.settings import Settings


def build_embedder(settings: Settings) -> Embedder:
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
