"""P7 (extractive): the digest of a 15-post day without a chat model, timed beyond embedding.

Fifteen real posts of the LW dataset (a fixed spread, texts as the dataset has them) are
stored with one posting day in a fresh archive that also holds 300 other dataset posts (the
key phrases' background); ``build_digest(..., llm=None, ...)`` runs with the real MiniLM
embedder, whose ``embed_documents`` calls are timed apart.  Target: ≤ 10 s beyond embedding on
2 cores.  Standalone: ``python -m bench.p7_extractive``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import Context, Row

NAME = "P7"
DAY = date(2030, 1, 15)  # no dataset post is dated so: the day is exactly the 15
POSTS = 15
TARGET_S = 10.0


class TimedEmbedder:
    """The embedder with the wall time of its calls added up."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds, self.texts = inner, 0.0, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        t0 = time.perf_counter()
        try:
            return list(self.inner.embed_documents(texts))
        finally:
            self.seconds += time.perf_counter() - t0
            self.texts += len(texts)

    def embed_query(self, text: str) -> list[float]:
        t0 = time.perf_counter()
        try:
            return list(self.inner.embed_query(text))
        finally:
            self.seconds += time.perf_counter() - t0


def run(ctx: Context) -> list[Row]:
    from bench.lw_sample import load_lw_posts, sample
    from digest.build import build_digest
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    home = ctx.workdir / "p7-extractive"
    rt = Runtime(load_settings(env={"KB_HOME": str(home), "KB_LLM_BACKEND": "none"}))
    try:
        records = load_lw_posts(ctx.corpus)
        day_posts = sample(records, POSTS)
        ids = {r.lw_id for r in day_posts}
        for i, rec in enumerate(day_posts):
            save_post(rt.store, replace(rec, published=f"{DAY.isoformat()}T{i + 1:02d}:00:00Z"))
        for rec in sample([r for r in records if r.lw_id not in ids], 300):
            save_post(rt.store, rec)
        emb = TimedEmbedder(rt.embedder)
        emb.embed_documents(["warm up"])
        emb.seconds = 0.0
        t0 = time.perf_counter()
        res = build_digest(rt.settings, rt.store, None, emb, DAY)
        wall = time.perf_counter() - t0
    finally:
        rt.close()
    beyond = wall - emb.seconds
    print(f"P7: extractive digest of a {POSTS}-post day: {wall:.1f}s wall, {emb.seconds:.1f}s "
          f"embedding {emb.texts} texts, {beyond:.1f}s beyond embedding; {res.message}")
    return [Row(NAME, f"extractive digest, {POSTS}-post day, beyond embedding", round(beyond, 2),
                "s", f"<= {TARGET_S:g}", res.ok and beyond <= TARGET_S),
            Row(NAME, f"extractive digest, {POSTS}-post day, wall incl. embedding",
                round(wall, 2), "s")]


def main() -> None:
    import tempfile

    from bench.__main__ import CORPUS, _print

    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}; nothing to measure")
        return
    with tempfile.TemporaryDirectory(prefix="kb-p7x-") as tmp:
        rows = run(Context(corpus=CORPUS, workdir=Path(tmp)))
    _print(rows)


if __name__ == "__main__":
    main()
