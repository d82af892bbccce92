"""Rows of the summaries, digests and digest_cache tables (migration 003)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from kb.store.db import Store, utcnow


@dataclass
class Summary:
    post_id: str
    version: int
    content_hash: str
    model_id: str
    prompt_version: str
    status: str  # ok | pending
    summary: str = ""
    relevance: str | None = None  # core | related | off-topic
    implications: str = ""
    method: str = ""
    error: str | None = None
    calls: int = 0
    created_at: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


_COLS = ("post_id, version, content_hash, model_id, prompt_version, status, summary, relevance, "
         "implications, method, error, calls, created_at")


def get_summary(store: Store, post_id: str, content_hash: str, model_id: str,
                prompt_version: str) -> Summary | None:
    row = store.conn.execute(
        f"SELECT {_COLS} FROM summaries WHERE post_id=? AND content_hash=? AND model_id=? "
        "AND prompt_version=?", (post_id, content_hash, model_id, prompt_version)).fetchone()
    return Summary(**dict(row)) if row else None


def save_summary(store: Store, s: Summary) -> None:
    """Insert or replace the row of this (post, text, model, prompt).  A pending row never
    replaces a good one."""
    s.created_at = s.created_at or utcnow()
    with store.tx() as conn:
        old = conn.execute(
            "SELECT status FROM summaries WHERE post_id=? AND content_hash=? AND model_id=? "
            "AND prompt_version=?", (s.post_id, s.content_hash, s.model_id, s.prompt_version)
        ).fetchone()
        if old is not None and old["status"] == "ok" and not s.ok:
            return
        conn.execute(
            "DELETE FROM summaries WHERE post_id=? AND content_hash=? AND model_id=? "
            "AND prompt_version=?", (s.post_id, s.content_hash, s.model_id, s.prompt_version))
        conn.execute(
            f"INSERT INTO summaries ({_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (s.post_id, s.version, s.content_hash, s.model_id, s.prompt_version, s.status,
             s.summary, s.relevance, s.implications, s.method, s.error, s.calls, s.created_at))


def list_summaries(store: Store, post_id: str) -> list[Summary]:
    """Every summary of a post (all versions, models, prompt versions), newest first."""
    rows = store.conn.execute(f"SELECT {_COLS} FROM summaries WHERE post_id=? "
                              "ORDER BY version DESC, id DESC", (post_id,))
    return [Summary(**dict(r)) for r in rows]


def latest_ok_summary(store: Store, post_id: str) -> Summary | None:
    """The newest good summary of the post's newest summarized version (any model)."""
    row = store.conn.execute(
        f"SELECT {_COLS} FROM summaries WHERE post_id=? AND status='ok' "
        "ORDER BY version DESC, id DESC LIMIT 1", (post_id,)).fetchone()
    return Summary(**dict(row)) if row else None


# --- digests ---------------------------------------------------------------------------------
@dataclass
class StoredDigest:
    day: str
    data: dict[str, Any]
    markdown: str
    model_id: str
    inputs_hash: str
    complete: bool
    created_at: str
    updated_at: str


def _digest(row: Any) -> StoredDigest:
    return StoredDigest(day=row["day"], data=json.loads(row["json"]), markdown=row["markdown"],
                        model_id=row["model_id"], inputs_hash=row["inputs_hash"],
                        complete=bool(row["complete"]), created_at=row["created_at"],
                        updated_at=row["updated_at"])


def get_digest(store: Store, day: str) -> StoredDigest | None:
    row = store.conn.execute("SELECT * FROM digests WHERE day=?", (day,)).fetchone()
    return _digest(row) if row else None


def digest_days(store: Store) -> list[str]:
    """The days with a stored digest, newest first (without reading the digests)."""
    return [r[0] for r in store.conn.execute("SELECT day FROM digests ORDER BY day DESC")]


def list_digests(store: Store, *, before: str | None = None, limit: int | None = None
                 ) -> list[StoredDigest]:
    sql, args = "SELECT * FROM digests", []
    if before:
        sql += " WHERE day < ?"
        args.append(before)
    sql += " ORDER BY day DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    return [_digest(r) for r in store.conn.execute(sql, args)]


def save_digest(store: Store, day: str, data: dict[str, Any], markdown: str, model_id: str,
                inputs_hash: str, complete: bool) -> None:
    now = utcnow()
    with store.tx() as conn:
        conn.execute(
            "INSERT INTO digests (day, json, markdown, model_id, inputs_hash, complete, "
            "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(day) DO UPDATE SET "
            "json=excluded.json, markdown=excluded.markdown, model_id=excluded.model_id, "
            "inputs_hash=excluded.inputs_hash, complete=excluded.complete, "
            "updated_at=excluded.updated_at",
            (day, json.dumps(data, ensure_ascii=False, sort_keys=True), markdown, model_id,
             inputs_hash, int(complete), now, now))


# --- cache of digest model calls -------------------------------------------------------------
def cache_key(kind: str, *parts: Any) -> str:
    blob = json.dumps([kind, *parts], ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_get(store: Store, key: str) -> Any | None:
    row = store.conn.execute("SELECT value FROM digest_cache WHERE key=?", (key,)).fetchone()
    return json.loads(row[0]) if row else None


def cache_put(store: Store, key: str, kind: str, value: Any) -> None:
    with store.tx() as conn:
        conn.execute("INSERT OR REPLACE INTO digest_cache (key, kind, value, created_at) "
                     "VALUES (?,?,?,?)", (key, kind, json.dumps(value, ensure_ascii=False),
                                          utcnow()))
