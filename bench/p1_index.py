"""P1 ingest + index of LessWrong posts (aisafetyconnect dataset) and P6 peak RSS.

Wall time of import + chunk + embed + store, divided by bare embedding of the same chunk texts
with the same (already loaded) embedder.  Default: a fixed sample of 150 posts; --full: all.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import Context, Row, check, peak_rss_mb
from bench.lw_sample import dataset_dir, load_lw_posts, sample

if TYPE_CHECKING:
    from kb.settings import Settings
    from kb.store import Store

NAME = "P1"


def _write_sample(ctx: Context, ids: set[str], dest: Path) -> Path:
    """The sampled posts as dataset files (same layout) so `kb import` reads them for real."""
    src = dataset_dir(ctx.corpus)
    (dest / "posts").mkdir(parents=True, exist_ok=True)
    (dest / "users_top20.json").write_bytes((src / "users_top20.json").read_bytes())
    for f in sorted((src / "posts").glob("user_*_posts.json")):
        keep = [p for p in json.loads(f.read_text(encoding="utf-8")) if p.get("_id") in ids]
        if keep:
            (dest / "posts" / f.name).write_text(json.dumps(keep), encoding="utf-8")
    return dest / "posts"


def _import(settings: Settings, store: Store, folder: Path) -> None:
    """`kb import` of the sample folder (the real reader of the dataset's files)."""
    from ingest.pipeline import run_import

    run_import(settings, store, [folder])


def run(ctx: Context) -> list[Row]:
    from kb.cli.progress import progress_bars
    from kb.index.chunking import header_for
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings

    records = load_lw_posts(ctx.corpus)
    if not ctx.full:
        records = sample(records, ctx.posts)
    home = ctx.workdir / "p1-home"
    rt = Runtime(load_settings(env={}, home=home))
    settings, store = rt.settings, rt.store
    folder = _write_sample(ctx, {r.lw_id for r in records if r.lw_id}, ctx.workdir / "p1-data")

    t0 = time.perf_counter()
    _import(settings, store, folder)
    t_import = time.perf_counter() - t0
    with progress_bars() as on_progress:
        report = run_index(store, rt.embedder, rt.index,
                           batch_size=settings.index.batch_size, on_progress=on_progress)
    wall = time.perf_counter() - t0
    rss = peak_rss_mb()  # P6: the ingest itself, before the bare-embedding comparison
    posts = store.count("posts")

    # bare embedding of exactly the same texts with the same warm embedder
    emb = rt.embedder
    texts = [header_for(r[0], r[1]) + r[2] for r in store.conn.execute(
        "SELECT p.title, c.heading, c.text FROM chunks c JOIN posts p ON p.id = c.post_id "
        "ORDER BY c.cid")]
    embed = getattr(emb, "embed_array", None) or emb.embed_documents
    t1 = time.perf_counter()
    embed(texts)
    bare = time.perf_counter() - t1
    ratio = wall / bare if bare else 0.0
    ctx.shared["archive_home"] = home
    rt.close()
    print(f"P1: imported {posts} posts via `kb import` in {t_import:.1f}s; indexed "
          f"{report.chunks_total} chunks in {report.seconds:.1f}s (embedder {report.embed_seconds:.1f}s); "
          f"bare embedding {bare:.1f}s")
    return [
        Row(NAME, "wall / bare embedding", round(ratio, 3), "x", "<= 1.25", check(ratio, "<=", 1.25)),
        Row(NAME, "posts/s", round(posts / wall, 2), "posts/s"),
        Row(NAME, "chunks/s", round(report.chunks_total / wall, 2), "chunks/s"),
        Row(NAME, "tokens/s", round(report.tokens_embedded / wall, 1), "tokens/s"),
        Row(NAME, "posts", posts, "posts"),
        Row(NAME, "chunks", report.chunks_total, "chunks"),
        Row(NAME, "wall", round(wall, 1), "s"),
        Row(NAME, "bare embedding", round(bare, 1), "s"),
        Row(NAME, "embedder time inside index", round(report.embed_seconds, 1), "s"),
        Row("P6", "peak RSS (ingest+index)", round(rss, 1), "MB", "<= 1024",
            check(rss, "<=", 1024)),
    ]
