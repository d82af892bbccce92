"""The runtime: the settings, the store and every backend of one process, built once.

Only the faces — the CLI and the TUI (and the benchmarks, which are programs too) — build a
:class:`Runtime`; everything below them takes what it uses as arguments (a store, an
embedder, a vector index, an LLM, a fetcher).  Each backend is created lazily, on first use,
by the factory its settings select, and then kept: a `kb search` that only runs a keyword query
never loads the embedder, and a `kb daily` whose summaries are all cached never contacts a
model.  Tests build a runtime with fakes::

    Runtime(settings, embedder=FakeEmbedder(), index=FakeIndex(), llm=FakeLLM([...]))
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from kb.embed.base import Embedder
from kb.fetch import Fetcher
from kb.index.vector import VectorIndex
from kb.models.base import LLM, ModelUnavailable
from kb.models.counting import CountingLLM
from kb.settings import Settings, ensure_home
from kb.store.db import Store

T = TypeVar("T")


class Runtime:
    """Settings, store, embedder, vector index, LLM and fetcher: each built once, lazily."""

    def __init__(self, settings: Settings, *, store: Store | None = None,
                 embedder: Embedder | None = None, index: VectorIndex | None = None,
                 llm: LLM | None = None, fetcher: Fetcher | None = None) -> None:
        self.settings = settings
        self._store = store
        self._own_store = store is None
        self._embedder = embedder
        self._index = index
        self._own_index = index is None
        self._fetcher = fetcher
        self._own_fetcher = fetcher is None
        self._llm_notice: str | None = None
        self._chat: LLM | None = llm  # what build_llm gave (None: no chat model)
        self._chat_built = llm is not None
        self._llm = CountingLLM(llm) if llm is not None else CountingLLM(factory=self._load_llm)
        self._lock = threading.RLock()
        self._chat_lock = threading.Lock()

    # --- the store ----------------------------------------------------------------------------
    @property
    def store(self) -> Store:
        """The SQLite archive (created with its directories on first use)."""
        if self._store is None:
            with self._lock:
                if self._store is None:
                    ensure_home(self.settings)
                    self._store = Store(self.settings.db_path)
        return self._store

    # --- backends -----------------------------------------------------------------------------
    def _once(self, attr: str, build: Callable[[], T]) -> T:
        with self._lock:
            value: T | None = getattr(self, attr)
            if value is None:
                value = build()
                setattr(self, attr, value)
            return value

    @property
    def embedder(self) -> Embedder:
        """The embedder of ``embed.backend`` (raises :class:`kb.embed.base.EmbedderError`)."""
        if self._embedder is not None:
            return self._embedder
        from kb.embed.factory import build_embedder

        return self._once("_embedder", lambda: build_embedder(self.settings))

    @property
    def index(self) -> VectorIndex:
        """The vector index of the embedder's model, opened on first use (raises
        :class:`kb.index.vector.VectorIndexError` then)."""
        if self._index is not None:
            return self._index
        from kb.index.chroma import open_chroma
        from kb.index.lazy import LazyIndex

        emb = self.embedder
        return self._once("_index", lambda: LazyIndex(
            lambda: open_chroma(self.settings, emb.model_id, emb.dim, self.namespace),
            emb.model_id, emb.dim))

    @property
    def namespace(self) -> str:
        """What keeps this archive's vectors apart on a Chroma server others may share: the
        archive's id (none for the local index, which only this archive uses)."""
        if self.settings.index.chroma != "http":
            return ""
        from kb.store.db import archive_id

        return archive_id(self.store)

    def fresh_index(self) -> VectorIndex:
        """Drop every vector of the embedder's model and return the emptied index: the start of
        `kb reindex`.  A local Chroma directory is removed whole (it may be damaged and
        unopenable; it holds only vectors derived from SQLite)."""
        with self._lock:
            if not self._own_index and self._index is not None:
                self._index.clear()
                return self._index
            from kb.index.chroma import drop_chroma

            emb = self.embedder
            drop_chroma(self.settings, emb.model_id, emb.dim, self.namespace)
            self._index = None
        return self.index

    @property
    def llm(self) -> CountingLLM:
        """The chat model, counted.  Built on its first call, so nothing cached ever loads or
        contacts a model; raises :class:`kb.models.base.ModelUnavailable` when there is none
        (``llm.backend = none``, or ``auto`` without Ollama).  Code that works without a chat
        model uses :meth:`chat_llm` instead."""
        return self._llm

    def _build_chat(self) -> None:
        with self._chat_lock:  # not self._lock: the store stays usable while a model loads
            if not self._chat_built:
                from kb.models.factory import build_llm

                self._chat, self._llm_notice = build_llm(self.settings)
                self._chat_built = True

    def chat_llm(self) -> tuple[CountingLLM | None, str | None]:
        """(the counted chat model, or None when there is none, the notice to show once).
        None means extractive only: ``llm.backend = none``, or ``auto`` when Ollama is not
        reachable (the notice says so and how to get it).  Decided once, on first call: for
        ``auto`` that is one quick look at Ollama; the embedded model loads here."""
        self._build_chat()
        return (self._llm if self._chat is not None else None), self._llm_notice

    @property
    def llm_loaded(self) -> bool:
        return self._llm.loaded

    @property
    def llm_notice(self) -> str | None:
        """Why there is no chat model (``auto`` found no Ollama), else None.  Decides which
        chat model there is if that was not decided yet (see :meth:`chat_llm`)."""
        self._build_chat()
        return self._llm_notice

    def expected_llm_notice(self) -> str | None:
        """:attr:`llm_notice` without building the model: once decided, its notice; before,
        a quick look at whether ``auto`` would find no Ollama (so opening a screen never
        loads a model just to warn about it)."""
        if self._chat_built:
            return self._llm_notice
        from kb.models.factory import fallback_expected

        return fallback_expected(self.settings)

    def _load_llm(self) -> LLM:
        self._build_chat()
        if self._chat is None:
            raise ModelUnavailable(self._llm_notice or (
                "llm.backend = none: kb runs without a chat model (extractive summaries and "
                "answers); set llm.backend to auto, ollama or embedded to use one"))
        return self._chat

    @property
    def fetcher(self) -> Fetcher:
        """The HTTP (and file://) fetcher for sources."""
        if self._fetcher is not None:
            return self._fetcher
        from kb.fetch import HttpFetcher

        return self._once("_fetcher", lambda: HttpFetcher(self.settings.ingest))

    # --- end ----------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._own_fetcher and self._fetcher is not None:
                close = getattr(self._fetcher, "close", None)
                if close is not None:
                    close()
                self._fetcher = None
            if self._own_store and self._store is not None:
                self._store.close()
                self._store = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
