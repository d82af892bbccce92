"""The Ollama backend: Ollama's HTTP API (``/api/chat`` etc.) spoken directly with httpx.

* ``host`` comes from ``settings.ollama.host`` (``OLLAMA_HOST`` honoured by the settings).
* ``num_ctx`` is always passed explicitly: Ollama otherwise truncates prompts silently at a
  small default context.  Prompts are measured before each call and a prompt that does not
  fit (with room for the output) raises :class:`ContextOverflow`; callers split their input.
* Timeouts: ``settings.ollama.timeout`` per request (per read while streaming) and
  ``connect_timeout``.  Connection failures and 5xx answers are retried
  ``settings.ollama.retries`` times; a timeout is not (the server is busy, and asking again
  only queues more work behind the slow request).
* Every failure becomes one :class:`LLMError` sentence that says what to do.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from kb.models.base import (
    Completion,
    ContextOverflow,
    LLMError,
    Message,
    ModelTimeout,
    ModelUnavailable,
)
from kb.models.spec import normalize_tag

CHARS_PER_TOKEN = 3.0  # conservative: real tokenizers average ~4 chars per English token
MESSAGE_OVERHEAD = 8  # role markers and separators of a chat template, per message


class DigestMismatch(ModelUnavailable):
    """Ollama has the model tag, but not the version models.lock pins."""


@dataclass
class OllamaModel:
    name: str
    digest: str
    size: int = 0


class OllamaClient:
    """A thin client for Ollama's HTTP API with kb's error sentences, timeouts and retries."""

    def __init__(self, host: str, *, timeout: float = 300.0, connect_timeout: float = 3.0,
                 retries: int = 2) -> None:
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.retries = max(0, retries)
        self._http = httpx.Client(base_url=self.host, trust_env=False,
                                  timeout=httpx.Timeout(timeout, connect=connect_timeout))

    def close(self) -> None:
        self._http.close()

    # --- errors -----------------------------------------------------------------------------
    def unreachable(self) -> ModelUnavailable:
        return ModelUnavailable(
            f"cannot reach Ollama at {self.host}: start it with `ollama serve` (or point "
            f"OLLAMA_HOST / ollama.host at the server you run)")

    def timed_out(self) -> ModelTimeout:
        return ModelTimeout(
            f"Ollama at {self.host} did not answer within {self.timeout:g} seconds: check the "
            f"server (`ollama ps`) or raise ollama.timeout (KB_OLLAMA_TIMEOUT)")

    def not_found(self, model: str) -> ModelUnavailable:
        return ModelUnavailable(
            f"Ollama at {self.host} does not have the model {model}: run `kb models pull` "
            f"(or `ollama pull {model}`)")

    def http_error(self, resp: httpx.Response, model: str = "") -> LLMError:
        try:
            message = str(resp.json().get("error", ""))
        except (ValueError, AttributeError):
            message = resp.text[:200]
        if resp.status_code == 404 and model and "not found" in message:
            return self.not_found(model)
        return LLMError(f"Ollama at {self.host} answered HTTP {resp.status_code}"
                        f"{': ' + message if message else ''}")

    # --- requests ---------------------------------------------------------------------------
    def _retrying(self, send: Any) -> Any:
        for attempt in range(self.retries + 1):
            try:
                resp = send()
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                if attempt >= self.retries:
                    raise self.unreachable() from exc
            except httpx.TimeoutException as exc:
                raise self.timed_out() from exc
            except httpx.HTTPError as exc:
                raise LLMError(f"talking to Ollama at {self.host} failed: {exc}") from exc
            else:
                if resp.status_code < 500 or attempt >= self.retries:
                    return resp
                resp.close()
            time.sleep(min(0.25 * 2 ** attempt, 2.0))
        raise self.unreachable()  # pragma: no cover - the loop always returns or raises

    def get(self, path: str) -> httpx.Response:
        return self._retrying(lambda: self._http.get(path))  # type: ignore[no-any-return]

    def post(self, path: str, payload: dict[str, Any], model: str = "") -> dict[str, Any]:
        resp = self._retrying(lambda: self._http.post(path, json=payload))
        if resp.status_code != 200:
            raise self.http_error(resp, model)
        data = resp.json()
        if isinstance(data, dict) and data.get("error"):
            raise LLMError(f"Ollama at {self.host}: {data['error']}")
        return data  # type: ignore[no-any-return]

    def stream(self, path: str, payload: dict[str, Any], model: str = "",
               timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """The NDJSON objects of a streaming endpoint, as they arrive."""
        req = self._http.build_request("POST", path, json=payload,
                                       timeout=httpx.USE_CLIENT_DEFAULT if timeout is None
                                       else httpx.Timeout(timeout, connect=self._http.timeout.connect))
        resp = self._retrying(lambda: self._http.send(req, stream=True))
        try:
            if resp.status_code != 200:
                resp.read()
                raise self.http_error(resp, model)
            for line in resp.iter_lines():
                if not line.strip():
                    continue
                obj = json.loads(line)
                if obj.get("error"):
                    raise LLMError(f"Ollama at {self.host}: {obj['error']}")
                yield obj
        except httpx.TimeoutException as exc:
            raise self.timed_out() from exc
        except (httpx.TransportError, json.JSONDecodeError) as exc:
            raise LLMError(f"Ollama at {self.host} broke off the answer ({exc}): try again, "
                           f"and check the server log if it keeps happening") from exc
        finally:
            resp.close()

    # --- model metadata -----------------------------------------------------------------------
    def tags(self) -> dict[str, OllamaModel]:
        """The models Ollama has, by normalized tag."""
        resp = self.get("/api/tags")
        if resp.status_code != 200:
            raise self.http_error(resp)
        out = {}
        for m in resp.json().get("models") or []:
            name = normalize_tag(m.get("name") or m.get("model") or "")
            out[name] = OllamaModel(name, str(m.get("digest", "")), int(m.get("size") or 0))
        return out

    def context_length(self, model: str) -> int | None:
        """The model's trained context length from ``/api/show`` (None when not reported)."""
        info = self.post("/api/show", {"model": model}, model).get("model_info") or {}
        arch = info.get("general.architecture")
        value = info.get(f"{arch}.context_length") if arch else None
        return int(value) if isinstance(value, int | float) else None


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

    def _payload(self, messages: list[Message], max_tokens: int | None,
                 temperature: float | None, stream: bool) -> dict[str, Any]:
        mt = max_tokens or self._max_output
        n = self.prompt_tokens(messages)
        if n + mt > self._num_ctx:
            raise ContextOverflow(
                f"the prompt is about {n} tokens and up to {mt} more may be generated, but "
                f"{self.model} runs with a context window of {self._num_ctx} tokens: split the "
                f"input into smaller parts")
        return {"model": self.model, "stream": stream,
                "messages": [{"role": m.role, "content": m.content} for m in messages],
                "options": {"num_ctx": self._num_ctx, "num_predict": mt,
                            "temperature": self._temperature if temperature is None
                            else temperature}}

    def chat(self, messages: list[Message], *, max_tokens: int | None = None,
             json_schema: dict[str, Any] | None = None, temperature: float | None = None
             ) -> Completion:
        payload = self._payload(messages, max_tokens, temperature, stream=False)
        if json_schema is not None:
            payload["format"] = json_schema
        data = self.client.post("/api/chat", payload, self.model)
        return Completion(text=str((data.get("message") or {}).get("content") or ""),
                          prompt_tokens=int(data.get("prompt_eval_count") or 0),
                          output_tokens=int(data.get("eval_count") or 0),
                          done_reason="length" if data.get("done_reason") == "length" else "stop",
                          raw=data)

    def stream(self, messages: list[Message], *, max_tokens: int | None = None,
               temperature: float | None = None) -> Iterator[str]:
        payload = self._payload(messages, max_tokens, temperature, stream=True)  # raises now
        return self._pieces(payload)

    def _pieces(self, payload: dict[str, Any]) -> Iterator[str]:
        for obj in self.client.stream("/api/chat", payload, self.model):
            piece = (obj.get("message") or {}).get("content")
            if piece:
                yield piece
            if obj.get("done"):
                return

    def complete(self, prompt: str, *, max_tokens: int | None = None) -> Completion:
        return self.chat([Message("user", prompt)], max_tokens=max_tokens)
