"""An Ollama-protocol HTTP server for the test suite, backed by the real SmolLM2 GGUF.

It stands in for a real Ollama (which cannot run here): it speaks Ollama's HTTP API on a
loopback address (127.0.0.1 unless ``address`` names another, e.g. 127.0.0.2 or ::1, so a
test can put it where only OLLAMA_HOST / ollama.host leads) — ``/api/tags``, ``/api/show``,
``/api/chat``, ``/api/generate`` (streaming NDJSON and not), ``/api/embed``, ``/api/pull``,
``/api/version`` — and answers every model tag named in models.lock with the small SmolLM2
model run by llama-cpp-python.  Other tags get a 404 ``{"error": "model '…' not found"}``.

It accepts what Ollama's clients send, the official ``ollama`` Python client included:
JSON bodies with a Content-Length or chunked, and absolute-form request targets
(``POST http://host:port/api/chat``) as a client sends them to an HTTP proxy, so a test can
stand it in as the proxy of a non-loopback Ollama host (those targets are recorded in
``proxied``).

Knobs for tests: ``digests`` (what ``/api/tags`` reports, to fake a digest mismatch),
``present`` (which tags are "pulled"), ``delay`` (seconds before each response: a slow
server), ``first_token_delay`` (seconds before the first piece of every chat/generate answer:
a slow model load or prompt evaluation; a stream has sent its headers by then, a
non-streamed answer has sent nothing), ``fail_next`` (answer that many requests with 503),
``drop_next`` (close the connection of that many requests without answering),
``stream_gate`` (hold streams after their first line),
``break_stream_after``/``break_stream_how`` (break every stream after that many lines:
``"hangup"`` closes the connection mid-body, ``"garble"`` sends a line that is not JSON,
``"error"`` sends an ``{"error": …}`` line as Ollama does when generation fails, ``"end"``
ends the body before the final line; a non-streamed chat/generate answer breaks at the same
point: ``"hangup"`` sends part of its body and closes, ``"garble"`` sends a body that is not
JSON, ``"error"`` answers HTTP 500 ``{"error": …}`` as Ollama does when the runner fails,
``"end"`` sends the text so far with ``done: false``), ``stop()``/``start()`` (same address
and port).

Standalone, so a developer can point kb at it::

    python tests/ollama_server.py --port 11435 [--address 127.0.0.2] [--first-token-delay 5]
    OLLAMA_HOST=http://127.0.0.1:11435 kb models status
"""

from __future__ import annotations

import argparse
import hashlib
import json
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kb.models.spec import normalize_tag  # noqa: E402

DEFAULT_NUM_CTX = 4096  # Ollama's default when a client does not pass options.num_ctx
DEFAULT_NUM_PREDICT = 256  # a cap for the test server (Ollama's default is "until done")


def locked_tags(lock: dict[str, Any]) -> list[str]:
    """Every Ollama tag models.lock names (llm, its presets, embed_ollama)."""
    tags = []
    llm = lock.get("llm", {})
    if llm.get("model"):
        tags.append(llm["model"])
    for preset in llm.get("presets", {}).values():
        if isinstance(preset, dict) and preset.get("model"):
            tags.append(preset["model"])
    if lock.get("embed_ollama", {}).get("model"):
        tags.append(lock["embed_ollama"]["model"])
    return [normalize_tag(t) for t in tags]


