"""Types shared by retrieval, ask, the digest and the TUI: search filters and hits."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["hybrid", "vector", "keyword"]


@dataclass
class Filters:
    since: str | None = None  # YYYY-MM-DD, inclusive, by posting date
    until: str | None = None  # YYYY-MM-DD, inclusive
    author: str | None = None  # case-insensitive substring of any author
    source: str | None = None  # source name/id, or site host
    af_only: bool = False


@dataclass
class SearchHit:
    """One post with its best passage.  ``start``/``end`` are character offsets of the passage
    in the text of ``version`` of the post, so a reader can jump to it."""

    post_id: str
    title: str
    url: str  # canonical URL
    published: str | None
    score: float
    text: str  # the passage
    start: int
    end: int
    authors: list[str] = field(default_factory=list)
    version: int = 0
    chunk_id: str = ""
    site: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
