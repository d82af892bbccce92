"""The in-process chat model: the locked SmolLM2 GGUF run by llama.cpp (llama-cpp-python).

This is ``llm.backend = "embedded"``, and what ``auto`` falls back to when Ollama is not
reachable.  The GGUF is located through models.lock and sha256-checked
before it is loaded; a file that differs is refused.  One ``Llama`` per process (cached), and
every call holds a lock because llama.cpp contexts are not thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kb.models.base import Completion, ContextOverflow, LLMError, Message, ModelUnavailable
from kb.settings import Settings

_CACHE: dict[tuple[str, int, int], tuple[Any, threading.Lock]] = {}
_CACHE_LOCK = threading.Lock()


def _shared_llama(path: Path, n_ctx: int, threads: int) -> tuple[Any, threading.Lock]:
    from kb.models.llamacpp import load_llama

    key = (str(path), n_ctx, threads)
    with _CACHE_LOCK:
        if key not in _CACHE:
            try:
                _CACHE[key] = (load_llama(path, n_ctx=n_ctx, threads=threads), threading.Lock())
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelUnavailable(f"llama.cpp could not load {path}: {exc}") from exc
        return _CACHE[key]


class LlamaCppLLM:
    """A GGUF chat model run by llama.cpp, implementing :class:`kb.models.base.LLM`."""

    def __init__(self, path: Path, *, name: str, sha256: str, n_ctx: int = 8192,
                 threads: int = 0, temperature: float = 0.0, max_output_tokens: int = 1024
                 ) -> None:
        self.path = Path(path)
        self.name = name
        self._digest = sha256
        self._n_ctx = n_ctx
        self._temperature = temperature
        self._max_output = max_output_tokens
        self._llm, self._lock = _shared_llama(self.path, n_ctx, threads)
        self._formatter = self._make_formatter()

    # --- protocol properties ------------------------------------------------------------
    @property
    def model_id(self) -> str:
        return f"{self.name}@{self._digest[:12]}"

    @property
    def context_window(self) -> int:
        return self._n_ctx

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    # --- prompt accounting --------------------------------------------------------------
    def _make_formatter(self) -> Any:
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            return None
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def token_text(tid: int) -> str:
            if tid < 0:
                return ""
            return str(self._llm.detokenize([tid], special=True).decode("utf-8", "replace"))

        return Jinja2ChatFormatter(template, eos_token=token_text(self._llm.token_eos()),
                                   bos_token=token_text(self._llm.token_bos()))

    def prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens of the whole prompt as the GGUF's chat template renders it."""
        msgs = [{"role": m.role, "content": m.content} for m in messages]
        if self._formatter is None:
            return sum(self.count_tokens(m.content) + 6 for m in messages) + 3
        prompt = self._formatter(messages=msgs).prompt
        with self._lock:
            return len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def _check_fits(self, messages: list[Message], max_tokens: int) -> int:
        n = self.prompt_tokens(messages)
        if n + max_tokens > self._n_ctx:
            raise ContextOverflow(
                f"the prompt is {n} tokens and up to {max_tokens} more may be generated, but "
                f"{self.name} has a context window of {self._n_ctx} tokens: split the input "
                f"into smaller parts")
        return n

    def _kwargs(self, messages: list[Message], max_tokens: int | None,
                temperature: float | None) -> dict[str, Any]:
        mt = max_tokens or self._max_output
        self._check_fits(messages, mt)
        return {"messages": [{"role": m.role, "content": m.content} for m in messages],
                "max_tokens": mt,
                "temperature": self._temperature if temperature is None else temperature}

    # --- calls --------------------------------------------------------------------------
    def chat(self, messages: list[Message], *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None, temperature: float | None = None
             ) -> Completion:
        kwargs = self._kwargs(messages, max_tokens, temperature)
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": json_schema}
        try:
            with self._lock:
                resp = self._llm.create_chat_completion(**kwargs)
        except ValueError as exc:  # llama-cpp-python reports a too-long prompt this way
            raise LLMError(f"the embedded model failed: {exc}") from exc
        choice = resp["choices"][0]
        usage = resp.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            done_reason="length" if choice.get("finish_reason") == "length" else "stop",
            raw=dict(resp))

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None) -> Iterator[str]:
        kwargs = self._kwargs(messages, max_tokens, temperature)  # raises before streaming
        return self._stream(kwargs)

    def _stream(self, kwargs: dict[str, Any]) -> Iterator[str]:
        with self._lock:
            for chunk in self._llm.create_chat_completion(stream=True, **kwargs):
                piece = chunk["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> Completion:
        return self.chat([Message("user", prompt)], max_tokens=max_tokens)


def load_llamacpp_llm(settings: Settings, lock: dict[str, Any] | None = None) -> LlamaCppLLM:
    """The embedded backend for ``settings``: the sha256-checked GGUF of models.lock."""
    from kb.models.lockfile import ModelFileError, load_lock, packaged_file, verified_path

    try:
        lock = lock if lock is not None else load_lock(settings.models_lock_path)
        pf = packaged_file(lock, "llm_embedded.package")
        path = verified_path(pf)
    except ModelFileError as exc:
        raise ModelUnavailable(f"the embedded model cannot be used: {exc}") from exc
    try:
        import llama_cpp  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailable(
            "the embedded model needs llama-cpp-python: pip install 'llama-cpp-python>=0.3.16' "
            "(or run `kb models install`)") from exc
    entry = lock.get("llm_embedded", {})
    return LlamaCppLLM(path, name=str(entry.get("name", pf.package)), sha256=pf.sha256,
                       n_ctx=int(entry.get("num_ctx", 8192)), threads=settings.llm.threads,
                       temperature=settings.llm.temperature,
                       max_output_tokens=settings.llm.max_output_tokens)