def fake_digest(tag: str, gguf_sha: str) -> str:
    return hashlib.sha256(f"{tag}\0{gguf_sha}".encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class ModelHost:
    """The SmolLM2 GGUF behind every tag: one chat Llama and one embedding Llama, lazily
    loaded, with a lock because llama.cpp is not thread-safe."""

    N_CTX = 8192
    EMBED_CTX = 2048

    def __init__(self, path: Path, sha256: str) -> None:
        self.path, self.sha256 = path, sha256
        self.size = path.stat().st_size
        self.lock = threading.Lock()
        self._chat: Any = None
        self._embed: Any = None
        self._formatter: Any = None

    @classmethod
    def from_lock(cls) -> ModelHost:
        from kb.models.lockfile import load_lock, packaged_file, verified_path

        pf = packaged_file(load_lock(), "llm_embedded.package")
        return cls(verified_path(pf), pf.sha256)

    def chat_llama(self) -> Any:
        if self._chat is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            from kb.models.llamacpp import load_llama

            llm = load_llama(self.path, n_ctx=self.N_CTX, threads=0)

            def text(tid: int) -> str:
                return llm.detokenize([tid], special=True).decode() if tid >= 0 else ""

            self._formatter = Jinja2ChatFormatter(llm.metadata["tokenizer.chat_template"],
                                                  eos_token=text(llm.token_eos()),
                                                  bos_token=text(llm.token_bos()))
            self._chat = llm
        return self._chat

    def embed_llama(self) -> Any:
        if self._embed is None:
            from kb.models.llamacpp import load_llama

            self._embed = load_llama(self.path, n_ctx=self.EMBED_CTX, threads=0, embedding=True)
        return self._embed

    def chat_prompt(self, messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
        self.chat_llama()
        out = self._formatter(messages=[{"role": m.get("role", "user"),
                                         "content": m.get("content") or ""} for m in messages])
        stop = out.stop if isinstance(out.stop, list) else ([out.stop] if out.stop else [])
        return out.prompt, stop

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.chat_llama().metadata)

    def generate(self, prompt: str, stop: list[str], body: dict[str, Any]
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Pieces of the reply, then ("", stats) with Ollama's counters and done_reason."""
        from llama_cpp import LlamaGrammar
        from llama_cpp.llama_grammar import JSON_GBNF

        opts = body.get("options") or {}
        llm = self.chat_llama()
        t0 = time.monotonic_ns()
        tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
        num_ctx = min(int(opts.get("num_ctx") or DEFAULT_NUM_CTX), self.N_CTX)
        num_predict = int(opts.get("num_predict") or DEFAULT_NUM_PREDICT)
        if num_predict < 0:
            num_predict = num_ctx
        if len(tokens) >= num_ctx:  # Ollama truncates silently: keep the end of the prompt
            tokens = tokens[-max(1, num_ctx - min(num_predict, num_ctx // 2)):]
        num_predict = max(1, min(num_predict, num_ctx - len(tokens)))
        fmt = body.get("format")
        grammar = None
        if fmt == "json":
            grammar = LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        elif isinstance(fmt, dict):
            grammar = LlamaGrammar.from_json_schema(json.dumps(fmt), verbose=False)
        stops = stop + [s for s in (opts.get("stop") or []) if isinstance(s, str)]
        t1 = time.monotonic_ns()
        n_out, reason, first = 0, "stop", 0
        with self.lock:
            for chunk in llm.create_completion(
                    tokens, max_tokens=num_predict, temperature=float(opts.get("temperature", 0.8)),
                    seed=int(opts.get("seed", 0)), stop=stops or None, grammar=grammar,
                    stream=True):
                choice = chunk["choices"][0]
                if not first:
                    first = time.monotonic_ns()
                if choice.get("text"):
                    n_out += 1
                    yield choice["text"], {}
                if choice.get("finish_reason"):
                    reason = "length" if choice["finish_reason"] == "length" else "stop"
        t2 = time.monotonic_ns()
        first = first or t2
        yield "", {"done_reason": reason, "total_duration": t2 - t0, "load_duration": t1 - t0,
                   "prompt_eval_count": len(tokens), "prompt_eval_duration": first - t1,
                   "eval_count": n_out, "eval_duration": t2 - first}

    def embed(self, texts: list[str]) -> list[list[float]]:
        llm = self.embed_llama()
        with self.lock:
            vecs = llm.embed(texts, normalize=True, truncate=True)
        return [list(map(float, v)) for v in vecs]


_HOST: ModelHost | None = None
_HOST_LOCK = threading.Lock()


def shared_host() -> ModelHost:
    """One ModelHost per process: every test server shares the loaded model."""
    global _HOST
    with _HOST_LOCK:
        if _HOST is None:
            _HOST = ModelHost.from_lock()
        return _HOST


class _HTTPServer6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class OllamaTestServer:
    """A threaded Ollama-protocol server on a loopback address (see the module doc)."""

    def __init__(self, *, port: int = 0, address: str = "127.0.0.1",
                 tags: list[str] | None = None, digests: dict[str, str] | None = None,
                 present: list[str] | None = None, delay: float = 0.0,
                 first_token_delay: float = 0.0, host: ModelHost | None = None) -> None:
        from kb.models.lockfile import load_lock

        self.model_host = host or shared_host()
        self.tags = [normalize_tag(t) for t in (tags or locked_tags(load_lock()))]
        self.digests = {t: fake_digest(t, self.model_host.sha256) for t in self.tags}
        self.digests.update({normalize_tag(k): v for k, v in (digests or {}).items()})
        self.present = {normalize_tag(t) for t in (self.tags if present is None else present)}
        self.address = address.strip("[]")
        self.delay = delay
        self.first_token_delay = first_token_delay
        self.fail_next = 0  # answer this many of the next requests with HTTP 503
        self.drop_next = 0  # close the connection of this many requests without answering
        # break every NDJSON stream after this many lines (None: never), as break_stream_how says
        self.break_stream_after: int | None = None
        self.break_stream_how: Literal["hangup", "garble", "error", "end"] = "hangup"
        self.proxied: list[str] = []  # absolute-form request targets (requests sent via a proxy)
        self.user_agents: list[str] = []  # the User-Agent of every request, in order
        # set stream_gate to an Event to hold every NDJSON stream after its first line until
        # the event is set; stream_paused is set while a stream is held (for tests that prove
        # pieces arrive incrementally)
        self.stream_gate: threading.Event | None = None
        self.stream_paused = threading.Event()
        self.requests: list[tuple[str, str, dict[str, Any]]] = []  # (method, path, body)
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self._port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> OllamaTestServer:
        if self._httpd is not None:
            return self
        handler = type("Handler", (_Handler,), {"ollama": self})
        server_class = _HTTPServer6 if ":" in self.address else ThreadingHTTPServer
        httpd = server_class((self.address, self._port), handler)
        httpd.daemon_threads = True
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"ollama-test-{self._port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> OllamaTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- Ollama's JSON shapes ---------------------------------------------------------------
    def model_entry(self, tag: str) -> dict[str, Any]:
        return {"name": tag, "model": tag, "modified_at": _now(), "size": self.model_host.size,
                "digest": self.digests[tag], "details": self.details()}

    def details(self) -> dict[str, Any]:
        return {"parent_model": "", "format": "gguf", "family": "llama", "families": ["llama"],
                "parameter_size": "135M", "quantization_level": "Q4_1"}


class _ClientGone(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    ollama: OllamaTestServer
    protocol_version = "HTTP/1.1"
    server_version = "ollama-test/0.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
        pass

    # --- plumbing ---------------------------------------------------------------------------
    def _wait(self, seconds: float) -> None:
        """Sleep ``seconds``, giving up early (raising _ClientGone) if the client hangs up."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.connection], [], [], min(left, 0.05))
            if ready:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        raise _ClientGone
                except OSError as exc:
                    raise _ClientGone from exc

    def _send_json(self, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _send_ndjson(self, lines: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        gate = self.ollama.stream_gate
        try:
            complete = self._write_lines(lines, gate)
        finally:
            close = getattr(lines, "close", None)
            if close is not None:
                close()
        if complete:
            self.wfile.write(b"0\r\n\r\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _write_lines(self, lines: Iterator[dict[str, Any]], gate: threading.Event | None) -> bool:
        """Send the lines as chunks; False when the stream must end without its last chunk
        (the ``hangup`` fault: the connection is then closed mid-body)."""
        o = self.ollama
        for i, obj in enumerate(lines):
            if i == o.break_stream_after:
                if o.break_stream_how == "garble":
                    self._write_chunk(b'{"model": "garbled\n')
                elif o.break_stream_how == "error":
                    self._write_chunk(b'{"error": "the model runner stopped (test knob)"}\n')
                return o.break_stream_how != "hangup"
            if i == 0 and gate is not None:
                o.stream_paused.set()  # before the client can see the first line
            self._write_chunk((json.dumps(obj) + "\n").encode())
            if i == 0 and gate is not None:
                gate.wait(10)
                o.stream_paused.clear()
        return True

    def _raw_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            raw = b""
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                raw += self.rfile.read(size)
                self.rfile.readline()  # the CRLF after the chunk
            while self.rfile.readline().strip():  # trailers, up to the empty line
                pass
            return raw
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _body(self) -> dict[str, Any]:
        raw = self._raw_body()
        if not raw.strip():
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("request body must be a JSON object")
        return data

    def _model(self, body: dict[str, Any]) -> str | None:
        """The normalized tag asked for, or None after sending a 404."""
        name = str(body.get("model") or body.get("name") or "")
        tag = normalize_tag(name) if name else ""
        if tag not in self.ollama.present:
            self._send_json({"error": f"model '{name}' not found"}, 404)
            return None
        return tag

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            body = self._body() if method == "POST" else {}
        except (ValueError, UnicodeDecodeError) as exc:
            self._send_json({"error": f"invalid JSON: {exc}"}, 400)
            return
        target = urlsplit(self.path)
        if target.scheme:  # absolute form: the client took this server for its proxy
            self.ollama.proxied.append(self.path)
        path = target.path.rstrip("/") or "/"
        self.ollama.requests.append((method, path, body))
        self.ollama.user_agents.append(self.headers.get("User-Agent") or "")
        routes = {("GET", "/"): self._root, ("GET", "/api/version"): self._version,
                  ("GET", "/api/tags"): self._tags, ("POST", "/api/show"): self._show,
                  ("POST", "/api/chat"): self._chat, ("POST", "/api/generate"): self._generate,
                  ("POST", "/api/embed"): self._embed, ("POST", "/api/embeddings"): self._embed,
                  ("POST", "/api/pull"): self._pull}
        route = routes.get((method, path))
        try:
            self._wait(self.ollama.delay)
            if self.ollama.drop_next > 0:
                self.ollama.drop_next -= 1
                self.close_connection = True  # hang up without a status line
            elif self.ollama.fail_next > 0:
                self.ollama.fail_next -= 1
                self._send_json({"error": "server busy (test knob fail_next)"}, 503)
            elif route is None:
                self._send_json({"error": f"{method} {path} not found"}, 404)
            else:
                route(body)
        except (_ClientGone, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # --- endpoints --------------------------------------------------------------------------
    def _root(self, body: dict[str, Any]) -> None:
        data = b"Ollama is running"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _version(self, body: dict[str, Any]) -> None:
        self._send_json({"version": "0.0.0-kb-test"})

    def _tags(self, body: dict[str, Any]) -> None:
        o = self.ollama
        self._send_json({"models": [o.model_entry(t) for t in o.tags if t in o.present]})

    def _show(self, body: dict[str, Any]) -> None:
        if (tag := self._model(body)) is None:
            return
        host = self.ollama.model_host
        meta = host.metadata
        template = meta.get("tokenizer.chat_template", "")
        info: dict[str, Any] = {"general.architecture": "llama",
                                "general.parameter_count": 134515008,
                                "llama.context_length": host.N_CTX,
                                "llama.embedding_length": int(meta.get("llama.embedding_length", 576)),
                                "llama.block_count": int(meta.get("llama.block_count", 30))}
        self._send_json({
            "license": "Apache-2.0",
            "modelfile": f"# test stand-in for {tag}\nFROM {host.path}\nTEMPLATE \"\"\"{template}\"\"\"\n"
                         "PARAMETER stop <|im_end|>\n",
            "parameters": "stop                           \"<|im_end|>\"",
            "template": template, "details": self.ollama.details(), "model_info": info,
            "capabilities": ["completion"], "modified_at": _now()})

    def _reply(self, tag: str, prompt: str, stop: list[str], body: dict[str, Any],
               chat: bool) -> None:
        gen = self.ollama.model_host.generate(prompt, stop, body)

        def piece(text: str) -> dict[str, Any]:
            out: dict[str, Any] = {"model": tag, "created_at": _now()}
            if chat:
                out["message"] = {"role": "assistant", "content": text}
            else:
                out["response"] = text
            return out

        def lines() -> Iterator[dict[str, Any]]:
            try:
                self._wait(self.ollama.first_token_delay)  # the model is loading / reading
                for text, stats in gen:
                    if stats:
                        final = piece("") | {"done": True} | stats
                        if not chat:
                            final["context"] = []
                        yield final
                    else:
                        yield piece(text) | {"done": False}
            finally:
                gen.close()  # a client that hung up must not keep the model locked

        if body.get("stream", True):
            self._send_ndjson(lines())
            return
        o = self.ollama
        text, final = "", {}
        parts = lines()
        try:
            for i, obj in enumerate(parts):
                if i == o.break_stream_after:
                    self._break_reply(piece(text) | {"done": False}, o.break_stream_how)
                    return
                text += obj["message"]["content"] if chat else obj["response"]
                final = obj
        finally:
            parts.close()
        result = piece(text) | {k: v for k, v in final.items() if k not in ("message", "response")}
        self._send_json(result)

    def _break_reply(self, partial: dict[str, Any], how: str) -> None:
        """Break a non-streamed answer as ``break_stream_how`` says (see the module doc);
        ``partial`` is the answer so far, marked not done."""
        if how == "error":
            self._send_json({"error": "the model runner stopped (test knob)"}, 500)
        elif how == "end":
            self._send_json(partial)
        else:
            data = b'{"model": "garbled' if how == "garble" else json.dumps(partial).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data if how == "garble" else data[:len(data) // 2])
            self.close_connection = True  # a hangup: the rest of the body never comes

    def _chat(self, body: dict[str, Any]) -> None:
        if (tag := self._model(body)) is None:
            return
        messages = body.get("messages") or []
        if not messages:  # Ollama: an empty chat just loads the model
            self._send_json({"model": tag, "created_at": _now(), "done": True,
                             "done_reason": "load",
                             "message": {"role": "assistant", "content": ""}})
            return
        prompt, stop = self.ollama.model_host.chat_prompt(messages)
        self._reply(tag, prompt, stop, body, chat=True)

    def _generate(self, body: dict[str, Any]) -> None:
        if (tag := self._model(body)) is None:
            return
        prompt = str(body.get("prompt") or "")
        if not prompt:
            self._send_json({"model": tag, "created_at": _now(), "response": "", "done": True,
                             "done_reason": "load"})
            return
        if body.get("raw"):
            stop: list[str] = []
        else:
            msgs = ([{"role": "system", "content": body["system"]}] if body.get("system") else [])
            prompt, stop = self.ollama.model_host.chat_prompt(msgs + [{"role": "user",
                                                                       "content": prompt}])
        self._reply(tag, prompt, stop, body, chat=False)

    def _embed(self, body: dict[str, Any]) -> None:
        if (tag := self._model(body)) is None:
            return
        legacy = "prompt" in body and "input" not in body
        inp = body.get("prompt") if legacy else body.get("input", "")
        texts = [inp] if isinstance(inp, str) else [str(x) for x in (inp or [])]
        t0 = time.monotonic_ns()
        vecs = self.ollama.model_host.embed(texts) if texts else []
        if legacy:
            self._send_json({"embedding": vecs[0] if vecs else []})
            return
        self._send_json({"model": tag, "embeddings": vecs, "total_duration": time.monotonic_ns() - t0,
                         "load_duration": 0, "prompt_eval_count": sum(len(t.split()) for t in texts)})

    def _pull(self, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        tag = normalize_tag(name) if name else ""
        o = self.ollama
        if tag not in o.tags:
            self._send_json({"error": f"model '{name}' not found"}, 404)
            return
        digest, total = o.digests[tag], o.model_host.size

        def lines() -> Iterator[dict[str, Any]]:
            yield {"status": "pulling manifest"}
            for i in range(5):
                yield {"status": f"pulling {digest[:12]}", "digest": f"sha256:{digest}",
                       "total": total, "completed": total * i // 4}
            yield {"status": "verifying sha256 digest"}
            yield {"status": "writing manifest"}
            o.present.add(tag)
            yield {"status": "success"}

        if body.get("stream", True):
            self._send_ndjson(lines())
        else:
            self._send_json(list(lines())[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="An Ollama-protocol server backed by SmolLM2 "
                                             "(for testing kb without Ollama).")
    ap.add_argument("--port", type=int, default=11435)
    ap.add_argument("--address", default="127.0.0.1",
                    help="the loopback address to listen on (e.g. 127.0.0.2 or ::1)")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds before each response")
    ap.add_argument("--first-token-delay", type=float, default=0.0,
                    help="seconds before the first piece of each chat/generate answer")
    args = ap.parse_args(argv)
    server = OllamaTestServer(port=args.port, address=args.address, delay=args.delay,
                              first_token_delay=args.first_token_delay).start()
    print(f"serving {', '.join(server.tags)} at {server.url} (Ctrl-C to stop)\n"
          f"  OLLAMA_HOST={server.url} kb models status", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
