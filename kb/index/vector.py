"""The VectorIndex seam and its Chroma implementation (through llama-index's ChromaVectorStore).

One collection per embedding model, named from the model id, with the model id and dimension in
its metadata: opening it with another model or dimension is refused.  Cosine space.  Vectors are
always passed in; Chroma's default embedding function never runs (``embedding_function=None``),
and telemetry is off.  The index holds only vectors and filter metadata: passage text lives in
SQLite, the source of truth, from which ``kb reindex`` rebuilds everything.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

CHUNK_META_KEYS = ("post_id", "published_ts", "is_af", "site")


class VectorIndexError(RuntimeError):
    """The vector index cannot be used as asked; the message says why and what to do."""


@dataclass
class VectorHit:
    chunk_id: str
    score: float  # cosine similarity


class VectorIndex(Protocol):
    model_id: str
    dim: int

    def add(self, ids: Sequence[str], embeddings: Any, metadatas: Sequence[dict[str, Any]]) -> None: ...

    def existing(self, ids: Sequence[str]) -> set[str]: ...

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(self, embedding: Sequence[float], k: int,
              where: dict[str, Any] | None = None) -> list[VectorHit]: ...

    def count(self) -> int: ...

    def all_ids(self) -> set[str]: ...


def collection_name(model_id: str) -> str:
    """A valid Chroma collection name for a model id (3-512 chars of [A-Za-z0-9._-])."""
    name = "kb-" + re.sub(r"[^A-Za-z0-9._-]+", "-", model_id).strip("-._")
    return name[:500].rstrip("-._")


_clients: dict[tuple[str, ...], Any] = {}
_clients_lock = threading.Lock()


def _client(settings: Any) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    ix = settings.index
    key = (("http", ix.chroma_host, str(ix.chroma_port)) if ix.chroma == "http"
           else ("persistent", str(settings.chroma_path)))
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            cs = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
            try:
                if ix.chroma == "http":
                    client = chromadb.HttpClient(host=ix.chroma_host, port=ix.chroma_port,
                                                 settings=cs)
                else:
                    settings.chroma_path.mkdir(parents=True, exist_ok=True)
                    client = chromadb.PersistentClient(path=str(settings.chroma_path), settings=cs)
            except Exception as exc:
                where = (f"Chroma server {ix.chroma_host}:{ix.chroma_port}" if ix.chroma == "http"
                         else f"{settings.chroma_path}")
                raise VectorIndexError(f"{where}: cannot open the vector index ({exc}); "
                                       "`kb reindex` rebuilds it from the database") from exc
            _clients[key] = client
        return client


def forget_clients() -> None:
    """Drop cached clients (after the Chroma directory was removed)."""
    with _clients_lock:
        _clients.clear()
        _indexes.clear()
    try:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # pragma: no cover - older/newer chromadb layouts
        pass


class ChromaIndex:
    """Vectors of one embedding model in one Chroma collection."""

    def __init__(self, settings: Any, model_id: str, dim: int) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.model_id, self.dim = model_id, dim
        self.name = collection_name(model_id)
        client = _client(settings)
        meta = {"hnsw:space": "cosine", "kb_model_id": model_id, "kb_dim": dim}
        try:
            self.collection = client.get_or_create_collection(self.name, metadata=meta,
                                                              embedding_function=None)
        except Exception as exc:
            raise VectorIndexError(f"vector index {self.name}: cannot open the collection "
                                   f"({exc}); `kb reindex` rebuilds it from the database") from exc
        have = self.collection.metadata or {}
        if have.get("kb_model_id") != model_id or int(have.get("kb_dim", -1)) != dim:
            raise VectorIndexError(
                f"vector collection {self.name} was built with model {have.get('kb_model_id')!r} "
                f"(dim {have.get('kb_dim')}), not {model_id!r} (dim {dim}): refusing to mix "
                "models; run `kb reindex`")
        self.store = ChromaVectorStore(chroma_collection=self.collection)

    def add(self, ids: Sequence[str], embeddings: Any, metadatas: Sequence[dict[str, Any]]) -> None:
        from llama_index.core.schema import TextNode

        nodes: list[Any] = []
        for cid, vec, meta in zip(ids, embeddings, metadatas, strict=True):
            if len(vec) != self.dim:
                raise VectorIndexError(f"chunk {cid}: a {len(vec)}-dim vector for a {self.dim}-dim "
                                       f"index ({self.model_id})")
            # text stays in SQLite: no document text or relationships are copied into Chroma
            nodes.append(TextNode(id_=cid, text="", embedding=[float(x) for x in vec],
                                  metadata=meta, excluded_embed_metadata_keys=[],
                                  excluded_llm_metadata_keys=[]))
        if nodes:
            self.store.add(nodes)

    def existing(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.collection.get(ids=list(ids), include=[])["ids"])

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {i: [float(x) for x in e] for i, e in zip(got["ids"], got["embeddings"],
                                                         strict=True)}

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.store.delete_nodes(node_ids=list(ids))

    def query(self, embedding: Sequence[float], k: int,
              where: dict[str, Any] | None = None) -> list[VectorHit]:
        import math

        from llama_index.core.vector_stores.types import VectorStoreQuery

        res = self.store.query(VectorStoreQuery(query_embedding=list(embedding),
                                                similarity_top_k=k, filters=_filters(where)))
        # ChromaVectorStore reports exp(-distance); cosine similarity is 1 - distance
        return [VectorHit(i, 1.0 + math.log(max(s, 1e-30)))
                for i, s in zip(res.ids or [], res.similarities or [], strict=True)]

    def count(self) -> int:
        return int(self.collection.count())

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        offset, page = 0, 5000
        while True:
            got = self.collection.get(include=[], limit=page, offset=offset)["ids"]
            out.update(got)
            if len(got) < page:
                return out
            offset += page


def _filters(where: dict[str, Any] | None) -> Any:
    """kb's small filter dict -> llama-index MetadataFilters (translated to a Chroma where)."""
    if not where:
        return None
    from llama_index.core.vector_stores.types import (
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )

    ops = {"gte": FilterOperator.GTE, "lte": FilterOperator.LTE, "eq": FilterOperator.EQ,
           "in": FilterOperator.IN}
    items: list[MetadataFilter | MetadataFilters] = []
    for key, cond in where.items():
        for op, value in cond.items():
            items.append(MetadataFilter(key=key, operator=ops[op], value=value))
    return MetadataFilters(filters=items)


_indexes: dict[tuple[str, ...], ChromaIndex] = {}


def open_index(settings: Any, model_id: str, dim: int) -> ChromaIndex:
    """The index of ``model_id``, opened once per process (search pays Chroma's start-up once)."""
    ix = settings.index
    key = (ix.chroma, ix.chroma_host, str(ix.chroma_port), str(settings.chroma_path), model_id,
           str(dim))
    index = _indexes.get(key)
    if index is None:
        index = _indexes[key] = ChromaIndex(settings, model_id, dim)
    return index


def drop_index(settings: Any, model_id: str) -> None:
    """Remove the vectors of ``model_id`` so they can be rebuilt from SQLite.

    A Chroma server: delete the collection.  The local index: remove the whole Chroma directory
    (it holds only vectors derived from SQLite, and may be damaged — this is the recovery path)."""
    if settings.index.chroma == "http":
        client = _client(settings)
        name = collection_name(model_id)
        if name in {getattr(c, "name", c) for c in client.list_collections()}:
            client.delete_collection(name)
        forget_clients()
        return
    forget_clients()
    shutil.rmtree(settings.chroma_path, ignore_errors=True)
