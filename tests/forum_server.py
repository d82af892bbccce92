"""A ForumMagnum-compatible GraphQL server on 127.0.0.1 for forum and backfill tests.

It answers ``POST /graphql`` the way LessWrong does: the request's query text is parsed,
validated and executed by graphql-core against :data:`SDL` — a subset of ForumMagnum's
generated schema (``packages/lesswrong/lib/generated/gqlSchema.gql``), written out here with
the real type and field names — so kb's real query is what is tested: an unknown field, a
wrong argument or a variable of the wrong type fails here as it would there.

The ``posts`` resolver follows ForumMagnum's posts views: the selector names one view
(``new`` sorts by ``postedAt`` descending, ``old`` ascending, ``top`` by karma); the default
view's terms select ``postedAt > after`` and ``postedAt < before``, ``baseScore >=
karmaThreshold`` (0 means none) and ``af``; ``limit``/``offset`` page, ``enableTotal`` counts.
The deprecated ``input: {terms: {...}}`` form is honoured too.  With ``af_only`` it is an
Alignment Forum instance (every view is restricted to AF posts).

Faults on demand (:meth:`ForumServer.fault`): ``429`` with ``Retry-After``, ``500``, a body
that is not JSON, GraphQL ``errors``, or a slow answer; each for the next ``times`` requests,
optionally only for requests whose variables match.  Every request is logged.

Posts come from the aisafetyconnect LessWrong dataset in ../shared/corpus (built at test time,
never copied into the repo): a post listed under several users is one post with coauthors.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from forum_data import SDL, SORTS, dataset_posts, parse_js_date

__all__ = ["ForumServer", "dataset_posts"]


@dataclass
class Fault:
    kind: str  # "429" | "500" | "bad_json" | "errors" | "slow"
    times: int = 1
    retry_after: float = 1.0
    delay: float = 0.0
    match: Callable[[dict[str, Any]], bool] | None = None  # on the request's variables


@dataclass
class Logged:
    variables: dict[str, Any]
    status: int
    query: str = ""
    at: float = field(default_factory=time.monotonic)


class ForumServer:
    """``ForumServer(posts).start()``; ``.url`` is the endpoint (``…/graphql``)."""

    def __init__(self, posts: list[dict[str, Any]], *, af_only: bool = False) -> None:
        from graphql import build_schema

        self.posts = posts
        self.af_only = af_only
        self.schema = build_schema(SDL)
        self.faults: list[Fault] = []
        self.log: list[Logged] = []
        self._lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    # --- control -------------------------------------------------------------------------
    def start(self) -> ForumServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size)
                status, headers, body, delay = server.answer(self.path, raw)
                if delay:
                    time.sleep(delay)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

            def do_GET(self) -> None:
                body = b'{"errors":[{"message":"GET query must be a POST here"}]}'
                self.send_response(405)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/graphql"

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def fault(self, kind: str, *, times: int = 1, retry_after: float = 1.0, delay: float = 0.0,
              match: Callable[[dict[str, Any]], bool] | None = None) -> None:
        with self._lock:
            self.faults.append(Fault(kind, times, retry_after, delay, match))

    def edit(self, post_id: str, markdown: str) -> None:
        """The author edits a post: new body, new ``modifiedAt``."""
        with self._lock:
            post = next(p for p in self.posts if p["_id"] == post_id)
            post["contents"] = {**(post["contents"] or {"_id": f"rev-{post_id}", "html": None,
                                                        "wordCount": 0.0,
                                                        "plaintextDescription": ""}),
                                "markdown": markdown}
            post["modifiedAt"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def add(self, post: dict[str, Any]) -> None:
        with self._lock:
            self.posts.append(post)

    def pages_for(self, pred: Callable[[dict[str, Any]], bool] | None = None) -> list[Logged]:
        return [e for e in self.log if e.status == 200 and (pred is None or pred(e.variables))]

    # --- answering -------------------------------------------------------------------------
    def answer(self, path: str, raw: bytes) -> tuple[int, dict[str, str], bytes, float]:
        json_type = {"Content-Type": "application/json; charset=utf-8"}
        try:
            req = json.loads(raw.decode("utf-8"))
            query, variables = req["query"], req.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return 400, json_type, b'{"errors":[{"message":"POST body must be JSON"}]}', 0.0
        fault = self._take_fault(variables)
        delay = 0.0
        if fault is not None:
            if fault.kind == "429":
                self._log(variables, 429, query)
                return 429, {**json_type, "Retry-After": f"{fault.retry_after:g}"}, \
                    b'{"errors":[{"message":"Too many requests"}]}', 0.0
            if fault.kind == "500":
                self._log(variables, 500, query)
                return 500, {"Content-Type": "text/html"}, b"<h1>Internal Server Error</h1>", 0.0
            if fault.kind == "bad_json":
                self._log(variables, 200, query)
                return 200, json_type, b'{"data": {"posts": {"results": [{"_id": "x", ', 0.0
            if fault.kind == "errors":
                self._log(variables, 200, query)
                return 200, json_type, json.dumps({"errors": [{
                    "message": "Cannot query posts right now", "path": ["posts"]}],
                    "data": {"posts": None}}).encode(), 0.0
            if fault.kind == "slow":
                delay = fault.delay
        from graphql import GraphQLError, graphql_sync, parse, validate

        try:
            doc = parse(query)
        except GraphQLError as exc:
            self._log(variables, 400, query)
            return 400, json_type, json.dumps({"errors": [exc.formatted]}).encode(), delay
        problems = validate(self.schema, doc)
        if problems:
            self._log(variables, 400, query)
            return 400, json_type, json.dumps(
                {"errors": [e.formatted for e in problems]}).encode(), delay
        result = graphql_sync(self.schema, query, root_value={"posts": self.posts_resolver},
                              variable_values=variables)
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        status = 400 if result.errors and result.data is None else 200
        self._log(variables, status, query)
        return status, json_type, json.dumps(out).encode(), delay

    def _take_fault(self, variables: dict[str, Any]) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.times > 0 and (f.match is None or f.match(variables)):
                    f.times -= 1
                    return f
        return None

    def _log(self, variables: dict[str, Any], status: int, query: str) -> None:
        with self._lock:
            self.log.append(Logged(variables, status, query))

    # the root resolver of ``posts`` (graphql-core calls it with the field's arguments)
    def posts_resolver(self, _info: Any, input: dict[str, Any] | None = None,  # noqa: A002
                       selector: dict[str, Any] | None = None, limit: int | None = None,
                       offset: int | None = None, enableTotal: bool | None = None  # noqa: N803
                       ) -> dict[str, Any]:
        if selector:
            if len(selector) != 1:
                raise ValueError("the selector must name exactly one view")
            (view, terms), = selector.items()
            terms = dict(terms or {})
        else:
            terms = dict((input or {}).get("terms") or {})
            view = str(terms.get("view") or "default")
            limit = terms.get("limit", limit)
            offset = terms.get("offset", offset)
            enableTotal = (input or {}).get("enableTotal", enableTotal)  # noqa: N806
        with self._lock:
            rows = [p for p in self.posts if self._selected(p, terms)]
        key, desc = SORTS.get(view, SORTS["new"])
        rows.sort(key=lambda p: (p[key], p["_id"]), reverse=desc)
        start = max(0, int(offset or 0))
        page = rows[start:start + (10 if limit is None else max(0, int(limit)))]
        return {"results": page, "totalCount": len(rows) if enableTotal else None}

    def _selected(self, post: dict[str, Any], terms: dict[str, Any]) -> bool:
        if post.get("draft"):
            return False
        if (self.af_only or terms.get("af")) and not post["af"]:
            return False
        posted = parse_js_date(post["postedAt"])
        if terms.get("after") and not posted > parse_js_date(terms["after"]):
            return False
        if terms.get("before") and not posted < parse_js_date(terms["before"]):
            return False
        karma = terms.get("karmaThreshold")
        if karma and str(karma) != "0" and post["baseScore"] < int(karma):
            return False
        return not (terms.get("userId") and post["userId"] != terms["userId"] and
                    terms["userId"] not in {c["_id"] for c in post["coauthors"]})


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up (kb killed, a timeout) is not an error worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass
