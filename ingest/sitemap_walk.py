"""A blog's sitemap as its archive: trafilatura's sitemap search, kb's fetcher, trafilatura's
extraction of each page.

The sitemaps are found the way trafilatura's ``sitemap_search`` finds them — the ``Sitemap:``
lines of robots.txt, else its usual guesses (``sitemap.xml``, ``sitemap_index.xml``, …) —
and read with its ``SitemapObject`` (XML and text sitemaps, nested sitemap indexes), but every
request goes through kb's fetcher (politeness, size limits, User-Agent) and links are kept when
they are on the blog's own host (trafilatura's domain check cannot read IP hosts).  Pages are
visited in URL order; the window's position is the index reached.  A page already in the
archive is not downloaded again; a page is stored when its date (from the page's metadata, as
trafilatura extracts it) falls in the window.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from ingest.pages import PageError, extract_page
from ingest.walking import NoArchive, Page
from kb.fetch import Fetcher, FetchError
from kb.ids import host_of, join_url
from kb.store.backfill import Window

MAX_SITEMAPS = 50
# sitemap entries that are listings, not posts
_NOT_POSTS = re.compile(r"/(?:tags?|categor(?:y|ies)|page|author|authors|search|feed|archive)"
                        r"(?:/|$)|\.(?:xml|rss|atom|json|jpe?g|png|gif|svg|webp|pdf|zip|mp3)$",
                        re.I)


def _text(body: bytes) -> str:
    if body[:2] == b"\x1f\x8b":  # a .gz sitemap
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            return ""
    return body.decode("utf-8", "replace")


def sitemap_urls(fetcher: Fetcher, home: str) -> list[str]:
    """Every post-like URL on ``home``'s host listed by its sitemaps (sorted)."""
    from trafilatura.sitemaps import (
        DETECT_SITEMAP_LINK,
        GUESSES,
        SitemapObject,
        extract_robots_sitemaps,
    )

    parts = urlsplit(home)
    base = f"{parts.scheme}://{parts.netloc}"
    host = host_of(home)

    class KbSitemap(SitemapObject):
        def fetch(self) -> None:
            self.seen.add(self.current_url)
            try:
                self.content = _text(fetcher.fetch(self.current_url).body)
            except FetchError:
                self.content = ""

        def handle_link(self, link: str) -> None:
            if link == self.current_url:
                return
            link = join_url(self.base_url + "/", link.strip())
            if host_of(link) != host:
                return
            (self.sitemap_urls if DETECT_SITEMAP_LINK.search(link) else self.urls).append(link)

    sitemap = KbSitemap(base, host, [])
    try:
        robots = _text(fetcher.fetch(base + "/robots.txt").body)
    except FetchError:
        robots = None
    sitemap.sitemap_urls = extract_robots_sitemaps(robots, base) or \
        [f"{base}/{g}" for g in reversed(GUESSES)]
    while sitemap.sitemap_urls and len(sitemap.seen) < MAX_SITEMAPS:
        sitemap.current_url = sitemap.sitemap_urls.pop()
        sitemap.fetch()
        sitemap.process()
        sitemap.sitemap_urls = [s for s in sitemap.sitemap_urls if s not in sitemap.seen]
    home_path = urlsplit(home).path.rstrip("/")
    return sorted({u for u in sitemap.urls
                   if urlsplit(u).path.rstrip("/") not in ("", home_path)
                   and not _NOT_POSTS.search(urlsplit(u).path)})


@dataclass
class SitemapWalker:
    fetcher: Fetcher
    name: str
    home: str
    known: Callable[[str], bool]
    grid: bool = False
    kind: str = "sitemap"
    _urls: list[str] | None = field(default=None, repr=False)

    @property
    def urls(self) -> list[str]:
        if self._urls is None:
            self._urls = sitemap_urls(self.fetcher, self.home)
            if not self._urls:
                raise NoArchive(f"source {self.name}: its sitemap lists no pages")
        return self._urls

    def estimate(self, since: datetime, until: datetime) -> int | None:
        return len(self.urls)

    def pages(self, window: Window) -> Iterator[tuple[Page, int, bool]]:
        urls = self.urls
        if window.position >= len(urls):
            yield Page(), len(urls), True
            return
        undated = 0
        for i in range(window.position, len(urls)):
            page = Page(count=1)
            if self.known(urls[i]):
                page.skipped = 1  # in the archive already: not downloaded again
            elif self._read(urls[i], window, page):
                undated += 1
            last = i + 1 == len(urls)
            if last and undated:
                page.notes.append(f"source {self.name}: {undated} page(s) without a date were "
                                  "left out (no window can be told for them)")
            yield page, i + 1, last

    def _read(self, url: str, window: Window, page: Page) -> bool:
        """Fetch and extract ``url`` into ``page`` when its date is in the window; True when
        the page has no date."""
        try:
            res = self.fetcher.fetch(url)
            rec, notes = extract_page(res.body, url=url, content_type=res.content_type)
        except (FetchError, PageError) as exc:
            page.skipped = 1
            page.notes.append(f"source {self.name}: {exc}")
            return False
        page.notes += notes
        if rec.published is not None and window.start <= rec.published < window.end:
            page.records.append(rec)
            return False
        page.skipped = 1
        return rec.published is None
