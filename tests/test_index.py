"""Chunking, the chunks table and the Chroma index (real PersistentClient on disk)."""

from __future__ import annotations

import dataclasses

import pytest
from index_helpers import POSTS, long_text

from kb.index.chroma import open_chroma
from kb.index.chunking import chunk_text
from kb.index.indexer import run_index, run_reindex
from kb.index.vector import VectorIndexError, collection_name
from kb.runtime import Runtime
from kb.store.posts import PostRecord, save_post


@pytest.fixture
def fake_settings(monkeypatch, kb_home):
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    from kb.settings import ensure_home, load_settings

    s = load_settings()
    ensure_home(s)
    return s


@pytest.fixture
def fstore(fake_settings):
    from kb.store import Store

    st = Store(fake_settings.db_path)
    yield st
    st.close()


@pytest.fixture
def frt(fake_settings, fstore):
    """The runtime of these tests: fake embedder, real Chroma directory, real SQLite file."""
    rt = Runtime(fake_settings, store=fstore)
    yield rt
    rt.close()


def _index(rt):
    return run_index(rt.store, rt.embedder, rt.index)


def _ids_agree(rt):
    store, emb = rt.store, rt.embedder
    sqlite_ids = {r[0] for r in store.conn.execute("SELECT id FROM chunks")}
    embedded = {r[0] for r in store.conn.execute(
        "SELECT id FROM chunks WHERE embedded_model = ?", (emb.model_id,))}
    return sqlite_ids, embedded, rt.index.all_ids()


# --- chunking -------------------------------------------------------------------------------
@pytest.mark.model
def test_chunks_fit_the_real_window_and_keep_offsets(settings):
    from kb.embed.factory import build_embedder

    emb = build_embedder(settings)
    text = long_text(40) + "\n\n" + ("unbroken" * 400)  # one giant "word" too
    chunks = chunk_text("A title about oversight", text, emb.count_tokens, emb.max_tokens)
    assert len(chunks) > 10
    for c in chunks:
        assert text[c.start:c.end] == c.text
        assert emb.count_tokens(c.embed_text) <= 256, c.position
        assert c.embed_text.startswith("A title about oversight\n")
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert any(c.heading == "Section 2" for c in chunks)
    # nothing is dropped: every paragraph marker is inside some chunk
    covered = " ".join(c.text for c in chunks)
    assert all(f"Paragraph {i} discusses" in covered for i in range(40))


def test_chunking_is_deterministic_and_handles_empty_text():
    from kb.embed.fake import FakeEmbedder

    emb = FakeEmbedder()
    assert chunk_text("t", "   \n", emb.count_tokens) == []
    a = chunk_text("t", long_text(12), emb.count_tokens)
    b = chunk_text("t", long_text(12), emb.count_tokens)
    assert [(c.start, c.end, c.content_hash) for c in a] == [(c.start, c.end, c.content_hash)
                                                              for c in b]


# --- index ----------------------------------------------------------------------------------
def test_index_embeds_once_and_ids_agree(fake_settings, fstore, frt):
    for p in POSTS:
        save_post(fstore, p)
    r1 = _index(frt)
    assert r1.posts_chunked == 3 and r1.chunks_embedded == r1.chunks_total > 3
    assert r1.vectors_total == r1.chunks_total
    r2 = _index(frt)
    assert (r2.posts_chunked, r2.chunks_embedded, r2.chunks_removed) == (0, 0, 0)
    sql, embedded, chroma = _ids_agree(frt)
    assert sql == embedded == chroma
    assert all(i.startswith(("aaaa", "bbbb", "cccc")) and i.count(":") == 2 for i in sql)


def test_new_version_replaces_chunks_and_reuses_unchanged_passages(fake_settings, fstore, frt):
    for p in POSTS:
        save_post(fstore, p)
    _index(frt)
    edited = dataclasses.replace(POSTS[0], text=POSTS[0].text.replace(
        "helped more", "helped more, but cost twice the compute"))
    save_post(fstore, edited)
    r = _index(frt)
    assert r.posts_chunked == 1
    assert r.chunks_reused >= 1 and r.chunks_embedded >= 1  # "Setup" unchanged, "Mitigation" not
    assert r.chunks_removed == r.chunks_reused + r.chunks_embedded
    sql, embedded, chroma = _ids_agree(frt)
    assert sql == embedded == chroma
    versions = {r[0] for r in fstore.conn.execute(
        "SELECT version FROM chunks WHERE post_id = 'aaaaaaaaaaaaaaaa1'")}
    assert versions == {2}
    fts = fstore.conn.execute("SELECT count(*) FROM chunks_fts").fetchone()[0]
    assert fts == fstore.count("chunks")


