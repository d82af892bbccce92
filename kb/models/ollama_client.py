"""The one client kb uses for every call to Ollama, built on the official ``ollama`` package.

The chat backend (:mod:`kb.models.ollama`), the Ollama embedder (:mod:`kb.embed.ollama`) and
`kb models status|pull|lock` (:mod:`kb.models.status`) all talk to Ollama through
:class:`OllamaClient`, so they share one policy:

* **Errors.** Whatever the official client raises (``ollama.ResponseError`` with its status
  code, ``ollama.RequestError``, the ``ConnectionError`` it raises when the server is down,
  httpx timeouts and transport errors, answers that do not parse) becomes one
  :class:`~kb.models.base.LLMError` sentence that says what to do: :class:`OllamaUnreachable`
  (start ``ollama serve`` or fix OLLAMA_HOST), :class:`ModelNotFound` (``kb models pull``),
  :class:`~kb.models.base.ModelTimeout` (raise ``ollama.timeout``).
* **Retries.** Connection failures and 5xx answers are retried ``retries`` times with a short
  backoff (each retry is logged at INFO on ``kb.models.ollama``).  A timeout is not retried:
  the server is busy, and asking again only queues more work behind the slow request.  A
  stream is retried only until its first part arrived; once parts were handed on, a failure
  raises (a stream that breaks off is never passed off as complete, nor is a non-streamed
  answer the server marks as not done).
* **Timeouts.** ``timeout`` per request (per read while streaming), ``connect_timeout`` to
  connect.
* **Proxies.** Environment proxies (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) are honoured
  as Ollama's own clients honour them, except for a server on this machine (a loopback or
  unspecified address, or ``localhost``), which is never reached through a proxy: a proxy
  cannot reach the user's loopback, and a corporate proxy in the environment must not break
  the local Ollama.

Only the public API of ``ollama`` is used: :class:`ollama.Client`, its methods, its exception
and response types.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import ollama
import pydantic

from kb.models.base import LLMError, ModelTimeout, ModelUnavailable
from kb.models.spec import normalize_tag
from kb.settings import Settings

log = logging.getLogger("kb.models.ollama")

T = TypeVar("T")

BACKOFF_FIRST = 0.25  # seconds before the first retry; doubled for each further one
BACKOFF_MAX = 2.0
CHECK_SERVER_LOG = "try again, and check the server log if it keeps happening"


class OllamaUnreachable(ModelUnavailable):
    """No connection to the Ollama server (not running, wrong host)."""


class ModelNotFound(ModelUnavailable):
    """Ollama answers, but does not have the model (not pulled)."""


@dataclass
class OllamaModel:
    """A model Ollama has: its normalized tag, digest and size in bytes."""

    name: str
    digest: str
    size: int = 0


def is_local_host(url: str) -> bool:
    """Whether ``url`` names this machine: ``localhost``, a loopback address (127.0.0.0/8,
    ::1) or an unspecified one (0.0.0.0, ::, which connect to this machine)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


# Everything the official client (and httpx below it) raises for a failed call.  ValueError and
# TypeError cover an answer that is not JSON or does not fit the response type (pydantic's
# ValidationError is a ValueError).
_FAILURES = (ollama.ResponseError, ollama.RequestError, ConnectionError, httpx.HTTPError,
             ValueError, TypeError)
_CONNECT_FAILURES = (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout)
_DROPPED = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class OllamaClient:
    """Ollama's API (chat, embed, show, list, pull) through :class:`ollama.Client`, with kb's
    error sentences, timeouts, retries and proxy policy (see the module doc)."""

    def __init__(self, host: str, *, timeout: float = 300.0, connect_timeout: float = 3.0,
                 retries: int = 2) -> None:
        self.host = host.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = max(0, retries)
        self.uses_env_proxy = not is_local_host(self.host)
        self._client = ollama.Client(host=self.host, trust_env=self.uses_env_proxy,
                                     timeout=httpx.Timeout(timeout, connect=connect_timeout))

    @classmethod
    def from_settings(cls, settings: Settings, *, timeout: float | None = None,
                      retries: int | None = None) -> OllamaClient:
        """A client for ``settings.ollama`` (``timeout``/``retries`` override the settings)."""
        o = settings.ollama
        return cls(o.host, timeout=o.timeout if timeout is None else timeout,
                   connect_timeout=o.connect_timeout,
                   retries=o.retries if retries is None else retries)

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]  # ollama leaves it unannotated

    def __enter__(self) -> OllamaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the error sentences ------------------------------------------------------------------
    def unreachable(self) -> OllamaUnreachable:
        return OllamaUnreachable(
            f"cannot reach Ollama at {self.host}: start it with `ollama serve` (or point "
            f"OLLAMA_HOST / ollama.host at the server you run)")

    def timed_out(self) -> ModelTimeout:
        return ModelTimeout(
            f"Ollama at {self.host} did not answer within {self.timeout:g} seconds: check the "
            f"server (`ollama ps`) or raise ollama.timeout (KB_OLLAMA_TIMEOUT)")

    def not_found(self, model: str) -> ModelNotFound:
        return ModelNotFound(
            f"Ollama at {self.host} does not have the model {model}: run `kb models pull` "
            f"(or `ollama pull {model}`)")

    def broke_off(self, what: str, why: str) -> LLMError:
        return LLMError(f"Ollama at {self.host} broke off {what} ({why}): {CHECK_SERVER_LOG}")

    def _failure(self, exc: BaseException, model: str) -> tuple[LLMError, bool]:
        """The sentence for a failed call, and whether the call may be retried."""
        if isinstance(exc, ollama.ResponseError):
            code, message = exc.status_code, str(exc.error)
            if code == 404 and model and "not found" in message:
                return self.not_found(model), False
            if code < 0:  # an {"error": ...} object in place of an answer
                return LLMError(f"Ollama at {self.host} reported an error: {message}"), False
            return LLMError(f"Ollama at {self.host} answered HTTP {code}"
                            f"{': ' + message if message else ''}"), code >= 500
        if isinstance(exc, _CONNECT_FAILURES):
            return self.unreachable(), True
        if isinstance(exc, httpx.TimeoutException):
            return self.timed_out(), False
        if isinstance(exc, _DROPPED):
            return LLMError(f"Ollama at {self.host} closed the connection without answering "
                            f"({exc}): {CHECK_SERVER_LOG}"), True
        if isinstance(exc, ollama.RequestError):
            return LLMError(f"kb built an invalid request for Ollama: {exc.error}"), False
        if isinstance(exc, pydantic.ValidationError) and exc.title.endswith("Request"):
            return LLMError(f"kb built an invalid request for Ollama: {exc}"), False
        if isinstance(exc, httpx.HTTPError):
            return LLMError(f"talking to Ollama at {self.host} failed: {exc}"), False
        return LLMError(f"Ollama at {self.host} sent an answer kb cannot read "
                        f"({type(exc).__name__}: {exc}): {CHECK_SERVER_LOG}"), False

    def _mid_stream(self, exc: BaseException, what: str) -> LLMError:
        """The sentence for a stream that failed after parts of it were handed on."""
        if isinstance(exc, httpx.TimeoutException):
            return self.timed_out()
        if isinstance(exc, ollama.ResponseError):
            return self.broke_off(what, f"it reported: {exc.error}")
        return self.broke_off(what, f"{type(exc).__name__}: {exc}")

    # --- the retry policy ---------------------------------------------------------------------
    def _call(self, send: Callable[[], T], model: str = "") -> T:
        """``send()``, retried on connection failures and 5xx answers; every failure raised as
        one :class:`LLMError` sentence.  ``model`` turns a 404 into :class:`ModelNotFound`."""
        attempt = 0
        while True:
            try:
                return send()
            except _FAILURES as exc:
                error, retry = self._failure(exc, model)
                if not retry or attempt >= self.retries:
                    raise error from exc
            delay = min(BACKOFF_FIRST * 2 ** attempt, BACKOFF_MAX)
            attempt += 1
            log.info("%s; retry %d of %d in %.2f s", error, attempt, self.retries, delay)
            time.sleep(delay)

    def _stream(self, start: Callable[[], Iterator[T]], *, done: Callable[[T], bool],
                what: str, model: str = "") -> Iterator[T]:
        """The parts of a streamed answer, up to and including the one ``done`` accepts.

        Opening the stream and reading its first part follow the retry policy of
        :meth:`_call`; after that any failure — and a stream that ends before its final
        part — raises :meth:`broke_off` (or :meth:`timed_out`)."""

        def first() -> tuple[Iterator[T], T | None]:
            parts = start()
            try:
                return parts, next(parts, None)
            except BaseException:
                _close(parts)
                raise

        parts, part = self._call(first, model)
        try:
            if part is None:
                raise self.broke_off(what, "it sent nothing")
            while True:
                yield part
                if done(part):
                    return
                try:
                    part = next(parts)
                except StopIteration:
                    raise self.broke_off(what, "the stream ended before the last part") from None
                except _FAILURES as exc:
                    raise self._mid_stream(exc, what) from exc
        finally:
            _close(parts)

    # --- the API ------------------------------------------------------------------------------
    def chat(self, model: str, messages: Sequence[Mapping[str, Any]], *,
             options: Mapping[str, Any], format: dict[str, Any] | None = None
             ) -> ollama.ChatResponse:
        """One complete chat answer (``/api/chat``, not streamed); ``format`` is a JSON schema
        the answer must follow.  An answer the server marks as not done is the text of a
        generation that stopped part-way: it raises :meth:`broke_off` (not retried, like a
        stream that ends early) instead of passing for the whole answer."""
        resp = self._call(lambda: self._client.chat(model=model, messages=messages,
                                                    options=options, format=format,
                                                    stream=False), model)
        if not resp.done:
            raise self.broke_off("the answer", "it was sent unfinished, marked not done")
        return resp

    def stream_chat(self, model: str, messages: Sequence[Mapping[str, Any]], *,
                    options: Mapping[str, Any]) -> Iterator[ollama.ChatResponse]:
        """A chat answer as it is generated, ending with the part that has ``done`` set."""
        return self._stream(lambda: self._client.chat(model=model, messages=messages,
                                                      options=options, stream=True),
                            done=lambda part: bool(part.done), what="the answer", model=model)

    def embed(self, model: str, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text (``/api/embed``; over-long texts are truncated by Ollama)."""
        resp = self._call(lambda: self._client.embed(model=model, input=texts, truncate=True),
                          model)
        return [[float(x) for x in vec] for vec in resp.embeddings]

    def tags(self) -> dict[str, OllamaModel]:
        """The models Ollama has (``/api/tags``), by normalized tag."""
        out = {}
        for m in self._call(self._client.list).models:
            name = normalize_tag(m.model or "")
            out[name] = OllamaModel(name, m.digest or "", int(m.size or 0))
        return out

    def context_length(self, model: str) -> int | None:
        """The model's trained context length from ``/api/show`` (None when not reported)."""
        info = self._call(lambda: self._client.show(model), model).modelinfo or {}
        arch = info.get("general.architecture")
        value = info.get(f"{arch}.context_length") if arch else None
        return int(value) if isinstance(value, int | float) else None

    def pull(self, model: str) -> Iterator[ollama.ProgressResponse]:
        """Ollama's progress while it downloads ``model`` (``/api/pull``), ending with the
        ``success`` part; a download that stops before it raises."""
        return self._stream(lambda: self._client.pull(model, stream=True),
                            done=lambda part: part.status == "success",
                            what=f"the download of {model}")


def _close(parts: Iterator[Any]) -> None:
    """Close a stream the official client returned (a generator holding the response)."""
    close = getattr(parts, "close", None)
    if close is not None:
        close()
