"""Forum sources: ForumMagnum's GraphQL API (LessWrong, the Alignment Forum, the EA Forum).

kb asks the ``posts`` query in its current form, with a view selector::

    posts(selector: {new: {after, before, karmaThreshold}}, limit, offset, enableTotal)

(``PostSelector`` in ForumMagnum's schema; the older ``posts(input: {terms: {...}})`` is still
served but deprecated).  The ``new`` view sorts by ``postedAt`` and the default view it builds
on selects ``postedAt > after`` and ``postedAt < before``; kb sends ``after`` one millisecond
before a window's start so a window is ``[start, end)`` and adjacent windows neither overlap
nor leave a gap.  ``karmaThreshold`` keeps posts whose karma reached it; a tag filter is
applied here, on the tags each post comes with (the API filters tags by id only).

Identity comes from the answer, never from the endpoint: ``_id`` (the 17-character post id)
and ``pageUrl`` (absolute, on the site's own host), so a post served by a mirror or a local
test server is still that LW/AF post; ``af: true`` posts get their alignmentforum.org link.
Every author is kept (``user`` and ``coauthors``).  The answer is untrusted text: a page that
is not JSON, carries GraphQL ``errors`` or lacks ``data.posts.results`` is a
:class:`ForumError` naming the source, the window and the offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ingest.archives import ArchiveError, post_record
from ingest.text import iso_utc
from ingest.walking import Page
from kb.fetch import Fetcher
from kb.store.backfill import Window, parse_iso

# The one query kb sends.  Fields as named in ForumMagnum's generated schema
# (packages/lesswrong/lib/generated/gqlSchema.gql: type Post, Revision, User, Tag).
POSTS_QUERY = """\
query KbPosts($selector: PostSelector, $limit: Int, $offset: Int, $enableTotal: Boolean) {
  posts(selector: $selector, limit: $limit, offset: $offset, enableTotal: $enableTotal) {
    totalCount
    results {
      _id title slug pageUrl postedAt modifiedAt af baseScore question url
      user { displayName } coauthors { displayName } tags { name } contents { markdown }
    }
  }
}
"""
VIEW = "new"
ONE_MS = timedelta(milliseconds=1)


class ForumError(ValueError):
    """A page of a forum's answer could not be used; the message names source and window."""


