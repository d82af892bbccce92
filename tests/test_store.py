"""The store's identity, merging and versioning rules (real SQLite file)."""

from __future__ import annotations

import sqlite3

import pytest

from kb.store.posts import PostRecord, SaveResult, get_post, list_versions, save_post, stats

LW = "https://www.lesswrong.com/posts/kBgySGcASWa4FWdD9/paths-and-waystations"
AF = "https://www.alignmentforum.org/posts/kBgySGcASWa4FWdD9/paths-and-waystations"


def rec(url: str, text: str = "Body text.", **kw) -> PostRecord:
    kw.setdefault("title", "Paths and waystations")
    return PostRecord(text=text, urls=[url], origin=url, **kw)


def test_crosspost_is_one_post_with_both_urls_and_af_canonical(store):
    pid, r1 = save_post(store, rec(LW, lw_id="kBgySGcASWa4FWdD9"))
    pid2, r2 = save_post(store, rec(AF, lw_id="kBgySGcASWa4FWdD9"))
    assert (pid, r1) == ("kBgySGcASWa4FWdD9", SaveResult.NEW)
    assert (pid2, r2) == (pid, SaveResult.UNCHANGED)
    post = get_post(store, pid)
    assert post.canonical_url == AF and post.is_af
    assert set(post.urls) == {LW, AF}
    assert stats(store)["posts"] == 1 and stats(store)["versions"] == 1


def test_af_only_item_also_records_lesswrong_mirror(store):
    pid, _ = save_post(store, rec(AF))
    assert set(get_post(store, pid).urls) == {LW, AF}


def test_blog_copy_with_original_url_merges(store):
    save_post(store, rec(LW, lw_id="kBgySGcASWa4FWdD9", text="LW text"))
    pid, res = save_post(store, PostRecord(title="Paths (blog)", text="blog text",
                                           urls=["https://example.org/paths"], original_url=LW,
                                           origin="file:///x.md"))
    assert pid == "kBgySGcASWa4FWdD9" and res is SaveResult.UNCHANGED
    post = get_post(store, "https://example.org/paths")
    assert post.id == pid and post.canonical_url == LW and post.text == "LW text"
    # re-running both adds nothing: copies are not edits
    for _ in range(2):
        assert save_post(store, rec(LW, lw_id="kBgySGcASWa4FWdD9", text="LW text"))[1] is SaveResult.UNCHANGED
        assert save_post(store, PostRecord(title="Paths (blog)", text="blog text",
                                           urls=["https://example.org/paths"], original_url=LW,
                                           origin="file:///x.md"))[1] is SaveResult.UNCHANGED
    assert stats(store)["versions"] == 1


def test_edit_from_same_origin_is_a_new_version(store):
    url = "https://niplav.site/automated.html"
    pid, _ = save_post(store, rec(url, "v1"))
    assert save_post(store, rec(url, "v1  \n"))[1] is SaveResult.UNCHANGED
    assert save_post(store, rec(url, "v2"))[1] is SaveResult.UPDATED
    versions = list_versions(store, pid)
    assert [v["version"] for v in versions] == [1, 2]
    post = get_post(store, pid)
    assert post.text == "v2" and post.changed_at


def test_fts_tracks_current_version(store):
    url = "https://example.org/a"
    pid, _ = save_post(store, rec(url, "alpha corrigibility"))
    save_post(store, rec(url, "beta interpretability"))
    hits = store.conn.execute("SELECT post_id FROM posts_fts WHERE posts_fts MATCH 'interpretability'").fetchall()
    assert [h[0] for h in hits] == [pid]
    assert not store.conn.execute("SELECT 1 FROM posts_fts WHERE posts_fts MATCH 'corrigibility'").fetchall()


def test_failed_write_leaves_no_half_post(store, monkeypatch):
    import kb.store.posts as posts_mod

    def boom(*a, **k):
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(posts_mod, "_save_version", boom)
    with pytest.raises(sqlite3.OperationalError):
        save_post(store, rec("https://example.org/b"))
    counts = stats(store)
    assert {k: counts[k] for k in ("posts", "post_urls", "versions")} == {
        "posts": 0, "post_urls": 0, "versions": 0}


def test_doubled_af_url_is_repaired(store):
    pid, _ = save_post(store, rec("https://www.alignmentforum.org/" + AF))
    assert get_post(store, pid).canonical_url == AF
