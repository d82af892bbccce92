"""The VectorIndex seam: what the indexer and retrieval need from a vector store.

Two implementations: :class:`kb.index.chroma.ChromaIndex` (Chroma on disk or a Chroma server,
written through llama-index's ``ChromaVectorStore``) and :class:`kb.index.fake.FakeIndex`
(in memory, exact cosine) for tests.  Both pass the same conformance tests
(tests/test_vector_index.py).  An index holds the vectors of one embedding model only, plus a
little metadata to filter on; passage text lives in SQLite, the source of truth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

# what the indexer stores with each vector (see kb.index.indexer.chunk_meta)
CHUNK_META_KEYS = ("post_id", "published_ts", "is_af", "site")

MetaValue = str | int | float | bool
Metadata = dict[str, MetaValue]
# kb's small filter language: {"published_ts": {"gte": 1700000000}, "post_id": {"in": [...]}}
Condition = dict[str, MetaValue | list[str]]
Where = dict[str, Condition]
OPS = ("gte", "lte", "eq", "in")


class VectorIndexError(RuntimeError):
    """The vector index cannot be used as asked; the message says why and what to do."""


@dataclass
class VectorHit:
    chunk_id: str
    score: float  # cosine similarity, in [-1, 1]


class VectorIndex(Protocol):
    @property
    def model_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def add(self, ids: Sequence[str], embeddings: Sequence[Sequence[float]],
            metadatas: Sequence[Metadata]) -> None:
        """Store vectors (an id already present is overwritten)."""
        ...

    def existing(self, ids: Sequence[str]) -> set[str]: ...

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, embedding: Sequence[float], k: int,
              where: Where | None = None) -> list[VectorHit]:
        """The ``k`` nearest vectors whose metadata satisfies ``where``, best first."""
        ...

    def count(self) -> int: ...

    def all_ids(self) -> set[str]: ...

    def clear(self) -> None:
        """Remove every vector of this index."""
        ...


def collection_name(model_id: str) -> str:
    """A valid Chroma collection name for a model id (3-512 chars of [A-Za-z0-9._-])."""
    name = "kb-" + re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-._")
    return name[:500].rstrip("-._")


def check_where(where: Where | None) -> None:
    for key, cond in (where or {}).items():
        for op in cond:
            if op not in OPS:
                raise VectorIndexError(f"filter on {key}: unknown operator {op!r} "
                                       f"({', '.join(OPS)})")


def _holds(value: MetaValue | None, op: str, want: MetaValue | list[str]) -> bool:
    if op == "in":
        return isinstance(want, list) and value in want
    if value is None or isinstance(want, list):
        return False
    if op == "eq":
        return value == want
    if isinstance(value, str) != isinstance(want, str):  # a string is never ordered with a number
        return False
    if isinstance(value, str) and isinstance(want, str):
        return value >= want if op == "gte" else value <= want
    a, b = float(value), float(want)
    return a >= b if op == "gte" else a <= b


def matches(meta: Metadata, where: Where | None) -> bool:
    """Whether ``meta`` satisfies ``where`` (the reference semantics of the filter language)."""
    return all(_holds(meta.get(key), op, want)
               for key, cond in (where or {}).items() for op, want in cond.items())
