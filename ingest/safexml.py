"""Refuse XML entity expansion before any XML parser sees a document.

A feed's DOCTYPE can declare entities that expand to gigabytes ("billion laughs": nested
references; "quadratic blowup": one huge entity referenced many times) or that pull in
external files.  We rewrite the prolog before parsing: only small, literal, self-contained
entity declarations survive (``<!ENTITY name "short text">``); everything else in the
internal subset is dropped and the caller gets a note naming what was removed.
"""

from __future__ import annotations

import re

_ROOT = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+([A-Za-z_][\w.:-]*)([^\[>]*)(\[(.*?)\])?\s*>", re.S | re.I)
_ENTITY = re.compile(rb"<!ENTITY\s+(%\s*)?([A-Za-z_][\w.:-]*)\s+(\"[^\"]*\"|'[^']*'|[^>]*)\s*>",
                     re.S)
MAX_ENTITY_CHARS = 64


def defuse(body: bytes) -> tuple[bytes, str | None]:
    """(document safe to hand to an XML parser, a note when declarations were removed)."""
    m_root = _ROOT.search(body)
    cut = m_root.start() if m_root else len(body)
    head = body[:cut]
    if b"<!" not in head:
        return body, None
    m = _DOCTYPE.search(head)
    stray = _ENTITY.findall(head if m is None else head[:m.start()] + head[m.end():])
    if m is None or m.group(3) is None:
        if not stray:
            return body, None
        head = _ENTITY.sub(b"", head)
        return head + body[cut:], "removed entity declarations outside a DOCTYPE"
    kept, dropped = [], 0
    for pct, name, value in _ENTITY.findall(m.group(4) or b""):
        literal = value[1:-1] if value[:1] in (b'"', b"'") else None
        if (not pct and literal is not None and len(literal) <= MAX_ENTITY_CHARS
                and b"&" not in literal and b"%" not in literal and b"<" not in literal):
            kept.append(b"<!ENTITY " + name + b" " + value + b">")
        else:
            dropped += 1
    other = _ENTITY.sub(b"", m.group(4) or b"").strip()
    external = bool(m.group(2).strip())
    doctype = b""
    if kept:
        doctype = b"<!DOCTYPE " + m.group(1) + b" [\n" + b"\n".join(kept) + b"\n]>"
    elif external:
        doctype = b"<!DOCTYPE " + m.group(1) + m.group(2).rstrip() + b">"
    new_head = head[:m.start()] + doctype + head[m.end():]
    new_head = _ENTITY.sub(b"", new_head[:m.start()]) + new_head[m.start():]
    note = None
    if dropped or other or stray:
        what = f"{dropped} entity declaration(s)" if dropped else "declarations"
        note = (f"refused XML entity expansion: removed {what} from the DOCTYPE "
                "(nested, large or external entities are never expanded)")
    return new_head + body[cut:], note
