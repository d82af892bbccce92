"""The aisafetyconnect LessWrong dataset in ../shared/corpus as kb PostRecords.

Used by the benchmarks and by the retrieval-eval tests (the corpus itself is never copied into
the repo).  Samples are deterministic: posts sorted by id, then every n-th.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kb.store.posts import PostRecord

DATASET = "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27"


def dataset_dir(corpus: Path) -> Path:
    return corpus / DATASET


def markdown_of(post: dict[str, Any]) -> str:
    """The Markdown text of one dataset entry ('' for null contents)."""
    contents = post.get("contents")
    return ((contents.get("markdown") or "") if isinstance(contents, dict) else "").strip()


def load_lw_posts(corpus: Path, *, max_chars: int | None = None) -> list[PostRecord]:
    """Every post with text, sorted by LW id; ``max_chars`` truncates each text at a paragraph
    boundary (for cheap test archives)."""
    root = dataset_dir(corpus)
    users = {u["_id"]: u.get("displayName") or u.get("username") or u["_id"]
             for u in json.loads((root / "users_top20.json").read_text(encoding="utf-8"))}
    out: dict[str, PostRecord] = {}
    for f in sorted((root / "posts").glob("user_*_posts.json")):
        author = users.get(f.name.removeprefix("user_").removesuffix("_posts.json"), "")
        for p in json.loads(f.read_text(encoding="utf-8")):
            text = markdown_of(p)
            if not text or p["_id"] in out:
                continue
            if max_chars and len(text) > max_chars:
                cut = text.rfind("\n\n", 0, max_chars)
                text = text[:cut if cut > max_chars // 2 else max_chars]
            posted = str(p.get("postedAt") or "")
            out[p["_id"]] = PostRecord(
                title=p.get("title") or p["_id"], text=text,
                urls=[f"https://www.lesswrong.com/posts/{p['_id']}/{p.get('slug') or ''}"],
                authors=[author] if author else [], published=posted[:19] + "Z" if posted else None,
                lw_id=p["_id"], is_af=p.get("af") is True, origin="aisafetyconnect dataset")
    return [out[k] for k in sorted(out)]


def sample(records: list[PostRecord], n: int) -> list[PostRecord]:
    """A fixed spread of ``n`` records (every k-th of the id-sorted list)."""
    if n >= len(records):
        return list(records)
    step = len(records) / n
    return [records[int(i * step)] for i in range(n)]
