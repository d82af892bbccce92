"""The SQLite store: the source of truth for posts, versions, chunks, summaries and digests."""

from kb.store.db import Store, StoreError, utcnow

__all__ = ["Store", "StoreError", "utcnow"]
