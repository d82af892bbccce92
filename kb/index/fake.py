"""An in-memory :class:`~kb.index.vector.VectorIndex` with exact cosine similarity.

Deterministic and dependency-free, for tests (built into a :class:`kb.runtime.Runtime` by
hand); it passes the same conformance tests as the Chroma index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from kb.index.vector import Metadata, VectorHit, VectorIndexError, Where, check_where, matches


class FakeIndex:
    def __init__(self, model_id: str = "fake", dim: int = 384) -> None:
        self._model_id, self._dim = model_id, dim
        self._vectors: dict[str, list[float]] = {}
        self._meta: dict[str, Metadata] = {}

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def add(self, ids: Sequence[str], embeddings: Sequence[Sequence[float]],
            metadatas: Sequence[Metadata]) -> None:
        rows = list(zip(ids, embeddings, metadatas, strict=True))
        for cid, vec, _ in rows:
            if len(vec) != self._dim:
                raise VectorIndexError(f"chunk {cid}: a {len(vec)}-dim vector for a "
                                       f"{self._dim}-dim index ({self._model_id})")
        for cid, vec, meta in rows:
            self._vectors[cid] = [float(x) for x in vec]
            self._meta[cid] = dict(meta)

    def existing(self, ids: Sequence[str]) -> set[str]:
        return {i for i in ids if i in self._vectors}

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        return {i: list(self._vectors[i]) for i in ids if i in self._vectors}

    def delete(self, ids: Sequence[str]) -> None:
        for i in ids:
            self._vectors.pop(i, None)
            self._meta.pop(i, None)

    def query(self, embedding: Sequence[float], k: int,
              where: Where | None = None) -> list[VectorHit]:
        check_where(where)
        if len(embedding) != self._dim:
            raise VectorIndexError(f"a {len(embedding)}-dim query for a {self._dim}-dim index "
                                   f"({self._model_id})")
        q = [float(x) for x in embedding]
        qn = math.sqrt(sum(x * x for x in q)) or 1.0
        hits = []
        for cid, vec in self._vectors.items():
            if matches(self._meta[cid], where):
                vn = math.sqrt(sum(x * x for x in vec)) or 1.0
                hits.append(VectorHit(cid, sum(a * b for a, b in zip(q, vec, strict=True))
                                      / (qn * vn)))
        hits.sort(key=lambda h: (-h.score, h.chunk_id))
        return hits[:max(0, k)]

    def count(self) -> int:
        return len(self._vectors)

    def all_ids(self) -> set[str]:
        return set(self._vectors)

    def clear(self) -> None:
        self._vectors.clear()
        self._meta.clear()