def test_interrupted_run_converges(fake_settings, fstore, frt, monkeypatch):
    """Killed after vectors were stored but before SQLite marked them: the next run neither
    duplicates nor loses anything."""
    from kb.index import indexer

    for p in POSTS:
        save_post(fstore, p)
    real_tx = fstore.tx
    calls = {"n": 0}

    def dying_tx():
        calls["n"] += 1
        if calls["n"] > 1 and any(f.function == "embed_pending" for f in __import__(
                "inspect").stack()):
            raise KeyboardInterrupt
        return real_tx()

    monkeypatch.setattr(fstore, "tx", dying_tx)
    with pytest.raises(KeyboardInterrupt):
        indexer.run_index(fstore, frt.embedder, frt.index)
    monkeypatch.setattr(fstore, "tx", real_tx)
    pending = fstore.conn.execute(
        "SELECT count(*) FROM chunks WHERE embedded_model IS NULL").fetchone()[0]
    assert pending > 0
    r = indexer.run_index(fstore, frt.embedder, frt.index)
    assert r.chunks_embedded == 0  # the vectors were there already: nothing re-embedded
    sql, embedded, chroma = _ids_agree(frt)
    assert sql == embedded == chroma


def test_reindex_recovers_a_destroyed_chroma_directory(fake_settings, fstore, frt):
    import shutil

    from kb.index.chroma import _forget_local_clients
    from kb.retrieval import search

    for p in POSTS:
        save_post(fstore, p)
    _index(frt)
    frt.close()
    _forget_local_clients()  # as a new process would: nothing of the old files cached
    # damage: delete the HNSW segment files and corrupt Chroma's sqlite file
    for f in fake_settings.chroma_path.rglob("*"):
        if f.is_dir() and f != fake_settings.chroma_path:
            shutil.rmtree(f, ignore_errors=True)
    (fake_settings.chroma_path / "chroma.sqlite3").write_bytes(b"garbage" * 100)
    rt = Runtime(fake_settings, store=fstore)
    with pytest.raises(Exception):  # noqa: B017 - any failure; what matters is the recovery
        search(fstore, rt.embedder, rt.index, "induction head circuit", mode="vector")
    r = run_reindex(fstore, rt.embedder, rt.fresh_index)
    assert r.chunks_embedded == r.chunks_total == r.vectors_total
    hits = search(fstore, rt.embedder, rt.index, "induction head circuit", mode="vector")
    assert hits and hits[0].post_id == "cccccccccccccccc3"


def test_collection_refuses_another_model_or_dim(fake_settings):
    a = open_chroma(fake_settings, "model-a", 8)
    assert a.collection.metadata["hnsw:space"] == "cosine"
    assert a.collection.metadata["kb_model_id"] == "model-a"
    with pytest.raises(VectorIndexError, match="refusing to mix"):
        open_chroma(fake_settings, "model-a", 16)
    assert collection_name("all-MiniLM-L6-v2-int8@8199be6f699a") == \
        "kb-all-MiniLM-L6-v2-int8-8199be6f699a"


def test_deleting_a_post_removes_its_vectors(fake_settings, fstore, frt):
    for p in POSTS:
        save_post(fstore, p)
    _index(frt)
    fstore.conn.execute("DELETE FROM posts WHERE id = 'bbbbbbbbbbbbbbbb2'")
    r = _index(frt)
    assert r.chunks_removed >= 1
    sql, embedded, chroma = _ids_agree(frt)
    assert sql == embedded == chroma and not any(i.startswith("bbbb") for i in chroma)


def test_empty_post_is_not_rechunked_every_run(fake_settings, fstore, frt):
    save_post(fstore, PostRecord(title="Question only", text="", lw_id="dddddddddddddddd4",
                                 urls=["https://www.lesswrong.com/posts/dddddddddddddddd4/q"]))
    assert _index(frt).posts_chunked == 1
    assert _index(frt).posts_chunked == 0
