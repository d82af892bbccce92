"""Citation markers in model text: ``[3]`` or ``[2, 5]`` / ``[2][5]``.

Shared by the digest (markers map to posts of the day) and `kb ask` (markers map to the
numbered sources given to the model).  Any marker that does not map to a provided item is
removed and reported, so model text can never cite something that is not there.
"""

from __future__ import annotations

import re

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


def find_markers(text: str) -> list[int]:
    """Every cited number, in order of first appearance."""
    seen: dict[int, None] = {}
    for m in MARKER.finditer(text):
        for part in m.group(1).split(","):
            seen.setdefault(int(part), None)
    return list(seen)


def strip_invalid_markers(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """Remove citations of numbers not in ``valid``.  Returns (clean text, removed numbers)."""
    removed: list[int] = []

    def fix(m: re.Match[str]) -> str:
        nums = [int(p) for p in m.group(1).split(",")]
        keep = [n for n in nums if n in valid]
        removed.extend(n for n in nums if n not in valid)
        return f"[{', '.join(map(str, keep))}]" if keep else ""

    out = MARKER.sub(fix, text)
    out = re.sub(r"[ \t]+([.,;:])", r"\1", out)
    out = re.sub(r"[ \t]{2,}", " ", out)
    return out, removed


def strip_markers(text: str) -> str:
    """``text`` without any citation markers (to check its words, not its numbers)."""
    return MARKER.sub("", text)
