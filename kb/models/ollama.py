"""The Ollama chat backend: :class:`OllamaLLM`, a model served by Ollama behind kb's LLM protocol.

* It talks to Ollama only through :class:`~kb.models.ollama_client.OllamaClient` (the official
  ``ollama`` client with kb's errors, timeouts, retries and proxy policy).
* ``num_ctx`` is always passed explicitly: Ollama otherwise truncates prompts silently at a
  small default context.  Prompts are measured before each call and a prompt that does not
  fit (with room for the output) raises :class:`ContextOverflow`; callers split their input.
* A streamed answer that breaks off raises :class:`LLMError`; the pieces already yielded are
  never passed off as the whole answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import ollama

from kb.models.base import Completion, ContextOverflow, Message, ModelUnavailable
from kb.models.ollama_client import (
    ModelNotFound,
    OllamaClient,
    OllamaModel,
    OllamaUnreachable,
    is_local_host,
)

__all__ = ["DigestMismatch", "ModelNotFound", "OllamaClient", "OllamaLLM", "OllamaModel",
           "OllamaUnreachable", "is_local_host"]

CHARS_PER_TOKEN = 3.0  # conservative: real tokenizers average ~4 chars per English token
MESSAGE_OVERHEAD = 8  # role markers and separators of a chat template, per message


class DigestMismatch(ModelUnavailable):
    """Ollama has the model tag, but not the version models.lock pins."""


class OllamaLLM:
    """A chat model served by Ollama, implementing :class:`kb.models.base.LLM`."""

    def __init__(self, client: OllamaClient, model: str, *, num_ctx: int, digest: str = "",
                 temperature: float = 0.0, max_output_tokens: int = 1024) -> None:
        self.client = client
        self.model = model
        self._num_ctx = num_ctx
        self._digest = digest
        self._temperature = temperature
        self._max_output = max_output_tokens

    @property
    def model_id(self) -> str:
        return f"{self.model}@{self._digest[:12] or 'unlocked'}"

    @property
    def context_window(self) -> int:
        return self._num_ctx

    def count_tokens(self, text: str) -> int:
        """A conservative estimate (Ollama has no tokenize endpoint): 1 token per 3 chars."""
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def prompt_tokens(self, messages: list[Message]) -> int:
        return sum(self.count_tokens(m.content) + MESSAGE_OVERHEAD for m in messages) + 4

    def _options(self, messages: list[Message], max_tokens: int | None,
                 temperature: float | None) -> dict[str, Any]:
        """Ollama's ``options`` for a call, after checking that the prompt and the output fit
        the context window."""
        mt = max_tokens or self._max_output
        n = self.prompt_tokens(messages)
        if n + mt > self._num_ctx:
            raise ContextOverflow(
                f"the prompt is about {n} tokens and up to {mt} more may be generated, but "
                f"{self.model} runs with a context window of {self._num_ctx} tokens: split the "
                f"input into smaller parts")
        return {"num_ctx": self._num_ctx, "num_predict": mt,
                "temperature": self._temperature if temperature is None else temperature}

    def chat(self, messages: list[Message], *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None, temperature: float | None = None
             ) -> Completion:
        options = self._options(messages, max_tokens, temperature)
        resp = self.client.chat(self.model, _messages(messages), options=options,
                                format=json_schema)
        return _completion(resp)

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None) -> Iterator[str]:
        options = self._options(messages, max_tokens, temperature)  # raises now, not on next()
        return self._pieces(messages, options)

    def _pieces(self, messages: list[Message], options: dict[str, Any]) -> Iterator[str]:
        for part in self.client.stream_chat(self.model, _messages(messages), options=options):
            if part.message.content:
                yield part.message.content

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> Completion:
        return self.chat([Message("user", prompt)], max_tokens=max_tokens)


def _messages(messages: list[Message]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _completion(resp: ollama.ChatResponse) -> Completion:
    return Completion(text=resp.message.content or "",
                      prompt_tokens=resp.prompt_eval_count or 0,
                      output_tokens=resp.eval_count or 0,
                      done_reason="length" if resp.done_reason == "length" else "stop",
                      raw=resp.model_dump(exclude_none=True))
