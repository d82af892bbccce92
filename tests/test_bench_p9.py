"""P9's synthetic archives (bench/p9_scale.py), at a few dozen passages: replicas are real kb
archives (every table kb's search reads, distinct ids, the right count), their vectors are the
template's plus noise, and a kept archive's finished builds are reused, unfinished ones redone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import p9_scale as p9
from kb.embed.fake import FakeEmbedder
from kb.index.fake import FakeIndex
from kb.retrieval import keyword_candidates, search
from kb.store.db import Store
from kb.store.posts import PostRecord

TOPICS = ("reward hacking in reinforcement learning", "sparse autoencoders for interpretability",
          "scalable oversight with debate")


def records() -> list[PostRecord]:
    out = []
    for i, topic in enumerate(TOPICS):
        paras = [f"Paragraph {j} of a post about {topic}. " + " ".join(
            f"It discusses {topic} in detail, case {j}.{k}." for k in range(40))
            for j in range(6)]
        lw_id = f"p9TestPost{i:07d}"
        out.append(PostRecord(title=f"On {topic}", text="\n\n".join(paras),
                              urls=[f"https://www.lesswrong.com/posts/{lw_id}/on-topic-{i}"],
                              authors=["Author"], published=f"2024-03-0{i + 1}T10:00:00Z",
                              lw_id=lw_id))
    return out


@pytest.fixture
def base(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> p9.Base:
    monkeypatch.setenv("KB_BENCH_CACHE", str(tmp_path / "cache"))
    return p9.build_base(records(), FakeEmbedder(), tmp_path / "template" / "kb.sqlite3")


def test_replicated_archive_has_exactly_n_passages_under_distinct_ids(base, tmp_path):
    emb = FakeEmbedder()
    assert base.passages >= 6 and len(base.row_of) == base.vectors.shape[0]
    n = 2 * base.passages + 5  # two copies and part of a third
    db = tmp_path / "home" / "kb.sqlite3"
    p9.build_sqlite(base, db, n, emb.model_id)
    store = Store(db)
    conn = store.conn
    assert store.count("chunks") == n
    assert conn.execute("SELECT count(DISTINCT id) FROM chunks").fetchone()[0] == n
    assert conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0] == n
    assert conn.execute("SELECT count(*) FROM chunks WHERE embedded_model = ?",
                        (emb.model_id,)).fetchone()[0] == n
    posts = conn.execute("SELECT count(*) FROM posts").fetchone()[0]
    urls = conn.execute("SELECT count(DISTINCT url) FROM post_urls").fetchone()[0]
    assert posts > len(TOPICS) and urls == posts  # every copy its own post and URL
    assert {p9.replica_of(r[0]) for r in conn.execute("SELECT id FROM posts")} == {0, 1, 2}
    third = conn.execute("SELECT count(*) FROM chunks WHERE post_id LIKE '%-2'").fetchone()[0]
    assert third == 5  # the partial third copy: just the passages still missing
    # kb's own keyword search sees the copies
    hits = keyword_candidates(store, "sparse autoencoders", 50)
    sae = "p9TestPost0000001"
    assert {h.post_id for h in hits} == {sae, f"{sae}-1"}
    store.close()

    # vectors: one unit vector per passage; the template's exact, a copy's close but not equal
    batches = list(p9.vector_batches(db, base))
    ids = [i for b in batches for i in b[0]]
    vecs = np.concatenate([b[1] for b in batches])
    assert len(ids) == len(set(ids)) == n
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    orig = base.vectors[0]
    same = [float(v @ orig) for v in vecs]
    assert max(same) == pytest.approx(1.0, abs=1e-5)
    assert sum(0.8 < s < 0.9999 for s in same) >= 2  # the copies of that passage

    index = FakeIndex(emb.model_id, emb.dim)
    p9.add_vectors(db, base, index)
    assert len(index.all_ids()) == n
    store = Store(db)
    hits = search(store, emb, index, "scalable oversight with debate", k=5)
    assert [h.post_id for h in hits[:2]] == ["p9TestPost0000002", "p9TestPost0000002-1"]
    store.close()


def test_kept_builds_are_reused_and_unfinished_ones_redone(tmp_path):
    calls: list[str] = []
    marker = tmp_path / "sqlite.done.json"
    key = {"passages": 10, "model": "m"}

    def build() -> dict[str, float]:
        calls.append("built")
        return {"seconds": 1.5}

    assert p9._stage(marker, key, build) == {"seconds": 1.5}
    assert p9._stage(marker, key, build) == {"seconds": 1.5}
    assert calls == ["built"]  # the finished build is reused
    assert p9._stage(marker, {**key, "passages": 20}, build) == {"seconds": 1.5}
    assert calls == ["built", "built"]  # another size: built again

    def interrupted() -> dict[str, float]:
        raise KeyboardInterrupt

    other = tmp_path / "server.done.json"
    with pytest.raises(KeyboardInterrupt):
        p9._stage(other, key, interrupted)
    assert not other.exists()  # nothing marks an unfinished build as done
    assert p9._stage_key(other) is None
