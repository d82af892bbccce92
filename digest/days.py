"""Calendar days in the digest's timezone and the posts that belong to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kb.store.db import Store


class DayError(ValueError):
    """A bad date or timezone; the message says which."""


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DayError(f"digest.timezone: {tz!r} is not a known timezone (e.g. UTC, "
                       "Europe/Berlin, America/New_York)") from exc


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise DayError(f"{value!r} is not a date (use YYYY-MM-DD)") from exc


def today(tz: str) -> date:
    return datetime.now(zone(tz)).date()


def utc_bounds(day: date, tz: str) -> tuple[str, str]:
    """[start, end) of ``day`` in ``tz`` as the store's ISO UTC strings."""
    z = zone(tz)
    start = datetime.combine(day, time(0), tzinfo=z).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=z).astimezone(UTC)
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return start.strftime(fmt), end.strftime(fmt)


def local_time(iso: str | None, tz: str) -> str:
    """'2025-03-11T18:52:00Z' -> '2025-03-11 18:52 UTC' in the digest's timezone."""
    if not iso:
        return "undated"
    try:
        dt = datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return iso
    local = dt.astimezone(zone(tz))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or tz)


def local_day(iso: str | None, tz: str) -> date | None:
    if not iso:
        return None
    try:
        dt = datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return dt.astimezone(zone(tz)).date()


@dataclass
class DayPosts:
    published: list[str]  # post ids posted that day, oldest first
    updated: list[str]  # post ids posted earlier and edited that day


def posts_of_day(store: Store, day: date, tz: str) -> DayPosts:
    """Posts by true posting date (``published``; first seen when the source gave none), each
    once, plus posts edited that day that were posted on another day."""
    start, end = utc_bounds(day, tz)
    pub = [r[0] for r in store.conn.execute(
        "SELECT id FROM posts WHERE COALESCE(published, first_seen_at) >= ? AND "
        "COALESCE(published, first_seen_at) < ? ORDER BY COALESCE(published, first_seen_at), id",
        (start, end))]
    upd = [r[0] for r in store.conn.execute(
        "SELECT id FROM posts WHERE changed_at >= ? AND changed_at < ? AND NOT "
        "(COALESCE(published, first_seen_at) >= ? AND COALESCE(published, first_seen_at) < ?) "
        "ORDER BY changed_at, id", (start, end, start, end))]
    return DayPosts(published=pub, updated=upd)


def days_with_posts(store: Store, since: date, until: date, tz: str) -> list[date]:
    """Days in [since, until] with at least one post (published or updated)."""
    out = []
    d = since
    while d <= until:
        dp = posts_of_day(store, d, tz)
        if dp.published or dp.updated:
            out.append(d)
        d += timedelta(days=1)
    return out
