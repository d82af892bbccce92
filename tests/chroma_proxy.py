"""A token-checking (and optionally TLS) reverse proxy in front of a Chroma server, on loopback.

Chroma's own server (`chroma run`, Rust, 1.x) has no authentication or TLS of its own; a
deployment puts it behind a proxy that does both, and kb's client side is Chroma's: a static
token (``Authorization: Bearer`` or ``X-Chroma-Token``) over https.  This proxy is that
deployment in miniature, so the client settings are tested against real HTTP and real TLS.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
       "host", "authorization", "x-chroma-token"}


def self_signed(dir_: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with the openssl command line."""
    cert, key = dir_ / "cert.pem", dir_ / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    return cert, key


class TokenProxy:
    def __init__(self, upstream: str, token: str, *, header: str = "Authorization",
                 tls: tuple[Path, Path] | None = None) -> None:
        self.upstream, self.token, self.header = upstream.rstrip("/"), token, header
        self.denied = 0
        self.forwarded = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                got = self.headers.get(proxy.header, "")
                want = f"Bearer {proxy.token}" if proxy.header == "Authorization" else proxy.token
                if got != want:
                    proxy.denied += 1
                    msg = b'{"error":"Unauthorized"}'
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)
                    return
                proxy.forwarded += 1
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                resp = httpx.request(self.command, proxy.upstream + self.path, content=body,
                                     headers=headers, timeout=60)
                self.send_response(resp.status_code)
                for k, v in resp.headers.items():
                    if k.lower() not in HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> TokenProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
