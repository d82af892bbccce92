"""Digest quality over real days: extractive digests (no chat model, the real MiniLM embedder)
of 12 days of the LW dataset in ../shared/corpus — 2025-03-24 and the 11 latest days with at
least 3 posts — read as a reader would (digest.quality): no sentence under 4 words or without
a final period, no prompt or data-header text, no theme named after a member's title, every
theme bullet cited, no theme implication repeating a bullet, every summary sentence found in
its post, and every post of a theme of several close to the others (digest.cluster.cohere).
Authors are counted and reported (the posts are read by kb's importer, which finds
users_top20.json one folder up)."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date

import pytest

from digest.build import build_digest
from digest.cluster import MIN_COHESION, cohere, normalize
from digest.quality import KINDS, counts, digest_problems
from digest.summarize import current_version
from digest.themes import embed_cached, member_text

pytestmark = [pytest.mark.corpus, pytest.mark.model, pytest.mark.slow]

MAX_CHARS = 3000  # each post cut at a paragraph: keeps the embedding (2 shared cores) short
DAYS = 12


def _days(records) -> list[str]:
    per_day = Counter((r.published or "")[:10] for r in {r.lw_id or r.title: r for r in records}
                      .values() if r.text.strip())
    busy = sorted(d for d, n in per_day.items() if n >= 3 and d != "2025-03-24")
    return ["2025-03-24", *busy[-(DAYS - 1):]]


@pytest.fixture(scope="module")
def real_days(tmp_path_factory: pytest.TempPathFactory):
    from corpus_paths import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    from bench.lw_sample import dataset_dir
    from ingest.archives import read_file
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    home = tmp_path_factory.mktemp("digest-quality")
    rt = Runtime(load_settings(env={"KB_HOME": str(home), "KB_LLM_BACKEND": "none"}))
    records = []  # read by kb's own importer (authors from users_top20.json one folder up)
    for f in sorted((dataset_dir(CORPUS) / "posts").glob("user_*_posts.json")):
        res = read_file(f, max_bytes=10**9)
        assert res.error is None, res.error
        records += res.records
    for rec in records:  # the whole dataset is the archive (the key phrases' background)
        if len(rec.text) > MAX_CHARS:
            cut = rec.text.rfind("\n\n", 0, MAX_CHARS)
            rec.text = rec.text[:cut if cut > MAX_CHARS // 2 else MAX_CHARS]
        save_post(rt.store, rec)
    t0 = time.monotonic()
    results = [build_digest(rt.settings, rt.store, None, rt.embedder, date.fromisoformat(d))
               for d in _days(records)]
    elapsed = time.monotonic() - t0
    yield rt, results, elapsed
    rt.close()


def test_extractive_digests_of_real_days_read_cleanly(real_days):
    rt, results, elapsed = real_days
    assert len(results) == DAYS and all(r.status == "written" for r in results), \
        [r.message for r in results]

    def text_of(post_id: str) -> str:
        cur = current_version(rt.store, post_id)
        return str(cur["text"]) if cur else ""

    total: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    posts = themes = 0
    for r in results:
        problems = digest_problems(r.data, text_of)
        total.update(counts(problems))
        for k, v in problems.items():
            examples.setdefault(k, []).extend(f"{r.day}: {x}" for x in v[:2])
        posts += len(r.data["posts"])
        themes += len(r.data["themes"])
        assert r.data["written_by"]["model"] is None and r.calls == 0
    report = {"days": len(results), "posts": posts, "themes": themes,
              "seconds": round(elapsed, 1), **{k: total[k] for k in KINDS}}
    print("digest quality:", json.dumps(report))
    for r in results:
        print(r.day, [t["name"] for t in r.data["themes"]])
    for kind in KINDS:
        if kind != "no_authors":
            assert total[kind] == 0, (kind, examples[kind][:6])
    assert themes >= DAYS and posts >= 3 * DAYS


def test_the_posts_of_a_theme_belong_together(real_days):
    """k-means puts every post in some group; a theme of several posts keeps only those close
    to the rest of it (one that is not stands alone or, past the day's themes, is in no theme
    but still in the day's summaries)."""
    rt, results, _ = real_days
    groups = alone = 0
    for r in results:
        posts = {p["n"]: p for p in r.data["posts"]}
        in_themes = [n for t in r.data["themes"] for n in t["numbers"]]
        assert len(in_themes) == len(set(in_themes)), r.day  # a post is in one theme at most
        for t in r.data["themes"]:
            if len(t["numbers"]) < 2:
                alone += 1
                continue
            groups += 1
            texts = [member_text(posts[n]["title"], posts[n]["summary"]) for n in t["numbers"]]
            x = normalize(embed_cached(rt.store, rt.embedder, texts))
            whole = list(range(len(x)))
            assert cohere(x, [whole], MIN_COHESION) == [whole], (r.day, t["name"])
    print(f"themes of several posts: {groups}, of one: {alone}")
    assert groups >= 1
