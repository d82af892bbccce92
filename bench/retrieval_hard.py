"""The hard retrieval set's haystack (issue #18): build it, and print `kb eval retrieval`'s
result for the hard set over it (per mode and kind; bench/retrieval_levers.py has the
lever-by-lever table over both sets).

The haystack is a fixed list of LW post ids from the aisafetyconnect dataset in
../shared/corpus (tests/eval/retrieval_hard_haystack.json: ids and the per-post character
cap only, no text).  Each post is cut at ``max_chars`` at a paragraph boundary, as
:func:`bench.lw_sample.load_lw_posts` does, so the questions' "deep detail" positions refer
to that text.  Embeddings are cached on disk by text hash (``KB_EVAL_CACHE``, default a
folder in the temp dir) so a second build embeds nothing.

    python -m bench.retrieval_hard [--home DIR]     # JSON: per mode and per kind
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from bench.lw_sample import load_lw_posts, sample
from kb.embed.base import Embedder
from kb.store.posts import PostRecord

EVAL_DIR = Path(__file__).resolve().parent.parent / "tests" / "eval"
MANIFEST = EVAL_DIR / "retrieval_hard_haystack.json"
HARD = EVAL_DIR / "retrieval_hard.jsonl"
EASY = EVAL_DIR / "retrieval_questions.jsonl"


def make_manifest(corpus: Path, n: int = 320, max_chars: int = 5000,
                  min_chars: int = 2500) -> dict[str, Any]:
    """How the id list was chosen (kept for the record): every post of the dataset with at
    least ``min_chars`` of text, sorted by id, then ``n`` of them spread evenly."""
    full = [r for r in load_lw_posts(corpus) if len(r.text) >= min_chars]
    ids = [r.lw_id for r in sample(full, n)]
    return {"dataset": "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27",
            "max_chars": max_chars, "chosen": f"posts with >= {min_chars} chars, sorted by id, "
            f"{n} spread evenly (bench.retrieval_hard.make_manifest)", "ids": ids}


def haystack_records(corpus: Path, manifest: Path = MANIFEST) -> list[PostRecord]:
    """The haystack's posts, each cut at the manifest's ``max_chars``."""
    spec = json.loads(manifest.read_text(encoding="utf-8"))
    wanted = set(spec["ids"])
    recs = [r for r in load_lw_posts(corpus, max_chars=int(spec["max_chars"]))
            if r.lw_id in wanted]
    missing = wanted - {r.lw_id for r in recs}
    if missing:
        raise ValueError(f"{manifest}: {len(missing)} ids are not in the corpus, "
                         f"e.g. {sorted(missing)[0]}")
    return recs


_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
STOP = frozenset((  # noqa: SIM905
    "a an and are as at be but by can could did do does for from had has have how i if in into is "
    "it its of on or our should so than that the their them then there these they this to was we "
    "were what when where which who why will with would you your not no all any more most some "
    "such only other about over after before also just very").split())


def words(text: str) -> set[str]:
    """Lower-cased alphabetic words of at least three letters, stop words dropped."""
    return {w for w in (m.lower() for m in _WORD.findall(text)) if len(w) >= 3 and w not in STOP}


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ers", "er", "ed", "es", "ly", "s")


def stem(word: str) -> str:
    """A crude stem (inflections and -ation/-er forms share one)."""
    for suf in _SUFFIXES:
        if word.endswith(suf) and len(word) - len(suf) >= 4:
            return word[:-len(suf)]
    return word


def leaks(question: str, title: str, text: str, df: dict[str, int], n_docs: int, *,
          rare: float = 0.01, title_common: float = 0.10) -> list[str]:
    """The question's words that give its target post away: a word of the post that is rare in
    the haystack (its stem in at most ``rare`` of the posts, or at most 3), or a word of the post's
    title that is not common (in under ``title_common`` of the posts); inflections count."""
    limit = max(3, int(rare * n_docs))
    post_rare = {s for s in stems(title + " " + text) if df.get(s, 0) <= limit}
    title_words = {s for s in stems(title) if df.get(s, 0) < title_common * n_docs}
    return sorted(q for q in words(question) if stem(q) in post_rare | title_words)


def stems(text: str) -> set[str]:
    return {stem(w) for w in words(text)}


def doc_freq(records: list[PostRecord]) -> dict[str, int]:
    """In how many of ``records`` each word stem occurs (title or text)."""
    df: dict[str, int] = {}
    for r in records:
        for w in stems(r.title + " " + r.text):
            df[w] = df.get(w, 0) + 1
    return df


def easy_records(corpus: Path) -> list[PostRecord]:
    """The easy set's archive (as tests/test_eval.py builds it): the questions' posts plus 70
    distractors from the dataset, each cut at ~3000 characters."""
    from kb.evaluation import load_questions

    recs = load_lw_posts(corpus, max_chars=3000)
    wanted = {r.rstrip("/").split("/")[-1] for q in load_questions(EASY) for r in q.relevant}
    chosen = [r for r in recs if r.lw_id in wanted]
    return chosen + sample([r for r in recs if r.lw_id not in wanted], 70)


def cache_dir() -> Path:
    return Path(os.environ.get("KB_EVAL_CACHE") or Path(tempfile.gettempdir()) / "kb-eval-cache")


class CachingEmbedder:
    """An embedder whose document vectors are kept in a SQLite file keyed by model and text
    hash (queries are embedded as usual)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        self.inner = inner
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key TEXT PRIMARY KEY, v BLOB)")
        self.hits = 0
        self.misses = 0

    @property
    def model_id(self) -> str:
        return self.inner.model_id

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _key(self, text: str) -> str:
        return self.model_id + ":" + hashlib.sha256(text.encode()).hexdigest()

    def embed_array(self, texts: list[str]) -> Any:
        import numpy as np

        keys = [self._key(t) for t in texts]
        have: dict[str, Any] = {}
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            rows = self._db.execute(
                f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(part))})", part)
            have.update({k: np.frombuffer(v, dtype=np.float32) for k, v in rows})
        todo = [i for i, k in enumerate(keys) if k not in have]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            vecs = np.asarray(self.inner.embed_documents([texts[i] for i in todo]),
                              dtype=np.float32)
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO vec VALUES (?, ?)",
                                     [(keys[i], v.tobytes()) for i, v in zip(todo, vecs,
                                                                            strict=True)])
            for i, v in zip(todo, vecs, strict=True):
                have[keys[i]] = v
        return np.stack([have[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [list(map(float, row)) for row in self.embed_array(texts)]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def build(home: Path, corpus: Path, *, embedder: Embedder | None = None,
          records: list[PostRecord] | None = None) -> Any:
    """A Runtime over ``home`` holding the indexed haystack, or ``records`` (cached
    embeddings)."""
    from kb.embed.factory import build_embedder
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    settings = load_settings(env={}, home=home)
    inner = embedder or build_embedder(settings)
    rt = Runtime(settings, embedder=CachingEmbedder(inner, cache_dir() / "embeddings.sqlite"))
    if rt.store.count("posts") == 0:
        for r in records if records is not None else haystack_records(corpus):
            save_post(rt.store, r)
    run_index(rt.store, rt.embedder, rt.index)
    return rt


def table(rt: Any, k: int = 5) -> dict[str, Any]:
    from kb.evaluation import evaluate, load_questions

    return evaluate(rt.store, rt.embedder, rt.index, load_questions(HARD), k=k)


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "kb-hard-home")
    ap.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2]
                    / "shared" / "corpus")
    args = ap.parse_args()
    rt = build(args.home, args.corpus)
    print(json.dumps(table(rt), indent=1))
    rt.close()


if __name__ == "__main__":
    main()
