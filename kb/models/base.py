"""The LLM seam: one small protocol every chat-model backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass
class Message:
    role: Role
    content: str


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    output_tokens: int = 0
    done_reason: str = "stop"  # "stop" | "length"
    raw: dict[str, Any] = field(default_factory=dict)


class LLMError(RuntimeError):
    """A model call failed.  ``str(exc)`` is one sentence telling the user what to do."""


class ModelUnavailable(LLMError):
    """The backend cannot be reached or does not have the model (server down, not pulled)."""


class ModelTimeout(LLMError):
    """The backend did not answer in time."""


class ContextOverflow(LLMError):
    """The prompt does not fit the context window: callers must split the input."""


@runtime_checkable
class LLM(Protocol):
    """A chat model.  ``model_id`` is "name@digest" and is part of every cache key."""

    @property
    def model_id(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def chat(self, messages: list[Message], *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None, temperature: float | None = None
             ) -> Completion:
        """One reply.  With ``json_schema`` the backend constrains output to JSON
        (Ollama ``format``; llama.cpp grammar) — callers still validate it."""
        ...

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None) -> Iterator[str]:
        """The reply as text pieces, as they are generated."""
        ...

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> Completion: ...
