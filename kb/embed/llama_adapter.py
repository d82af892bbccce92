"""A llama-index ``BaseEmbedding`` around any kb :class:`~kb.embed.base.Embedder`."""

from __future__ import annotations

from typing import Any

from llama_index.core.embeddings import BaseEmbedding
from pydantic import PrivateAttr

from kb.embed.base import Embedder


class KbEmbedding(BaseEmbedding):
    _embedder: Any = PrivateAttr()

    @classmethod
    def wrap(cls, embedder: Embedder) -> KbEmbedding:
        obj = cls(model_name=embedder.model_id, embed_batch_size=64)
        obj._embedder = embedder
        return obj

    @classmethod
    def class_name(cls) -> str:
        return "KbEmbedding"

    @property
    def kb_embedder(self) -> Embedder:
        return self._embedder  # type: ignore[no-any-return]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed_query(query)  # type: ignore[no-any-return]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed_documents([text])[0]  # type: ignore[no-any-return]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts)  # type: ignore[no-any-return]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)
