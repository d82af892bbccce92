"""`kb ask` exchanges kept in SQLite (migration 004) for `kb ask --continue`."""

from __future__ import annotations

import json
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


def last_exchange(store: Store) -> Exchange | None:
    row = store.conn.execute("SELECT * FROM ask_exchanges ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        return None
    return Exchange(id=row["id"], asked_at=row["asked_at"], question=row["question"],
                    standalone=row["standalone"], answer=row["answer"],
                    abstained=bool(row["abstained"]), citations=json.loads(row["citations"]),
                    model_id=row["model_id"], parent_id=row["parent_id"])
