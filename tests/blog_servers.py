"""Blog sites on 127.0.0.1 for feed discovery and `kb backfill` of blog archives.

``BlogSite(kind, pages)`` serves one blog of the real pages in ../shared/corpus/pages_html
(each a post with its own date) in one of three shapes:

* ``wordpress``: ``/wp-json/wp/v2/posts`` as WordPress's REST API answers it — ``after`` /
  ``before`` / ``orderby=date`` / ``order`` / ``page`` / ``per_page`` (1..100; a page past the
  end is HTTP 400 ``rest_post_invalid_page_number``), ``X-WP-Total`` and ``X-WP-TotalPages``,
  ``_embed`` authors, ``date_gmt`` without a zone;
* ``substack``: ``/api/v1/archive?sort=new&offset&limit`` (newest first, no text) and
  ``/api/v1/posts/<slug>`` (with ``body_html``);
* ``sitemap``: ``/robots.txt`` naming a sitemap index, which names a sitemap of the post pages
  (and a tag page, which is not a post), each page the saved HTML itself.

Every site has a homepage linking its feed with ``<link rel="alternate">`` (the saved
homepage in tests/fixtures/blog/home.html, our own text) and an RSS feed at ``/feed``.
Requests are logged (path and query) so tests can see what was downloaded twice.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "blog"
PAGES = ("lilianweng/2024-11-28-reward-hacking.html", "lilianweng/2023-10-25-adv-attack-llm.html",
         "distill/distill_2019_safety-needs-social-scientists.html",
         "distill/distill_2021_circuits_branch-specialization.html",
         "distill/distill_2019_advex-bugs-discussion.html")


@dataclass
class BlogPost:
    slug: str
    title: str
    date: str  # ISO UTC, "2024-11-28T00:00:00Z"
    author: str
    html: str  # the whole saved page

    @property
    def body(self) -> str:
        """The page's <body> (what a CMS would render as the post's content)."""
        m = re.search(r"<body[^>]*>(.*)</body>", self.html, re.S | re.I)
        return m.group(1) if m else self.html


def corpus_posts(corpus: Path) -> list[BlogPost]:
    out = []
    for rel in PAGES:
        html = (corpus / "pages_html" / rel).read_text(encoding="utf-8", errors="replace")
        m = re.search(r'(?:article:published_time|datePublished)"?\s+content="([0-9-]{10})', html)
        t = re.search(r"<title>(.*?)</title>", html, re.S)
        slug = Path(rel).stem
        out.append(BlogPost(slug=slug, title=(t.group(1).strip() if t else slug),
                            date=f"{m.group(1) if m else '2020-01-01'}T09:30:00Z",
                            author="Lilian Weng" if "lilianweng" in rel else "Distill authors",
                            html=html))
    return sorted(out, key=lambda p: p.date)


@dataclass
class BlogSite:
    kind: str  # "wordpress" | "substack" | "sitemap" | "none"
    posts: list[BlogPost]
    has_feed: bool = True  # False: no homepage, no /feed (a site kb cannot follow)
    log: list[str] = field(default_factory=list)
    httpd: ThreadingHTTPServer | None = None

    def start(self) -> BlogSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                site.log.append(self.path)
                status, ctype, body, headers = site.route(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()

    @property
    def base(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def post_url(self, p: BlogPost) -> str:
        return f"{self.base}/posts/{p.slug}/"

    def hits(self, prefix: str) -> list[str]:
        return [p for p in self.log if p.startswith(prefix)]

    # --- routes ----------------------------------------------------------------------------
    def route(self, raw: str) -> tuple[int, str, bytes, dict[str, str]]:
        parts = urlsplit(raw)
        path, q = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        html, js, xml = "text/html; charset=utf-8", "application/json; charset=UTF-8", \
            "application/xml"
        if not self.has_feed and path in ("/", "/feed"):
            return 404, "text/plain", b"not found", {}
        if path == "/":
            home = (FIXTURES / "home.html").read_text(encoding="utf-8")
            return 200, html, home.replace("{BASE}", self.base).encode(), {}
        if path == "/feed":
            return 200, "application/rss+xml", self.feed().encode(), {}
        if self.kind == "wordpress" and path == "/wp-json/wp/v2/posts":
            return self.wordpress(q)
        if self.kind == "substack" and path == "/api/v1/archive":
            return self.substack_archive(q)
        if self.kind == "substack" and path.startswith("/api/v1/posts/"):
            post = next((p for p in self.posts if p.slug == path.rsplit("/", 1)[-1]), None)
            if post is None:
                return 404, js, b'{"error":"not found"}', {}
            return 200, js, json.dumps({**self._substack_item(post),
                                        "body_html": post.body}).encode(), {}
        if self.kind in ("sitemap", "none") and path.startswith("/posts/"):
            post = next((p for p in self.posts if path == f"/posts/{p.slug}/"), None)
            if post is not None:
                return 200, html, post.html.encode(), {}
        if self.kind == "sitemap":
            if path == "/robots.txt":
                return 200, "text/plain", f"User-agent: *\nSitemap: {self.base}/sitemap_index.xml\n" \
                    .encode(), {}
            if path == "/sitemap_index.xml":
                return 200, xml, (
                    '<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.'
                    f'sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{self.base}/sitemap-posts.xml'
                    "</loc></sitemap></sitemapindex>").encode(), {}
            if path == "/sitemap-posts.xml":
                locs = [self.post_url(p) for p in self.posts] + [f"{self.base}/tags/safety/"]
                body = "".join(f"<url><loc>{escape(u)}</loc></url>" for u in locs)
                return 200, xml, ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://'
                                  f'www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
                                  ).encode(), {}
            if path == "/tags/safety/":
                return 200, html, b"<html><body><h1>Posts tagged safety</h1></body></html>", {}
        return 404, "text/plain", b"not found", {}

    def feed(self) -> str:
        items = "".join(
            f"<item><title>{escape(p.title)}</title><link>{self.post_url(p)}</link>"
            f"<guid>{self.post_url(p)}</guid><pubDate>{_rfc822(p.date)}</pubDate>"
            f"<description>{escape('<p>' + p.title + ' (summary)</p>')}</description></item>"
            for p in reversed(self.posts[-3:]))
        return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>Loopback research blog</title><link>{self.base}/</link>"
                f"<description>test blog</description>{items}</channel></rss>")

    def wordpress(self, q: dict[str, str]) -> tuple[int, str, bytes, dict[str, str]]:
        js = "application/json; charset=UTF-8"
        per_page = int(q.get("per_page", "10"))
        if not 1 <= per_page <= 100:
            return 400, js, b'{"code":"rest_invalid_param"}', {}
        rows = [p for p in self.posts
                if (not q.get("after") or p.date[:19] > q["after"][:19])
                and (not q.get("before") or p.date[:19] < q["before"][:19])]
        rows.sort(key=lambda p: p.date, reverse=q.get("order", "desc") == "desc")
        pages = max(1, -(-len(rows) // per_page))
        page = int(q.get("page", "1"))
        if page > pages:
            return 400, js, b'{"code":"rest_post_invalid_page_number","message":"The page ' \
                            b'number requested is larger than the number of pages available."}', {}
        chunk = rows[(page - 1) * per_page: page * per_page]
        items = [{"id": i, "date_gmt": p.date[:19], "modified_gmt": p.date[:19],
                  "link": self.post_url(p), "slug": p.slug, "title": {"rendered": p.title},
                  "content": {"rendered": p.body, "protected": False}, "author": 1,
                  "_embedded": {"author": [{"id": 1, "name": p.author}]} if "_embed" in q
                  else {}} for i, p in enumerate(chunk, start=(page - 1) * per_page + 1)]
        if q.get("_fields") == "id":
            items = [{"id": it["id"]} for it in items]
        return 200, js, json.dumps(items).encode(), {"X-WP-Total": str(len(rows)),
                                                     "X-WP-TotalPages": str(pages)}

    def _substack_item(self, p: BlogPost) -> dict[str, Any]:
        return {"id": 1000 + self.posts.index(p), "title": p.title, "slug": p.slug,
                "post_date": p.date.replace("Z", ".000Z"), "canonical_url": self.post_url(p),
                "audience": "everyone", "type": "newsletter", "description": p.title,
                "publishedBylines": [{"id": 1, "name": p.author}], "body_html": None}

    def substack_archive(self, q: dict[str, str]) -> tuple[int, str, bytes, dict[str, str]]:
        offset, limit = int(q.get("offset", "0")), int(q.get("limit", "12"))
        rows = sorted(self.posts, key=lambda p: p.date, reverse=True)[offset:offset + limit]
        return 200, "application/json", json.dumps(
            [self._substack_item(p) for p in rows]).encode(), {}


def _rfc822(iso: str) -> str:
    from datetime import datetime

    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")), usegmt=True)


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up (kb killed, a timeout) is not an error worth a traceback."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass
