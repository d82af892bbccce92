"""The Fetcher seam: a small Protocol, its httpx implementation and a deterministic fake.

The real fetcher sends an honest User-Agent, retries 429/5xx and transport errors with
exponential backoff (honouring ``Retry-After``, capped), streams bodies with a size limit,
does conditional GET (ETag / If-Modified-Since) and reads ``file://`` URLs and local paths.
It is also polite: at most one request in flight per host and ``ingest.delay`` seconds between
the end of one request to a host and the start of the next, whichever thread sends them.
``post`` sends a body (a GraphQL query) under the same rules.  Every failure is a
:class:`FetchError` whose message names the URL and says what happened.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from kb.settings import IngestSettings

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_WAIT = 60.0  # never sleep longer than this between attempts, whatever Retry-After says


class FetchError(RuntimeError):
    """A source could not be fetched; the message names it and says why.  ``status`` is the
    HTTP status when the server answered (404, ...), None when it could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class FetchResult:
    url: str  # the final URL (after redirects)
    body: bytes = b""
    status: int = 200
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    headers: dict[str, str] = field(default_factory=dict)


class Fetcher(Protocol):
    def fetch(self, url: str, *, etag: str | None = None,
              last_modified: str | None = None) -> FetchResult: ...

    def post(self, url: str, body: bytes, *,
             content_type: str = "application/json") -> FetchResult:
        """POST ``body``; a 4xx answer is returned (its body may explain), not raised."""
        ...


def is_local(url: str) -> bool:
    return url.startswith("file:") or "://" not in url


def local_path(url: str) -> Path:
    if url.startswith("file:"):
        return Path(unquote(urlsplit(url).path))
    return Path(url).expanduser()


def read_local(url: str, max_bytes: int) -> FetchResult:
    """A ``file://`` URL or a plain path, read with the same size limit as HTTP bodies."""
    path = local_path(url)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(f"{url}: file is {size} bytes, over the {max_bytes}-byte limit "
                             "(settings ingest.max_bytes)")
        body = path.read_bytes()
    except FileNotFoundError:
        raise FetchError(f"{url}: no such file") from None
    except IsADirectoryError:
        raise FetchError(f"{url}: is a directory, not a feed or page file") from None
    except OSError as exc:
        raise FetchError(f"{url}: cannot read: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    ctype = {".html": "text/html", ".htm": "text/html", ".md": "text/markdown",
             ".markdown": "text/markdown", ".json": "application/json"}.get(suffix)
    return FetchResult(url=path.resolve().as_uri(), body=body, content_type=ctype)


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class HostPacer:
    """One request in flight per host, and ``delay`` seconds from the end of one to the start
    of the next.  ``slot(url)`` holds the host for the duration of a request (its retries
    included); waits go through ``sleep`` and are recorded in ``paced``."""

    def __init__(self, delay: float, sleep: Callable[[float], None]) -> None:
        self.delay = max(0.0, delay)
        self.sleep = sleep
        self.paced: list[float] = []
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._last: dict[str, float] = {}

    @staticmethod
    def host_key(url: str) -> str:
        parts = urlsplit(url)
        return f"{parts.scheme}://{(parts.netloc or '').lower()}"

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def wait_turn(self, key: str) -> None:
        """Sleep until ``delay`` has passed since the host's last request ended (hold its slot)."""
        last = self._last.get(key)
        if last is not None and self.delay:
            wait = last + self.delay - time.monotonic()
            if wait > 0:
                self.paced.append(round(wait, 3))
                self.sleep(wait)

    def done(self, key: str) -> None:
        self._last[key] = time.monotonic()

    def slot(self, url: str) -> threading.Lock:
        return self._lock(self.host_key(url))


