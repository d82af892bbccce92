"""The Embedder seam."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class EmbedderError(RuntimeError):
    """The embedding model is missing, corrupt or unreachable; the message says how to fix it."""


@runtime_checkable
class Embedder(Protocol):
    """Turns text into unit-length vectors.  ``model_id`` names the model (and its digest or
    sha256 prefix) so an index built with one model is never queried with another."""

    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...
