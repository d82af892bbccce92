"""Editing models.lock text with tomlkit: values change, everything else stays as written.

`kb models lock` records digests into the user's copy of models.lock, which keeps the shipped
file's comments (they explain each model).  tomlkit keeps comments, blank lines and key order
when a value is replaced.  When a key is *added*, tomlkit appends it after the table's
trailing comments — the lines that introduce the next table — so :func:`set_digests` instead
rebuilds the tables on the way to that table with the same items and the new key placed right
after the table's last key.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import AoT, Item, Key, Table
from tomlkit.toml_document import TOMLDocument

Body = list[tuple[Key | None, Item]]


def set_digests(text: str, digests: dict[str, str]) -> str:
    """models.lock ``text`` with ``digest = "…"`` set in the given tables (dotted names such as
    ``llm.presets.fast``); a table without a digest key gets one.  Names that are not tables
    of ``text`` are skipped."""
    doc = tomlkit.parse(text)
    for name, digest in digests.items():
        doc = set_key(doc, name.split("."), "digest", digest)
    return tomlkit.dumps(doc)


def set_key(doc: TOMLDocument, path: list[str], key: str, value: str) -> TOMLDocument:
    """``doc`` with ``key = value`` in the table at ``path`` (a new document when the key had to
    be added to a ``[table]``; ``doc`` itself, edited in place, otherwise)."""
    table = _lookup(doc, path)
    if table is None:
        return doc
    if key not in table and isinstance(table, Table):
        rebuilt = _document(_with_key(doc.body, path, key, value))
        if key in (_lookup(rebuilt, path) or {}):
            return rebuilt
    table[key] = value  # replaces in place; adds at the end of an inline or dotted table
    return doc


def _lookup(doc: TOMLDocument, path: list[str]) -> Any:
    node: Any = doc
    for part in path:
        if not hasattr(node, "get") or (node := node.get(part)) is None:
            return None
    return node


def _with_key(body: Body, path: list[str], key: str, value: str) -> Body:
    """A copy of a document's (or table's) ``body`` with ``key = value`` added to the table at
    ``path``, right after that table's last plain key (before its trailing comments and its
    sub-tables)."""
    if not path:
        cut = max((i + 1 for i, (k, item) in enumerate(body)
                   if k is not None and not isinstance(item, Table | AoT)), default=0)
        return [*body[:cut], (tomlkit.key(key), tomlkit.item(value)), *body[cut:]]
    out: Body = []
    for k, item in body:
        if k is not None and k.key == path[0] and isinstance(item, Table):
            item = _table(item, _with_key(item.value.body, path[1:], key, value))
        out.append((k, item))
    return out


def _table(like: Table, body: Body) -> Table:
    """A table with ``like``'s header (its comment and spacing) and the items of ``body``."""
    new = tomlkit.table(is_super_table=like.is_super_table())
    new.trivia.indent, new.trivia.comment_ws = like.trivia.indent, like.trivia.comment_ws
    new.trivia.comment, new.trivia.trail = like.trivia.comment, like.trivia.trail
    new.value.parsing(True)  # take the items as they are: no cosmetic blank lines added
    for k, item in body:
        new.value.append(k, item)
    new.value.parsing(False)
    return new


def _document(body: Body) -> TOMLDocument:
    doc = tomlkit.document()
    doc.parsing(True)
    for k, item in body:
        doc.append(k, item)
    doc.parsing(False)
    return doc
