"""The VectorIndex contract, run against every implementation: the Chroma index (a real
PersistentClient directory, written through llama-index) and the in-memory FakeIndex.
Scores are cosine similarities; filters mean the same in both."""

from __future__ import annotations

import math
import random

import pytest

from kb.index.vector import VectorIndex, VectorIndexError

DIM = 8


def _unit(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture(params=["chroma", "fake", "lazy-chroma", "chroma-server",
                        "chroma-server-shared"])
def index(request, settings) -> VectorIndex:
    if request.param == "fake":
        from kb.index.fake import FakeIndex

        return FakeIndex("test-model", DIM)
    from kb.index.chroma import open_chroma

    if request.param.startswith("chroma-server"):
        import uuid

        from index_helpers import use_chroma_server

        use_chroma_server(settings, request.getfixturevalue("chroma_server"))
        if request.param == "chroma-server":
            idx = open_chroma(settings, "test-model", DIM)
            idx.clear()
            return idx
        # an archive sharing the server's collection with another one, whose vectors lie
        # right next to ours: nothing of theirs may show up or be touched
        neighbour = open_chroma(settings, "test-model", DIM, uuid.uuid4().hex[:12])
        vecs = _vectors(12)
        neighbour.add([f"p{i % 4}:1:{i}" for i in range(12)], vecs, [_meta(i) for i in range(12)])
        request.addfinalizer(lambda: _neighbour_intact(neighbour, vecs))
        return open_chroma(settings, "test-model", DIM, uuid.uuid4().hex[:12])
    if request.param == "lazy-chroma":
        from kb.index.lazy import LazyIndex

        return LazyIndex(lambda: open_chroma(settings, "test-model", DIM), "test-model", DIM)
    return open_chroma(settings, "test-model", DIM)


def _neighbour_intact(neighbour, vecs) -> None:
    assert neighbour.count() == 12
    assert neighbour.get_embeddings(["p0:1:0"])["p0:1:0"] == pytest.approx(vecs[0], abs=1e-6)


def _vectors(n: int, seed: int = 7) -> list[list[float]]:
    rng = random.Random(seed)
    return [_unit([rng.uniform(-1, 1) for _ in range(DIM)]) for _ in range(n)]


def _meta(i: int) -> dict:
    return {"post_id": f"p{i % 4}", "published_ts": 1_700_000_000 + i * 86400,
            "is_af": int(i % 2 == 0), "site": "www.lesswrong.com" if i % 3 else "blog.example"}


@pytest.fixture
def filled(index):
    vecs = _vectors(12)
    ids = [f"p{i % 4}:1:{i}" for i in range(12)]
    index.add(ids, vecs, [_meta(i) for i in range(12)])
    return index, ids, vecs


def test_identity_and_counts(filled):
    index, ids, _ = filled
    assert (index.model_id, index.dim) == ("test-model", DIM)
    assert index.count() == 12
    assert index.all_ids() == set(ids)
    assert index.existing([ids[0], "nope:1:0", ids[5]]) == {ids[0], ids[5]}
    assert index.existing([]) == set()


def test_stored_embeddings_come_back(filled):
    index, ids, vecs = filled
    got = index.get_embeddings([ids[3], ids[7], "missing:1:0"])
    assert set(got) == {ids[3], ids[7]}
    for i in (3, 7):
        assert got[ids[i]] == pytest.approx(vecs[i], abs=1e-6)


def test_query_ranks_by_exact_cosine(filled):
    index, ids, vecs = filled
    q = _unit([0.3, -0.2, 0.9, 0.1, 0.0, -0.5, 0.4, 0.2])
    hits = index.query(q, 5)
    expected = sorted(range(12), key=lambda i: -_cos(q, vecs[i]))[:5]
    assert [h.chunk_id for h in hits] == [ids[i] for i in expected]
    for h, i in zip(hits, expected, strict=True):
        assert h.score == pytest.approx(_cos(q, vecs[i]), abs=1e-5)
    # the stored vector itself is the best match, with similarity 1
    top = index.query(vecs[4], 1)[0]
    assert top.chunk_id == ids[4] and top.score == pytest.approx(1.0, abs=1e-5)
    assert len(index.query(q, 100)) == 12
    assert index.query(q, 0) == []


@pytest.mark.parametrize("where,keep", [
    ({"is_af": {"eq": 1}}, lambda i: i % 2 == 0),
    ({"published_ts": {"gte": 1_700_000_000 + 5 * 86400}}, lambda i: i >= 5),
    ({"published_ts": {"lte": 1_700_000_000 + 2 * 86400}}, lambda i: i <= 2),
    ({"published_ts": {"gte": 1_700_000_000 + 3 * 86400, "lte": 1_700_000_000 + 8 * 86400}},
     lambda i: 3 <= i <= 8),
    ({"post_id": {"in": ["p1", "p3"]}}, lambda i: i % 4 in (1, 3)),
    ({"post_id": {"in": ["p1", "p3"]}, "is_af": {"eq": 0}}, lambda i: i % 4 in (1, 3)),
    ({"site": {"eq": "blog.example"}, "is_af": {"eq": 1}}, lambda i: i % 3 == 0 and i % 2 == 0),
])
def test_filters_mean_the_same_everywhere(filled, where, keep):
    index, ids, vecs = filled
    q = vecs[0]
    got = [h.chunk_id for h in index.query(q, 12, where)]
    wanted = sorted((i for i in range(12) if keep(i)), key=lambda i: -_cos(q, vecs[i]))
    assert got == [ids[i] for i in wanted]


def test_unknown_filter_operator_is_refused(filled):
    index, _, vecs = filled
    with pytest.raises(VectorIndexError, match="unknown operator"):
        index.query(vecs[0], 3, {"is_af": {"ne": 1}})


def test_delete_and_overwrite(filled):
    index, ids, vecs = filled
    index.delete([ids[0], ids[1], "never-there:1:0"])
    assert index.count() == 10 and not index.existing([ids[0], ids[1]])
    assert ids[0] not in {h.chunk_id for h in index.query(vecs[0], 12)}
    index.delete([])
    flipped = [-x for x in vecs[2]]
    index.add([ids[2]], [flipped], [_meta(2)])
    assert index.count() == 10
    assert index.get_embeddings([ids[2]])[ids[2]] == pytest.approx(flipped, abs=1e-6)


def test_wrong_dimension_is_refused(index):
    with pytest.raises(VectorIndexError, match="8-dim"):
        index.add(["x:1:0"], [[1.0, 0.0]], [_meta(0)])
    assert index.count() == 0
    with pytest.raises(VectorIndexError, match="8-dim"):
        index.query([1.0, 0.0, 0.0], 3)


def test_clear_empties_only_this_index(filled, settings):
    index, ids, vecs = filled
    index.clear()
    assert index.count() == 0 and index.query(vecs[0], 3) == []
    index.add([ids[0]], [vecs[0]], [_meta(0)])
    assert index.count() == 1
