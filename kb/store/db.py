"""SQLite connection, numbered migrations and transactions.

The database is the source of truth for everything kb knows; the vector index can always be
rebuilt from it.  WAL mode lets the TUI read while `kb daily` writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

MIGRATIONS_PACKAGE = "kb.store.migrations"


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says which file and why."""


def utcnow() -> str:
    """Current UTC time as ISO 8601 with a Z suffix, second precision."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def migrations() -> list[tuple[int, str, str]]:
    """(number, name, sql) for every ``NNN_name.sql`` file in kb/store/migrations, in order."""
    out = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            out.append((int(name[:3]), name[:-4], entry.read_text(encoding="utf-8")))
    out.sort()
    numbers = [n for n, _, _ in out]
    if len(numbers) != len(set(numbers)):
        raise StoreError(f"two migrations share a number: {numbers}")
    return out


class Store:
    """A SQLite file with kb's schema. Use :meth:`tx` for every multi-statement write."""

    def __init__(self, path: Path | str, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self.readonly = readonly
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise StoreError(f"{self.path}: no kb database here yet (run `kb ingest` first)")
        self.migrate()

    # one connection per thread: sqlite3 connections must not cross threads
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            if self.readonly:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30,
                                       isolation_level=None, check_same_thread=False)
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            if not self.readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the kb database: {exc}") from exc
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any error).

        Nested use joins the outer transaction."""
        conn = self.conn
        if conn.in_transaction:
            yield conn
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[sqlite3.Connection]:
        """A nested unit inside :meth:`tx`: on an error only its own writes are undone (the
        error still propagates), so one bad record never spoils the rest of a page."""
        conn = self.conn
        if not conn.in_transaction:
            with self.tx() as outer:
                yield outer
            return
        conn.execute("SAVEPOINT kb_item")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO kb_item")
            conn.execute("RELEASE kb_item")
            raise
        else:
            conn.execute("RELEASE kb_item")

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        """Apply every migration newer than the file's ``user_version``; return the version."""
        current = self.schema_version()
        pending = [m for m in migrations() if m[0] > current]
        if pending and self.readonly:
            raise StoreError(f"{self.path}: database schema is older than this kb; run any kb "
                             "command that writes (e.g. `kb stats`) to upgrade it")
        if not pending:
            return current
        # Foreign keys are off while migrating (SQLite's procedure for rebuilding a table: with
        # them on, dropping a parent table would null or delete the rows pointing at it) and
        # are checked before each migration commits.
        self.conn.execute("PRAGMA foreign_keys = OFF")
        try:
            for number, name, sql in pending:
                try:
                    # executescript commits first; wrap the migration, the check and the version
                    # bump together
                    self.conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n")
                    broken = self.conn.execute("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise sqlite3.IntegrityError(f"{len(broken)} row(s) break a foreign key "
                                                     f"(first: {tuple(broken[0])})")
                    # (executescript would commit first: plain statements stay in the transaction)
                    self.conn.execute(f"PRAGMA user_version = {number}")
                    self.conn.execute("COMMIT")
                except sqlite3.DatabaseError as exc:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise StoreError(f"{self.path}: migration {name} failed: {exc}") from exc
        finally:
            self.conn.execute("PRAGMA foreign_keys = ON")
        return self.schema_version()

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def kv_get(store: Store, key: str) -> str | None:
    """A value of the store's small key-value table (run markers, the archive id)."""
    row = store.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
    return str(row[0]) if row else None


def kv_set(store: Store, key: str, value: str) -> None:
    with store.tx() as conn:
        conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)", (key, value))


def archive_id(store: Store) -> str:
    """This archive's id: a random name made once and kept in the store.  A Chroma server
    shared by several archives keeps each one's vectors apart by it."""
    found = kv_get(store, "archive_id")
    if found:
        return found
    import uuid

    new = uuid.uuid4().hex[:16]
    with store.tx() as conn:  # two processes racing: the first one's id wins
        conn.execute("INSERT OR IGNORE INTO kv (key, value) VALUES ('archive_id', ?)", (new,))
    return kv_get(store, "archive_id") or new
