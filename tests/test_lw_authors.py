"""The LW dataset's authors: ``users*.json`` beside the post files or one folder up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from corpus_paths import CORPUS

from ingest.pipeline import run_import
from kb.store.posts import get_post

UID = "aBcDeFgHiJkLmNoPq"


def _post(pid: str) -> dict[str, object]:
    return {"_id": pid, "title": f"Post {pid}", "slug": "post", "postedAt":
            "2025-03-24T10:00:00.000Z", "af": False,
            "contents": {"markdown": "A post written for this test. It has two sentences."}}


def _tree(root: Path, users_at: str) -> Path:
    posts = root / "posts"
    posts.mkdir(parents=True)
    (posts / f"user_{UID}_posts.json").write_text(json.dumps([_post("kbAuthorTest00001")]))
    users = [{"userId": UID, "_id": UID, "username": "test_writer",
              "displayName": "Test Writer"}]
    where = root if users_at == "up" else posts
    (where / "users_top20.json").write_text(json.dumps(users))
    return posts / f"user_{UID}_posts.json"


@pytest.mark.parametrize("users_at", ["up", "beside"])
def test_authors_come_from_users_json_beside_or_one_folder_up(settings, store, tmp_path,
                                                             users_at):
    f = _tree(tmp_path / "dataset", users_at)
    report = run_import(settings, store, [f])
    assert report.new == 1
    post = get_post(store, "kbAuthorTest00001", with_text=False)
    assert post is not None and post.authors == ["Test Writer"]


def test_without_a_users_file_the_author_is_not_invented(settings, store, tmp_path):
    f = _tree(tmp_path / "dataset", "up")
    (tmp_path / "dataset" / "users_top20.json").unlink()
    run_import(settings, store, [f])
    post = get_post(store, "kbAuthorTest00001", with_text=False)
    assert post is not None and post.authors == []


@pytest.mark.corpus
def test_the_real_dataset_file_gets_its_authors(settings, store):
    root = CORPUS / "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27"
    if not (root / "users_top20.json").is_file():
        pytest.skip("../shared/corpus is not available")
    users = {u["userId"]: u["displayName"]
             for u in json.loads((root / "users_top20.json").read_text(encoding="utf-8"))}
    f = sorted((root / "posts").glob("user_*_posts.json"))[0]
    uid = f.name.removeprefix("user_").removesuffix("_posts.json")
    run_import(settings, store, [f])  # one file: users_top20.json is one folder up
    rows = store.conn.execute("SELECT authors FROM posts").fetchall()
    assert rows
    authors = [json.loads(r[0]) for r in rows]
    assert all(a and "unknown" not in a for a in authors)
    assert all(users[uid] in a for a in authors)
