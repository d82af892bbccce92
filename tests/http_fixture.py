"""A real HTTP server on 127.0.0.1 (random port) for ingest tests.

Routes are set per path: status, body, headers, a delay before answering, a slow trickle,
ETag handling (If-None-Match -> 304) and sequences of responses (one per request, the last
repeated).  Every request is logged with its headers so tests can check what kb sent.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str | None = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # answer 304 when the request's If-None-Match matches
    delay: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # seconds between 1 KB chunks of the body
    send_length: bool = True  # False: no Content-Length (streamed until close)


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Route]] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = server._next(self.path, {k.lower(): v for k, v in self.headers.items()})
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(route)

            def _answer(self, route: Route | None) -> None:
                if route is None:
                    route = Route(body=b"not found", status=404, content_type="text/plain")
                if route.delay:
                    time.sleep(route.delay)
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self.send_response(304)
                    self.send_header("ETag", route.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(route.status)
                if route.content_type:
                    self.send_header("Content-Type", route.content_type)
                if route.etag:
                    self.send_header("ETag", route.etag)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.send_length:
                    self.send_header("Content-Length", str(len(route.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if not route.trickle:
                    self.wfile.write(route.body)
                    return
                for i in range(0, len(route.body), 1024):
                    self.wfile.write(route.body[i:i + 1024])
                    self.wfile.flush()
                    time.sleep(route.trickle)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _next(self, path: str, headers: dict[str, str]) -> Route | None:
        with self._lock:
            self.requests.append(Request(path, headers))
            seq = self.routes.get(path)
            if not seq:
                return None
            return seq.pop(0) if len(seq) > 1 else seq[0]

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, *responses: Route, **kw: object) -> str:
        """Serve ``responses`` in turn at ``path`` (or one Route built from ``kw``)."""
        with self._lock:
            self.routes[path] = list(responses) if responses else [Route(**kw)]  # type: ignore[arg-type]
        return self.url(path)

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    try:
        yield server
    finally:
        server.close()
