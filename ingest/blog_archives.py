"""Blog archives `kb backfill` can walk: WordPress's REST API and Substack's archive API.

* WordPress: ``/wp-json/wp/v2/posts?after=…&before=…&orderby=date&order=asc&page=N`` with the
  authors embedded (``_embed=author``); pages of ``backfill.page_size`` (at most 100, the API's
  limit) until ``X-WP-TotalPages``.  The window's position is the number of pages stored.
  WordPress compares ``after``/``before`` with the site's local time, so kb asks a day wider
  and keeps exactly the posts whose ``date_gmt`` falls in the window.
* Substack: ``/api/v1/archive?sort=new&offset=N&limit=…`` lists posts newest first (without
  their text); each post of the window not yet in the archive is read from
  ``/api/v1/posts/<slug>`` (``body_html``).  The position is the archive offset reached.

Post text is converted from the HTML these APIs serve; titles and names are untrusted text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from ingest.text import html_to_markdown, iso_utc, strip_tags
from ingest.walking import ArchiveError, Page
from kb.fetch import Fetcher, FetchError, FetchResult
from kb.store.backfill import Window, parse_iso
from kb.store.posts import PostRecord

WP_ORIGIN = "wordpress api"
SUBSTACK_ORIGIN = "substack api"
WP_MAX_PAGE = 100
SUBSTACK_MAX_PAGE = 50
Known = Callable[[str], bool]


def json_of(res: FetchResult, where: str) -> Any:
    try:
        return json.loads(res.body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        head = res.body[:60].decode("utf-8", "replace").strip()
        raise ArchiveError(f"{where}: the answer is not JSON ({head!r}…)") from None


def _in(when: str | None, window: Window) -> bool:
    return when is not None and window.start <= when < window.end


# --- WordPress -----------------------------------------------------------------------------
def wp_api(home: str) -> str:
    return home.rstrip("/") + "/wp-json/wp/v2/posts"


def wp_record(item: dict[str, Any]) -> PostRecord | None:
    link = item.get("link")
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        return None
    title = strip_tags(str((item.get("title") or {}).get("rendered") or ""))
    html = str((item.get("content") or {}).get("rendered") or "")
    authors = [str(a.get("name")).strip() for a in
               ((item.get("_embedded") or {}).get("author") or []) if isinstance(a, dict)
               and a.get("name")]
    published = iso_utc(_gmt(item.get("date_gmt")))
    modified = iso_utc(_gmt(item.get("modified_gmt")))
    return PostRecord(title=title or link, text=html_to_markdown(html, link), urls=[link],
                      authors=authors, published=published,
                      modified=modified if modified != published else None, origin=WP_ORIGIN)


def _gmt(value: Any) -> str | None:
    """WordPress's ``date_gmt`` has no zone designator: it is UTC."""
    if not isinstance(value, str) or not value:
        return None
    return value if value.endswith("Z") or "+" in value[10:] else value + "Z"


@dataclass
class WordPressWalker:
    fetcher: Fetcher
    name: str
    api: str  # …/wp-json/wp/v2/posts
    page_size: int
    grid: bool = True
    kind: str = "wordpress"

    def _url(self, start: datetime, end: datetime, page: int, per_page: int) -> str:
        q = urlencode({"after": (start - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                       "before": (end + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                       "orderby": "date", "order": "asc", "per_page": per_page, "page": page,
                       "_embed": "author"})
        return f"{self.api}?{q}"

    def estimate(self, since: datetime, until: datetime) -> int | None:
        res = self.fetcher.fetch(self._url(since, until, 1, 1))
        total = res.headers.get("x-wp-total", "")
        return int(total) if total.isdigit() else None

    def pages(self, window: Window) -> Iterator[tuple[Page, int, bool]]:
        start, end = parse_iso(window.start), parse_iso(window.end)
        per_page = max(1, min(self.page_size, WP_MAX_PAGE))
        done_pages = window.position
        while True:
            where = f"source {self.name}: window {window.label} (page {done_pages + 1})"
            try:
                res = self.fetcher.fetch(self._url(start, end, done_pages + 1, per_page))
            except FetchError as exc:
                if exc.status == 400 and done_pages > 0:  # rest_post_invalid_page_number
                    yield Page(), done_pages, True
                    return
                raise
            items = json_of(res, where)
            if not isinstance(items, list):
                raise ArchiveError(f"{where}: expected a list of posts")
            page = Page(count=len(items))
            for item in items:
                rec = wp_record(item) if isinstance(item, dict) else None
                if rec is None or not _in(rec.published, window):
                    page.skipped += 1
                    continue
                page.records.append(rec)
            done_pages += 1
            pages_total = res.headers.get("x-wp-totalpages", "")
            done = len(items) < per_page or (pages_total.isdigit() and
                                              done_pages >= int(pages_total))
            yield page, done_pages, done
            if done:
                return


# --- Substack ------------------------------------------------------------------------------
def substack_record(item: dict[str, Any], body_html: str | None) -> PostRecord | None:
    link = item.get("canonical_url")
    if not isinstance(link, str) or not link.startswith(("http://", "https://")):
        return None
    html = body_html or str(item.get("truncated_body_text") or item.get("description") or "")
    authors = [str(b.get("name")).strip() for b in item.get("publishedBylines") or []
               if isinstance(b, dict) and b.get("name")]
    return PostRecord(title=strip_tags(str(item.get("title") or "")) or link,
                      text=html_to_markdown(html, link), urls=[link], authors=authors,
                      published=iso_utc(item.get("post_date")), origin=SUBSTACK_ORIGIN,
                      prefer_text=bool(body_html))


@dataclass
class SubstackWalker:
    fetcher: Fetcher
    name: str
    home: str
    page_size: int
    known: Known
    grid: bool = False
    kind: str = "substack"

    def estimate(self, since: datetime, until: datetime) -> int | None:
        return None

    def pages(self, window: Window) -> Iterator[tuple[Page, int, bool]]:
        base = self.home.rstrip("/")
        limit = max(1, min(self.page_size, SUBSTACK_MAX_PAGE))
        offset = window.position
        while True:
            where = f"source {self.name}: archive offset {offset}"
            res = self.fetcher.fetch(f"{base}/api/v1/archive?sort=new&search=&offset={offset}"
                                     f"&limit={limit}")
            items = json_of(res, where)
            if not isinstance(items, list):
                raise ArchiveError(f"{where}: expected a list of posts")
            page = Page(count=len(items))
            older = False
            for item in items:
                if not isinstance(item, dict):
                    page.skipped += 1
                    continue
                when = iso_utc(item.get("post_date"))
                if when is not None and when < window.start:
                    older = True
                if not _in(when, window) or self.known(str(item.get("canonical_url") or "")):
                    page.skipped += 1
                    continue
                rec = substack_record(item, self._body(base, item, page))
                if rec is None:
                    page.skipped += 1
                else:
                    page.records.append(rec)
            offset += len(items)
            done = not items or older or len(items) < limit
            yield page, offset, done
            if done:
                return

    def _body(self, base: str, item: dict[str, Any], page: Page) -> str | None:
        slug = item.get("slug")
        if not isinstance(slug, str) or not slug:
            return None
        post = json_of(self.fetcher.fetch(f"{base}/api/v1/posts/{quote(slug)}"),
                       f"source {self.name}: post {slug}")
        body = post.get("body_html") if isinstance(post, dict) else None
        if not body:
            page.notes.append(f"source {self.name}: {slug}: no full text (paid or removed); "
                              "kept its description")
        return body if isinstance(body, str) and body else None
