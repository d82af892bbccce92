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

import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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
            if ix.chroma_ca_cert:
                cs.chroma_server_ssl_verify = ix.chroma_ca_cert
            if ix.chroma_token:  # Chroma's own token auth provider, as its docs configure it
                cs.chroma_client_auth_provider = "chromadb.auth.token_authn.TokenAuthClientProvider"
                cs.chroma_client_auth_credentials = ix.chroma_token
                cs.chroma_auth_token_transport_header = ix.chroma_token_header
            return chromadb.HttpClient(host=ix.chroma_host, port=ix.chroma_port,
                                       ssl=ix.chroma_ssl, settings=cs)
        settings.chroma_path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.chroma_path), settings=cs)
    except Exception as exc:
        hint = ("check that it runs and the index.chroma_* settings (host, port, ssl, "
                "ca_cert, token)" if ix.chroma == "http"
                else "`kb reindex` rebuilds it from the database")
        raise VectorIndexError(f"{_where(settings)}: cannot open the vector index "
                               f"({causes(exc)}); {hint}") from exc


def causes(exc: BaseException) -> str:
    """An exception and what caused it, in one line: Chroma's "could not connect" hides
    whether the port was closed, the certificate refused or the token wrong."""
    parts: list[str] = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen and len(parts) < 4:
        seen.add(id(cur))
        text = str(cur).strip() or cur.__class__.__name__
        if not any(text in p for p in parts):
            parts.append(text)
        cur = cur.__cause__ or cur.__context__
    return ": ".join(parts)


def _where(settings: Settings) -> str:
    ix = settings.index
    scheme = "https" if ix.chroma_ssl else "http"
    return (f"Chroma server {scheme}://{ix.chroma_host}:{ix.chroma_port}" if ix.chroma == "http"
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
    """Vectors of one embedding model in one Chroma collection.

    ``namespace`` (an archive's id; used on a Chroma server that several archives share) gives
    this archive a collection of its own, ``kb-<model>-<namespace>``: reads, deletions and
    :meth:`clear` touch only it, and queries need no metadata filter to keep archives apart
    (a filter on an ``archive`` field made every server query ~10x slower at 100k vectors:
    Chroma gathers the ids a filter allows before its kNN search)."""

    def __init__(self, client: ClientAPI, model_id: str, dim: int, namespace: str = "",
                 where: str = "") -> None:
        from llama_index.vector_stores.chroma import ChromaVectorStore

        if namespace and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", namespace):
            raise VectorIndexError(f"namespace {namespace!r}: letters, digits, '_' and '-' only")
        self._model_id, self._dim, self.namespace = model_id, dim, namespace
        self.name = collection_name(model_id) + (f"-{namespace}" if namespace else "")
        self.where = where or f"vector index {self.name}"
        self._client = client
        try:
            self.collection = client.get_or_create_collection(
                self.name, metadata=self._metadata(), embedding_function=None)
        except Exception as exc:
            raise VectorIndexError(f"{self.where}: cannot open the collection {self.name} "
                                   f"({exc}); `kb reindex` rebuilds it from the database") from exc
        have = self.collection.metadata or {}
        if have.get("kb_model_id") != model_id or int(str(have.get("kb_dim", -1))) != dim:
            raise VectorIndexError(
                f"vector collection {self.name} was built with model {have.get('kb_model_id')!r} "
                f"(dim {have.get('kb_dim')}), not {model_id!r} (dim {dim}): refusing to mix "
                "models; run `kb reindex`")
        self.store = ChromaVectorStore(chroma_collection=self.collection)

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Any failure of Chroma (a server that went away, a damaged file) as one sentence
        naming the store; SQLite never marks a vector stored that this refused to store."""
        try:
            yield
        except VectorIndexError:
            raise
        except Exception as exc:
            raise VectorIndexError(
                f"{self.where}: {what} failed ({causes(exc)}); nothing is "
                "lost: run the command again when the vector index is back (`kb reindex` "
                "rebuilds it from the database)") from exc

    def _metadata(self) -> dict[str, str | int]:
        return {"hnsw:space": "cosine", "kb_model_id": self._model_id, "kb_dim": self._dim}

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
            present = self.existing(list(ids))
            with self._errors("storing vectors"):
                if present:  # Chroma ignores an add of a present id: replace it
                    self.collection.delete(ids=sorted(present))
                self.store.add(nodes)

    def existing(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with self._errors("reading vector ids"):
            got = self.collection.get(ids=list(ids), include=[])
        return set(got["ids"])

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        with self._errors("reading vectors"):
            got = self.collection.get(ids=list(ids), include=["embeddings"])
        vecs = got["embeddings"]
        if vecs is None:
            return {}
        return {k: [float(x) for x in e]
                for k, e in zip(got["ids"], vecs, strict=True)}

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            with self._errors("deleting vectors"):
                self.store.delete_nodes(node_ids=list(ids))

    def query(self, embedding: Sequence[float], k: int,
              where: Where | None = None) -> list[VectorHit]:
        check_where(where)
        if k <= 0:
            return []
        if len(embedding) != self._dim:
            raise VectorIndexError(f"a {len(embedding)}-dim query for a {self._dim}-dim index "
                                   f"({self._model_id})")
        with self._errors("the vector query"):
            res = self.collection.query(query_embeddings=[float(x) for x in embedding],
                                        n_results=k, where=chroma_where(where),
                                        include=["distances"])
        ids = (res["ids"] or [[]])[0]
        dists = (res["distances"] or [[]])[0]
        return [VectorHit(i, 1.0 - float(d)) for i, d in zip(ids, dists, strict=True)]

    def _keys(self) -> list[str]:
        out: list[str] = []
        offset = 0
        while True:
            with self._errors("listing vectors"):
                got = self.collection.get(include=[],
                                          limit=PAGE, offset=offset)["ids"]
            out += got
            if len(got) < PAGE:
                return out
            offset += PAGE

    def count(self) -> int:
        with self._errors("counting vectors"):
            return int(self.collection.count())

    def all_ids(self) -> set[str]:
        return set(self._keys())

    def clear(self) -> None:
        """Remove this index's collection and start an empty one (other models' and other
        archives' collections are untouched)."""
        from llama_index.vector_stores.chroma import ChromaVectorStore

        with self._errors("clearing the vectors"):
            with suppress(Exception):  # not there (any more): nothing to clear
                self._client.delete_collection(self.name)
            self.collection = self._client.get_or_create_collection(
                self.name, metadata=self._metadata(), embedding_function=None)
            self.store = ChromaVectorStore(chroma_collection=self.collection)


def open_chroma(settings: Settings, model_id: str, dim: int, namespace: str = "") -> ChromaIndex:
    """The index of ``model_id`` on the store the settings name (``namespace``: see
    :class:`ChromaIndex`)."""
    return ChromaIndex(chroma_client(settings), model_id, dim, namespace, _where(settings))


def drop_chroma(settings: Settings, model_id: str, dim: int, namespace: str = "") -> None:
    """Remove the vectors of ``model_id`` so they can be rebuilt from SQLite.

    A Chroma server: this archive's collection of that model only.  The local index: remove the whole Chroma directory (it holds
    only vectors derived from SQLite, and may be damaged — this is the recovery path)."""
    if settings.index.chroma == "http":
        open_chroma(settings, model_id, dim, namespace).clear()
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
