"""A deterministic fake LLM for unit tests of logic (never the only test of a feature)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from kb.models.base import Completion, Message

Responder = Callable[[list[Message]], str]


class FakeLLM:
    """Replies with scripted text: a list consumed in order (the last one repeats), or a
    function of the messages.  Records every call in ``calls``."""

    def __init__(self, responses: list[str] | Responder | None = None, *,
                 model: str = "fake", context_window: int = 8192) -> None:
        self._responses = responses if responses is not None else ["ok"]
        self._model = model
        self._ctx = context_window
        self.calls: list[dict[str, Any]] = []

    @property
    def model_id(self) -> str:
        return f"{self._model}@fake"

    @property
    def context_window(self) -> int:
        return self._ctx

    def count_tokens(self, text: str) -> int:
        return max(1, len(text) // 4)

    def _reply(self, messages: list[Message]) -> str:
        if callable(self._responses):
            return self._responses(messages)
        idx = min(len(self.calls) - 1, len(self._responses) - 1)
        return self._responses[idx]

    def chat(self, messages: list[Message], *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None, temperature: float | None = None
             ) -> Completion:
        self.calls.append({"messages": messages, "json_schema": json_schema})
        text = self._reply(messages)
        prompt_tokens = sum(self.count_tokens(m.content) for m in messages)
        if prompt_tokens > self._ctx:
            from kb.models.base import ContextOverflow

            raise ContextOverflow(f"prompt of {prompt_tokens} tokens exceeds {self._ctx}")
        return Completion(text=text, prompt_tokens=prompt_tokens,
                          output_tokens=self.count_tokens(text))

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None) -> Iterator[str]:
        text = self.chat(messages).text
        for i in range(0, len(text), 7):
            yield text[i:i + 7]

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> Completion:
        return self.chat([Message("user", prompt)], max_tokens=max_tokens)


def json_reply(obj: Any) -> str:
    return json.dumps(obj)