def js_time(dt: datetime) -> str:
    """ISO 8601 with milliseconds, as ForumMagnum (moment.js) reads and writes dates."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def variables(start: datetime, end: datetime, *, offset: int, limit: int,
              min_karma: int | None, enable_total: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {"after": js_time(start - ONE_MS), "before": js_time(end)}
    if min_karma:
        view["karmaThreshold"] = int(min_karma)
    return {"selector": {VIEW: view}, "limit": limit, "offset": offset,
            "enableTotal": enable_total}


def request_body(start: datetime, end: datetime, **kw: Any) -> bytes:
    return json.dumps({"operationName": "KbPosts", "query": POSTS_QUERY,
                       "variables": variables(start, end, **kw)}).encode("utf-8")


def fetch_page(fetcher: Fetcher, endpoint: str, *, where: str, start: datetime, end: datetime,
               offset: int, limit: int, min_karma: int | None = None,
               tags: list[str] | None = None, enable_total: bool = False) -> Page:
    """One page of the posts of ``[start, end)`` at ``offset``.  ``where`` names the source
    and window in errors.  Raises :class:`ForumError` (and :class:`kb.fetch.FetchError`)."""
    body = request_body(start, end, offset=offset, limit=limit, min_karma=min_karma,
                        enable_total=enable_total)
    res = fetcher.post(endpoint, body)
    at = f"{where} (offset {offset})"
    results, total = _results(res.body, res.status, at)
    page = Page(count=len(results), total=total)
    wanted = {t.casefold() for t in tags or []}
    for i, item in enumerate(results):
        if not isinstance(item, dict):
            page.notes.append(f"{at}: result {i} is not a post; skipped")
            page.skipped += 1
            continue
        if not _keep(item, start, end, min_karma, wanted):
            page.skipped += 1
            continue
        if item.get("contents") is None:  # no body revision (a bare question or link post):
            item = {**item, "contents": {}}  # still a post of the window, with an empty text
        try:
            rec = post_record(item)
        except ArchiveError as exc:
            page.notes.append(f"{at}: {exc}")
            page.skipped += 1
            continue
        if rec is not None:
            page.records.append(rec)
    return page


def _results(raw: bytes, status: int, at: str) -> tuple[list[Any], int | None]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        head = raw[:80].decode("utf-8", "replace").strip()
        raise ForumError(f"{at}: the answer is not JSON (HTTP {status}: {head!r}…)") from None
    if not isinstance(doc, dict):
        raise ForumError(f"{at}: the answer is not a GraphQL response")
    errors = doc.get("errors")
    if errors:
        first = errors[0] if isinstance(errors, list) and errors else errors
        msg = first.get("message") if isinstance(first, dict) else first
        more = f" (and {len(errors) - 1} more)" if isinstance(errors, list) and len(errors) > 1 \
            else ""
        raise ForumError(f"{at}: GraphQL error: {str(msg)[:300]}{more}")
    if status >= 400:
        raise ForumError(f"{at}: HTTP {status}")
    posts = (doc.get("data") or {}).get("posts") if isinstance(doc.get("data"), dict) else None
    if not isinstance(posts, dict) or not isinstance(posts.get("results"), list):
        raise ForumError(f"{at}: the answer has no data.posts.results")
    total = posts.get("totalCount")
    return posts["results"], total if isinstance(total, int) else None


def _keep(item: dict[str, Any], start: datetime, end: datetime, min_karma: int | None,
          wanted: set[str]) -> bool:
    """kb's own checks on a result: in the window, at the karma minimum, with a wanted tag."""
    posted = iso_utc(item.get("postedAt"))
    if posted is None or not start <= parse_iso(posted) < end:
        return False
    if min_karma:
        score = item.get("baseScore")
        if isinstance(score, int | float) and score < min_karma:
            return False
    if wanted:
        names = {str(t.get("name", "")).casefold() for t in item.get("tags") or []
                 if isinstance(t, dict)}
        if not names & wanted:
            return False
    return True


def endpoint_of_feed(url: str) -> tuple[str, int | None] | None:
    """For a LessWrong/AF feed URL: its site's GraphQL endpoint and the feed's karma threshold
    (so `kb backfill` of an older archive's feed sources walks the forum's history)."""
    from kb.ids import is_lw_or_af

    if not is_lw_or_af(url):
        return None
    parts = urlsplit(url)
    karma = parse_qs(parts.query).get("karmaThreshold", [""])[0]
    return f"{parts.scheme}://{parts.netloc}/graphql", int(karma) if karma.isdigit() else None


@dataclass
class ForumWalker:
    """Walks a forum's windows page by page (``offset`` is the window's position)."""

    fetcher: Fetcher
    name: str
    endpoint: str
    page_size: int
    min_karma: int | None = None
    tags: list[str] | None = None
    grid: bool = True
    kind: str = "forum"

    def estimate(self, since: datetime, until: datetime) -> int | None:
        """How many posts ``[since, until)`` holds (one request, ``enableTotal``)."""
        page = fetch_page(self.fetcher, self.endpoint, where=f"source {self.name}", start=since,
                          end=until, offset=0, limit=1, min_karma=self.min_karma,
                          enable_total=True)
        return page.total

    def pages(self, window: Window) -> Iterator[tuple[Page, int, bool]]:
        """(page, position after it, window complete) from the window's position on."""
        start, end = parse_iso(window.start), parse_iso(window.end)
        offset, total = window.position, None
        while True:
            page = fetch_page(self.fetcher, self.endpoint,
                              where=f"source {self.name}: window {window.label}", start=start,
                              end=end, offset=offset, limit=self.page_size,
                              min_karma=self.min_karma, tags=self.tags,
                              enable_total=total is None)
            total = page.total if page.total is not None else total if total is not None else -1
            offset += page.count
            # the window's total (asked for with its first page) says when it is complete; a
            # server that does not count ends with a short page
            done = page.count == 0 or (offset >= total if total >= 0 else
                                       page.count < self.page_size)
            yield page, offset, done
            if done:
                return
