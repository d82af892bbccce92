"""A :class:`~kb.index.vector.VectorIndex` opened on its first use.

The runtime hands this out, so passing the index down costs nothing: a `kb daily` or
`kb search --mode keyword` that never queries vectors never imports Chroma."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from kb.index.vector import Metadata, VectorHit, VectorIndex, Where


class LazyIndex:
    def __init__(self, open_index: Callable[[], VectorIndex], model_id: str, dim: int) -> None:
        self._open = open_index
        self._model_id, self._dim = model_id, dim
        self._index: VectorIndex | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._index is not None

    @property
    def target(self) -> VectorIndex:
        """The opened index (opening it now if needed)."""
        with self._lock:
            if self._index is None:
                self._index = self._open()
            return self._index

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def add(self, ids: Sequence[str], embeddings: Sequence[Sequence[float]],
            metadatas: Sequence[Metadata]) -> None:
        self.target.add(ids, embeddings, metadatas)

    def existing(self, ids: Sequence[str]) -> set[str]:
        return self.target.existing(ids)

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        return self.target.get_embeddings(ids)

    def delete(self, ids: Sequence[str]) -> None:
        self.target.delete(ids)

    def query(self, embedding: Sequence[float], k: int,
              where: Where | None = None) -> list[VectorHit]:
        return self.target.query(embedding, k, where)

    def count(self) -> int:
        return self.target.count()

    def all_ids(self) -> set[str]:
        return self.target.all_ids()

    def clear(self) -> None:
        self.target.clear()
