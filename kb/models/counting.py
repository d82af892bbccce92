"""A counting, lazily built LLM: the runtime's chat model.

The inner model is built by ``factory`` on the first call that needs it, so a run that finds
everything cached never loads or contacts a model.  Every call that reaches the model is
counted (thread-safe): the reports' "model calls".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from kb.models.base import LLM, Completion, Message


class CountingLLM:
    """An :class:`~kb.models.base.LLM` that delegates to ``inner`` (or to what ``factory``
    builds on first use) and counts the calls."""

    def __init__(self, inner: LLM | None = None, *, factory: Callable[[], LLM] | None = None
                 ) -> None:
        if inner is None and factory is None:
            raise ValueError("CountingLLM needs a model or a factory")
        self._inner = inner
        self._factory = factory
        self._lock = threading.Lock()
        self.calls = 0

    @property
    def loaded(self) -> bool:
        return self._inner is not None

    @property
    def inner(self) -> LLM:
        with self._lock:
            if self._inner is None:
                assert self._factory is not None
                self._inner = self._factory()
            return self._inner

    @property
    def model_id(self) -> str:
        return self.inner.model_id

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


def counting(llm: LLM) -> CountingLLM:
    """``llm`` itself when it already counts, else a counting wrapper around it."""
    return llm if isinstance(llm, CountingLLM) else CountingLLM(llm)
