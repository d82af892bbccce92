"""The reader's interests and killfile ([digest] topics, mute_authors, mute_titles, mute_tags).

Muted posts stay in the archive and in search; the digest leaves them out of its themes,
summaries and lists and says how many it left out.  The interests are part of the digest's
cache key (:func:`interests_key`), so changing them rebuilds a day's digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from functools import lru_cache

from kb.settings import DigestSettings, Settings
from kb.store.db import Store
from kb.store.posts import Post, get_post


@lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    # the settings checked each pattern when they loaded
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _digest_settings(settings: Settings | DigestSettings) -> DigestSettings:
    return settings.digest if isinstance(settings, Settings) else settings


def muted(post: Post, settings: Settings | DigestSettings) -> str | None:
    """Why the killfile mutes ``post`` (one short sentence), or None when it does not."""
    ds = _digest_settings(settings)
    for pattern, rx in zip(ds.mute_authors, _compiled(ds.mute_authors), strict=True):
        for author in post.authors:
            if rx.search(author):
                return f"author {author!r} matches mute_authors {pattern!r}"
    for pattern, rx in zip(ds.mute_titles, _compiled(ds.mute_titles), strict=True):
        if rx.search(post.title):
            return f"title matches mute_titles {pattern!r}"
    if ds.mute_tags and post.tags:
        muted_tags = {t.casefold() for t in ds.mute_tags}
        for tag in post.tags:
            if tag.casefold() in muted_tags:
                return f"tag {tag!r} is in mute_tags"
    return None


def has_killfile(settings: Settings | DigestSettings) -> bool:
    ds = _digest_settings(settings)
    return bool(ds.mute_authors or ds.mute_titles or ds.mute_tags)


def muted_ids(store: Store, settings: Settings | DigestSettings,
              post_ids: Iterable[str]) -> dict[str, str]:
    """post id -> reason, for the posts among ``post_ids`` the killfile mutes."""
    if not has_killfile(settings):
        return {}
    out: dict[str, str] = {}
    for pid in post_ids:
        post = get_post(store, pid, with_text=False)
        reason = muted(post, settings) if post is not None else None
        if reason:
            out[pid] = reason
    return out


def interests_key(settings: Settings | DigestSettings) -> str:
    """A short hash of the topics and the killfile: part of every digest's cache key."""
    ds = _digest_settings(settings)
    blob = json.dumps([list(ds.topics), sorted(ds.mute_authors), sorted(ds.mute_titles),
                       sorted(t.casefold() for t in ds.mute_tags)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def unmuted(store: Store, settings: Settings | DigestSettings, post_ids: list[str]) -> list[str]:
    """``post_ids`` without the muted ones, in order."""
    gone = muted_ids(store, settings, post_ids)
    return [p for p in post_ids if p not in gone]