class HttpFetcher:
    """The real fetcher (httpx).  ``sleep`` is injectable so tests can record the waits:
    ``waits`` holds the retry backoffs, ``pacer.paced`` the politeness delays."""

    def __init__(self, settings: IngestSettings, *,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        import httpx

        self.settings = settings
        self.sleep = sleep
        self.waits: list[float] = []
        self.pacer = HostPacer(settings.delay, sleep)
        timeout = httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0))
        self._client = httpx.Client(
            timeout=timeout, follow_redirects=True, max_redirects=10,
            headers={"User-Agent": settings.user_agent,
                     "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, "
                               "text/html;q=0.8, */*;q=0.5"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str, *, etag: str | None = None,
              last_modified: str | None = None) -> FetchResult:
        if is_local(url):
            return read_local(url, self.settings.max_bytes)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._send("GET", url, headers, None)

    def post(self, url: str, body: bytes, *,
             content_type: str = "application/json") -> FetchResult:
        if is_local(url):
            raise FetchError(f"{url}: a local file cannot answer a POST request")
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        return self._send("POST", url, headers, body)

    def _send(self, method: str, url: str, headers: dict[str, str],
              body: bytes | None) -> FetchResult:
        import httpx

        key = HostPacer.host_key(url)
        attempts = max(1, self.settings.retries + 1)
        last_problem = ""
        with self.pacer.slot(url):
            for attempt in range(attempts):
                wait: float | None = None
                self.pacer.wait_turn(key)
                try:
                    result = self._once(method, url, headers, body)
                except _Retryable as exc:
                    last_problem, wait = exc.problem, exc.retry_after
                except httpx.TimeoutException:
                    last_problem = f"timed out (no answer within {self.settings.timeout:g} s)"
                except httpx.TooManyRedirects:
                    raise FetchError(f"{url}: too many redirects") from None
                except httpx.InvalidURL as exc:
                    raise FetchError(f"{url}: not a valid URL ({exc})") from None
                except httpx.UnsupportedProtocol:
                    raise FetchError(f"{url}: unsupported URL scheme (use http, https or file)") \
                        from None
                except httpx.TransportError as exc:
                    last_problem = f"connection failed ({exc.__class__.__name__}: {exc})"
                    if unknown_host(exc):  # asking again cannot help (offline, or a typo)
                        raise FetchError(f"{url}: {last_problem}; the host name does not "
                                         "resolve, so it was not asked again") from None
                else:
                    return result
                finally:
                    self.pacer.done(key)
                if attempt + 1 < attempts:
                    delay = self.settings.backoff * (2 ** attempt)
                    if wait is not None:
                        delay = max(delay, wait)
                    delay = min(delay, MAX_WAIT)
                    self.waits.append(delay)
                    self.sleep(delay)
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        raise FetchError(f"{url}: {last_problem}{tries}")

    def _once(self, method: str, url: str, headers: dict[str, str],
              body: bytes | None) -> FetchResult:
        limit = self.settings.max_bytes
        deadline = time.monotonic() + 3 * self.settings.timeout
        with self._client.stream(method, url, headers=headers, content=body) as resp:
            status = resp.status_code
            if status in RETRY_STATUSES:
                raise _Retryable(f"HTTP {status} {resp.reason_phrase}".rstrip(),
                                 retry_after(resp.headers.get("retry-after")))
            final = str(resp.url)
            meta = dict(url=final, status=status, content_type=resp.headers.get("content-type"),
                        etag=resp.headers.get("etag"),
                        last_modified=resp.headers.get("last-modified"),
                        headers={k.lower(): v for k, v in resp.headers.items()})
            if status == 304:
                return FetchResult(not_modified=True, **meta)
            if status >= 500 or (status >= 400 and method == "GET"):
                raise FetchError(f"{url}: HTTP {status} {resp.reason_phrase}".rstrip(), status)
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise FetchError(f"{url}: body of {declared} bytes is over the {limit}-byte limit "
                                 "(settings ingest.max_bytes); not downloaded")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise FetchError(f"{url}: body is over the {limit}-byte limit "
                                     "(settings ingest.max_bytes); download aborted")
                if time.monotonic() > deadline:
                    raise _Retryable(f"timed out (body still arriving after "
                                     f"{3 * self.settings.timeout:g} s)", None)
                chunks.append(chunk)
        return FetchResult(body=b"".join(chunks), **meta)


def unknown_host(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a name lookup that found no such host — not a
    temporary resolver failure (EAI_AGAIN), which is worth asking again."""
    import socket

    permanent = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, socket.gaierror) and cur.errno in permanent:
            return True
        cur = cur.__cause__ or cur.__context__
    return False


class _Retryable(Exception):
    def __init__(self, problem: str, retry_after: float | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after = retry_after


class FakeFetcher:
    """Deterministic in-memory fetcher for logic tests: ``{url: FetchResult | Exception}``.
    A POST is answered by ``on_post(url, body)`` when given, else like a GET of the URL."""

    def __init__(self, responses: dict[str, FetchResult | Exception], *,
                 on_post: Callable[[str, bytes], FetchResult] | None = None) -> None:
        self.responses = responses
        self.on_post = on_post
        self.calls: list[tuple[str, str | None, str | None]] = []
        self.posts: list[tuple[str, bytes]] = []

    def post(self, url: str, body: bytes, *,
             content_type: str = "application/json") -> FetchResult:
        self.posts.append((url, body))
        if self.on_post is not None:
            return self.on_post(url, body)
        return self.fetch(url)

    def fetch(self, url: str, *, etag: str | None = None,
              last_modified: str | None = None) -> FetchResult:
        self.calls.append((url, etag, last_modified))
        if is_local(url) and url not in self.responses:
            return read_local(url, 1 << 30)
        res = self.responses.get(url)
        if res is None:
            raise FetchError(f"{url}: HTTP 404 Not Found", 404)
        if isinstance(res, Exception):
            raise res
        if etag and res.etag == etag:
            return FetchResult(url=url, status=304, not_modified=True, etag=etag)
        return res
