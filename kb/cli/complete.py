"""Shell-completion callbacks (click ``shell_complete``): source names and digest dates, read
from the archive.  They run on every <Tab>, so they stay cheap: the settings and a read-only
SQLite connection, never a model, an index or the network.  Any failure (no archive yet, an
unreadable config) completes nothing rather than printing an error into the shell."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from click.shell_completion import CompletionItem

from kb.store.db import Store


@contextmanager
def _store(ctx: click.Context) -> Iterator[Store]:
    from kb.settings import load_settings

    home = ctx.find_root().params.get("home")
    settings = load_settings(home=home)
    store = Store(settings.db_path, readonly=True)
    try:
        yield store
    finally:
        store.close()


def _read(ctx: click.Context, read: Callable[[Store], list[tuple[str, str]]]
          ) -> list[tuple[str, str]]:
    try:
        with _store(ctx) as store:
            return read(store)
    except Exception:  # noqa: BLE001 - completion must never fail loudly
        return []


def source_names(store: Store) -> list[tuple[str, str]]:
    """(name, "kind url") of every tracked source."""
    from kb.store.sources import list_sources

    return [(s.name, f"{s.kind} {s.url}") for s in list_sources(store)]


def digest_dates(store: Store) -> list[tuple[str, str]]:
    """(YYYY-MM-DD, "") of every stored digest, newest first."""
    rows = store.conn.execute("SELECT day, complete FROM digests ORDER BY day DESC")
    return [(r["day"], "" if r["complete"] else "pending") for r in rows]


def complete_sources(ctx: click.Context, param: click.Parameter, incomplete: str
                     ) -> list[CompletionItem]:
    """Source names starting with what was typed."""
    return [CompletionItem(name, help=help) for name, help in _read(ctx, source_names)
            if name.startswith(incomplete)]


def complete_digest_dates(ctx: click.Context, param: click.Parameter, incomplete: str
                          ) -> list[CompletionItem]:
    """Days with a stored digest (newest first) starting with what was typed."""
    return [CompletionItem(day, help=help or None) for day, help in _read(ctx, digest_dates)
            if day.startswith(incomplete)]
