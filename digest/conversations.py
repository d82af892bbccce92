"""`kb ask` exchanges kept in SQLite (migration 004): `kb ask --continue` rewrites a follow-up
with the last one, `kb ask --history` / `--show N` and the TUI's Ask screen list and reopen them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from kb.store.db import Store, utcnow


@dataclass
class Exchange:
    id: int
    asked_at: str
    question: str
    standalone: str
    answer: str
    abstained: bool
    citations: list[dict[str, Any]]
    model_id: str
    parent_id: int | None

    @property
    def summary(self) -> str:
        """The first non-empty line of the answer (for one-line listings)."""
        return next((line.strip() for line in self.answer.splitlines() if line.strip()), "")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "asked_at": self.asked_at, "question": self.question,
                "standalone": self.standalone, "answer": self.answer,
                "abstained": self.abstained, "citations": self.citations,
                "model": self.model_id, "parent_id": self.parent_id}


def save_exchange(store: Store, *, question: str, standalone: str, answer: str,
                  abstained: bool, citations: list[dict[str, Any]], model_id: str,
                  parent_id: int | None) -> int:
    with store.tx() as conn:
        cur = conn.execute(
            "INSERT INTO ask_exchanges (asked_at, question, standalone, answer, abstained, "
            "citations, model_id, parent_id) VALUES (?,?,?,?,?,?,?,?)",
            (utcnow(), question, standalone, answer, int(abstained),
             json.dumps(citations, ensure_ascii=False), model_id, parent_id))
        return int(cur.lastrowid or 0)


def _citations(raw: str) -> list[dict[str, Any]]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def _exchange(row: sqlite3.Row) -> Exchange:
    return Exchange(id=row["id"], asked_at=row["asked_at"], question=row["question"],
                    standalone=row["standalone"], answer=row["answer"],
                    abstained=bool(row["abstained"]), citations=_citations(row["citations"]),
                    model_id=row["model_id"], parent_id=row["parent_id"])


def last_exchange(store: Store) -> Exchange | None:
    row = store.conn.execute("SELECT * FROM ask_exchanges ORDER BY id DESC LIMIT 1").fetchone()
    return None if row is None else _exchange(row)


def list_exchanges(store: Store, limit: int = 50) -> list[Exchange]:
    """The most recent exchanges, newest first (at most ``limit``; ``limit <= 0``: all)."""
    rows = store.conn.execute("SELECT * FROM ask_exchanges ORDER BY id DESC LIMIT ?",
                              (limit if limit > 0 else -1,)).fetchall()
    return [_exchange(r) for r in rows]


def get_exchange(store: Store, id: int) -> Exchange | None:
    """Exchange ``id``, or None when there is no such exchange."""
    row = store.conn.execute("SELECT * FROM ask_exchanges WHERE id = ?", (id,)).fetchone()
    return None if row is None else _exchange(row)
