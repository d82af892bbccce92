"""The Chroma :class:`~kb.index.vector.VectorIndex`: on disk (``PersistentClient`` under
``$KB_HOME/chroma``) or on a Chroma server (``index.chroma = "http"``).

One collection per embedding model, named from the model id, with the model id and dimension
in its metadata: opening it with another model or dimension is refused.  Cosine space.
Vectors are always passed in: Chroma's default embedding function never runs
(``embedding_function=None``) and telemetry is off.

Writes go through llama-index's ``ChromaVectorStore`` (nodes with metadata, deletion by node
id).  Reads that the wrapper cannot do are asked of the Chroma collection directly: a kNN
query that reports Chroma's cosine distance (similarity = 1 - distance, Chroma's definition
for ``hnsw:space = cosine``), stored embeddings, existence and counts.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from kb.index.vector import (
    Metadata,
    VectorHit,
    VectorIndexError,
    Where,
    check_where,
    collection_name,
)
from kb.settings import Settings

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

PAGE = 5000  # ids per page when listing a collection


def chroma_client(settings: Settings) -> ClientAPI:
    """A Chroma client for the settings (telemetry off).  Raises VectorIndexError naming
    the directory or server when Chroma cannot be opened."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    ix = settings.index
    cs = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    try:
        if ix.chroma == "http":
            return chromadb.HttpClient(host=ix.chroma_host, port=ix.chroma_port, settings=cs)
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=cs)
    except Exception as exc:
        raise VectorIndexError(f"{_where(settings)}: cannot open the vector index ({exc}); "
                               "`kb reindex` rebuilds it from the database") from exc


def _where(settings: Settings) -> str:
    ix = settings.index
    return (f"Chroma server {ix.chroma_host}:{ix.chroma_port}" if ix.chroma == "http"
            else str(settings.chroma_path))


def chroma_where(where: Where | None) -> dict[str, Any] | None:
    """kb's filter dict as a Chroma ``where`` clause."""
    check_where(where)
    clauses: list[dict[str, Any]] = []
    for key, cond in (where or {}).items():
        for op, value in cond.items():
            clauses.append({key: {f"${'in' if op == 'in' else op}": value}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ChromaIndex:
    """Vectors of one embedding model in one Chroma collection."""

    def __init__(self, client: ClientAPI, model_id: str, dim: int) -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self._model_id, self._dim = model_id, dim
        self.name = collection_name(model_id)
        self._client = client
        meta = {"hnsw:space": "cosine", "kb_model_id": model_id, "kb_dim": dim}
        try:
            self.collection = client.get_or_create_collection(self.name, metadata=meta,
                                                              embedding_function=None)
        except Exception as exc:
            raise VectorIndexError(f"vector index {self.name}: cannot open the collection "
                                   f"({exc}); `kb reindex` rebuilds it from the database") from exc
        have = self.collection.metadata or {}
        if have.get("kb_model_id") != model_id or int(str(have.get("kb_dim", -1))) != dim:
            raise VectorIndexError(
                f"vector collection {self.name} was built with model {have.get('kb_model_id')!r} "
                f"(dim {have.get('kb_dim')}), not {model_id!r} (dim {dim}): refusing to mix "
                "models; run `kb reindex`")
        self.store = ChromaVectorStore(chroma_collection=self.collection)

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def dim(self) -> int:
        return self._dim

    def add(self, ids: Sequence[str], embeddings: Sequence[Sequence[float]],
            metadatas: Sequence[Metadata]) -> None:
        from llama_index.core.schema import TextNode

        nodes: list[Any] = []
        for cid, vec, meta in zip(ids, embeddings, metadatas, strict=True):
            if len(vec) != self._dim:
                raise VectorIndexError(f"chunk {cid}: a {len(vec)}-dim vector for a "
                                       f"{self._dim}-dim index ({self._model_id})")
            # text stays in SQLite: no document text or relationships are copied into Chroma
            nodes.append(TextNode(id_=cid, text="", embedding=[float(x) for x in vec],
                                  metadata=dict(meta), excluded_embed_metadata_keys=[],
                                  excluded_llm_metadata_keys=[]))
        if nodes:
            present = self.existing([n.node_id for n in nodes])
            if present:  # Chroma ignores an add of a present id: replace it
                self.collection.delete(ids=sorted(present))
            self.store.add(nodes)

    def existing(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        return set(self.collection.get(ids=list(ids), include=[])["ids"])

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        vecs = got["embeddings"]
        if vecs is None:
            return {}
        return {i: [float(x) for x in e] for i, e in zip(got["ids"], vecs, strict=True)}

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.store.delete_nodes(node_ids=list(ids))

    def query(self, embedding: Sequence[float], k: int,
              where: Where | None = None) -> list[VectorHit]:
        if k <= 0:
            return []
        if len(embedding) != self._dim:
            raise VectorIndexError(f"a {len(embedding)}-dim query for a {self._dim}-dim index "
                                   f"({self._model_id})")
        res = self.collection.query(query_embeddings=[float(x) for x in embedding],
                                    n_results=k, where=chroma_where(where),
                                    include=["distances"])
        ids = (res["ids"] or [[]])[0]
        dists = (res["distances"] or [[]])[0]
        return [VectorHit(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]

    def count(self) -> int:
        return int(self.collection.count())

    def all_ids(self) -> set[str]:
        out: set[str] = set()
        offset = 0
        while True:
            got = self.collection.get(include=[], limit=PAGE, offset=offset)["ids"]
            out.update(got)
            if len(got) < PAGE:
                return out
            offset += PAGE

    def clear(self) -> None:
        """Delete and recreate this model's collection (other models' are untouched)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        meta = {"hnsw:space": "cosine", "kb_model_id": self._model_id, "kb_dim": self._dim}
        with suppress(Exception):  # not there (any more): nothing to clear
            self._client.delete_collection(self.name)
        self.collection = self._client.get_or_create_collection(self.name, metadata=meta,
                                                                embedding_function=None)
        self.store = ChromaVectorStore(chroma_collection=self.collection)


def open_chroma(settings: Settings, model_id: str, dim: int) -> ChromaIndex:
    """The index of ``model_id`` on the store the settings name."""
    return ChromaIndex(chroma_client(settings), model_id, dim)


def drop_chroma(settings: Settings, model_id: str) -> None:
    """Remove the vectors of ``model_id`` so they can be rebuilt from SQLite.

    A Chroma server: delete that model's collection.  The local index: remove the whole Chroma
    directory (it holds only vectors derived from SQLite, and may be damaged — this is the
    recovery path)."""
    if settings.index.chroma == "http":
        client = chroma_client(settings)
        name = collection_name(model_id)
        try:
            names = {getattr(c, "name", c) for c in client.list_collections()}
        except Exception as exc:
            raise VectorIndexError(f"{_where(settings)}: cannot list collections ({exc})") from exc
        if name in names:
            client.delete_collection(name)
        return
    _forget_local_clients()
    shutil.rmtree(settings.chroma_path, ignore_errors=True)


def _forget_local_clients() -> None:
    """Chroma caches one system per directory in the process: drop it before the directory is
    removed, or a new client would write through the old, deleted files."""
    try:
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # pragma: no cover - other chromadb layouts
        pass
