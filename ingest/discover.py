"""Feed discovery for `kb sources add <homepage>`: from a blog's address to its feed.

The URL is fetched once.  A feed is taken as it is.  An HTML page is searched for its feeds
with trafilatura's feed discovery (``<link rel="alternate" type="application/rss+xml">`` and
the like, then feed-looking links), and then at the usual places (``/feed``, ``/rss.xml``,
``/index.xml``, ``/atom.xml``, ``/feed.xml``); the first candidate that parses as a feed with
items wins.  The answer says the feed's title and how many items it has, so the user sees
what was found before kb follows it.  Anything else is a :class:`DiscoveryError` and nothing
is stored — a URL kb cannot read never becomes a source that fails every day.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from ingest.feeds import FeedError, ParsedFeed, parse_feed
from ingest.text import decode_text, looks_like_html
from kb.fetch import Fetcher, FetchError
from kb.ids import join_url

COMMON_PATHS = ("/feed", "/rss.xml", "/index.xml", "/atom.xml", "/feed.xml", "/rss",
                "/feed.atom")
MAX_CANDIDATES = 10


class DiscoveryError(ValueError):
    """The URL is neither a feed nor a page with one; the message says what was tried."""


@dataclass
class Discovered:
    feed_url: str
    title: str
    items: int
    home_url: str | None = None  # the page the feed was found on (its blog's homepage)


def _as_feed(fetcher: Fetcher, url: str) -> ParsedFeed | None:
    try:
        res = fetcher.fetch(url)
        parsed = parse_feed(res.body, url=url, content_type=res.content_type)
    except (FetchError, FeedError):
        return None
    return parsed if parsed.records else None


def _is_html(text: str) -> bool:
    head = text.lstrip()[:1000].lower()
    return head.startswith(("<!doctype html", "<html")) or "<html" in head or \
        (looks_like_html(text) and not head.startswith("<?xml"))


def candidates(html: str, page_url: str) -> list[str]:
    """Feed URLs a page points at (trafilatura's discovery), then the usual places."""
    from trafilatura.feeds import FeedParameters, determine_feed

    parts = urlsplit(page_url)
    base = f"{parts.scheme}://{parts.netloc}"
    found = determine_feed(html, FeedParameters(base, parts.hostname or "", page_url))
    guesses = [join_url(base, p) for p in COMMON_PATHS]
    return list(dict.fromkeys([*found, *guesses]))[:MAX_CANDIDATES]


def discover(fetcher: Fetcher, url: str) -> Discovered:
    """The feed at (or behind) ``url``.  Raises :class:`DiscoveryError`."""
    try:
        res = fetcher.fetch(url)
    except FetchError as exc:
        why = str(exc).removeprefix(f"{url}: ")
        raise DiscoveryError(f"cannot add {url}: {why}") from None
    text, _note = decode_text(res.body, res.content_type)
    html = _is_html(text)
    try:
        parsed = parse_feed(res.body, url=url, content_type=res.content_type)
        # feedparser reads an HTML page leniently as an empty "feed": only items (or, for a
        # feed that is not HTML, its channel) make it one
        if parsed.records or (parsed.link and not html):
            return Discovered(url, parsed.title, len(parsed.records), parsed.link)
    except FeedError:
        pass
    if not html:
        raise DiscoveryError(f"{url} is neither a feed nor an HTML page that links to one")
    for cand in candidates(text, res.url or url):
        feed = _as_feed(fetcher, cand)
        if feed is not None:
            return Discovered(cand, feed.title, len(feed.records), url)
    raise DiscoveryError(
        f"{url} is a page without a feed (looked for <link rel=\"alternate\"> feeds and at "
        f"{', '.join(COMMON_PATHS)}); to watch the page itself for changes: "
        f"kb sources add {url} --kind page")
