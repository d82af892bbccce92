"""Small wrappers around an :class:`~kb.models.base.LLM` shared by summaries and the digest."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from kb.models.base import LLM, Completion, Message


class CountingLLM:
    """Delegates to an LLM and counts the calls that reach the model (thread-safe).

    The inner model is built lazily by ``factory`` on first use, so a run that finds
    everything cached never loads or contacts a model at all."""

    def __init__(self, inner: LLM | None = None, *, factory: Callable[[], LLM] | None = None,
                 model_id: str | None = None) -> None:
        if inner is None and factory is None:
            raise ValueError("CountingLLM needs a model or a factory")
        self._inner = inner
        self._factory = factory
        self._model_id = model_id
        self._lock = threading.Lock()
        self.calls = 0

    @property
    def inner(self) -> LLM:
        with self._lock:
            if self._inner is None:
                assert self._factory is not None
                self._inner = self._factory()
            return self._inner

    @property
    def model_id(self) -> str:
        return self._model_id or self.inner.model_id

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _count(self) -> None:
        with self._lock:
            self.calls += 1

    def chat(self, messages: list[Message], *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None, temperature: float | None = None
             ) -> Completion:
        self._count()
        return self.inner.chat(messages, max_tokens=max_tokens, json_schema=json_schema,
                               temperature=temperature)

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None) -> Iterator[str]:
        self._count()
        return self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature)

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> Completion:
        self._count()
        return self.inner.complete(prompt, max_tokens=max_tokens)


def counting(llm: LLM | CountingLLM) -> CountingLLM:
    return llm if isinstance(llm, CountingLLM) else CountingLLM(llm)


def model_llm(settings: Any) -> CountingLLM:
    """The configured chat model (kb.models.factory), counted, with a known model id.

    The factory decides the backend (auto falls back to the embedded model with a notice)."""
    from kb.models.factory import get_llm

    return CountingLLM(get_llm(settings))
