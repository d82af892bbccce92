"""Which archive `kb backfill` walks for a source.

* a forum source: its GraphQL endpoint;
* a LessWrong/AF *feed* (an archive made before forum sources): that site's GraphQL endpoint,
  with the feed's karma threshold;
* any other feed: its blog's archive, looked for at the blog's homepage (``home_url``, else the
  feed's own site link, else the feed's host) in this order — WordPress's REST API, Substack's
  archive API, a sitemap.  What is found is remembered on the source; when nothing answers,
  :class:`ingest.walking.NoArchive` says what was tried.
* a page source is one page: nothing to walk.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ingest.blog_archives import SubstackWalker, WordPressWalker, wp_api
from ingest.forum import ForumWalker, endpoint_of_feed
from ingest.sitemap_walk import SitemapWalker, sitemap_urls
from ingest.walking import NoArchive, Walker
from kb.fetch import Fetcher, FetchError, is_local
from kb.ids import normalize_url
from kb.store import sources as sources_repo

if TYPE_CHECKING:
    from kb.settings import Settings
    from kb.store.db import Store
    from kb.store.sources import Source


def walker_for(settings: Settings, store: Store, fetcher: Fetcher, src: Source) -> Walker:
    size = settings.backfill.page_size
    if src.kind == "forum":
        return ForumWalker(fetcher, src.name, src.url, size, min_karma=src.min_karma,
                           tags=src.tags)
    if src.kind == "page":
        raise NoArchive(f"source {src.name} is a single page: it has no archive to walk")
    forum = endpoint_of_feed(src.url)
    if forum is not None:
        endpoint, karma = forum
        return ForumWalker(fetcher, src.name, endpoint, size, min_karma=karma)
    if is_local(src.url):
        raise NoArchive(f"source {src.name} is a local file: it has no archive to walk")

    def known(url: str) -> bool:
        return bool(url) and store.conn.execute(
            "SELECT 1 FROM post_urls WHERE url = ?", (normalize_url(url),)).fetchone() is not None

    kind, _, where = (src.archive or "").partition(" ")
    urls: list[str] | None = None
    if not where:
        kind, where, urls = find_archive(fetcher, src, home_of(fetcher, src))
        sources_repo.set_archive(store, src.id, f"{kind} {where}")
    if kind == "wordpress":
        return WordPressWalker(fetcher, src.name, where, size)
    if kind == "substack":
        return SubstackWalker(fetcher, src.name, where, size, known)
    return SitemapWalker(fetcher, src.name, where, known, _urls=urls)


def home_of(fetcher: Fetcher, src: Source) -> str:
    """The blog's homepage: as recorded, else the feed's ``<link>``, else the feed's host."""
    from urllib.parse import urlsplit

    if src.home_url:
        return src.home_url
    try:
        from ingest.feeds import parse_feed

        res = fetcher.fetch(src.url)
        link = parse_feed(res.body, url=src.url, content_type=res.content_type).link
        if link and link.startswith(("http://", "https://")):
            return link
    except (FetchError, ValueError):
        pass
    parts = urlsplit(src.url)
    return f"{parts.scheme}://{parts.netloc}/"


def find_archive(fetcher: Fetcher, src: Source,
                 home: str) -> tuple[str, str, list[str] | None]:
    """("wordpress", API URL, None) | ("substack", home, None) | ("sitemap", home, its URLs),
    or NoArchive.  Raises FetchError when the site cannot be reached at all."""
    base = home.rstrip("/")
    unreachable: list[str] = []

    def answers_json_list(url: str) -> bool:
        try:
            res = fetcher.fetch(url)
        except FetchError as exc:
            if exc.status is None:
                unreachable.append(str(exc))
            return False
        try:
            return isinstance(json.loads(res.body.decode("utf-8-sig")), list)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return False

    if answers_json_list(wp_api(base) + "?per_page=1&_fields=id"):
        return "wordpress", wp_api(base), None
    if answers_json_list(f"{base}/api/v1/archive?sort=new&search=&offset=0&limit=1"):
        return "substack", base + "/", None
    if len(unreachable) == 2:
        raise FetchError(f"{home} cannot be reached to look for its archive: {unreachable[0]}")
    urls = sitemap_urls(fetcher, home)
    if urls:
        return "sitemap", home, urls
    raise NoArchive(f"source {src.name} has no reachable archive at {home} (no WordPress API, "
                    "no Substack archive, no sitemap); only its feed is followed")
