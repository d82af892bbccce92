"""What the screens read (tui/data.py), straight on a real store: digest days and the posts a
digest mentions, a post's summary, version diffs."""

from __future__ import annotations

from tui_fixtures import DIGEST_DAY, OLDER_DAY, OVERSIGHT_URL, TOY_URL

from digest.repo import Summary, save_digest, save_summary
from tui import data


def _summary(post_id: str, *, status: str, text: str, model: str, created: str) -> Summary:
    return Summary(post_id=post_id, version=1, content_hash="h1", model_id=model,
                   prompt_version="p1", status=status, summary=text, created_at=created)


def test_a_newer_pending_summary_does_not_hide_an_older_good_one(store, archive):
    """A later run whose model failed leaves a pending row (no text) beside the good one;
    the reader shows the good summary."""
    grid = archive["grid"]
    save_summary(store, _summary(grid, status="ok", text="Proxies leak; agents find the leak.",
                                 model="small@1", created="2025-03-11T12:00:00Z"))
    save_summary(store, _summary(grid, status="pending", text="", model="big@2",
                                 created="2025-03-12T12:00:00Z"))
    assert data.summary_for(store, grid) == "Proxies leak; agents find the leak."


def test_no_summary_yet(store, archive):
    grid = archive["grid"]
    assert data.summary_for(store, grid) is None
    save_summary(store, _summary(grid, status="pending", text="", model="big@2",
                                 created="2025-03-12T12:00:00Z"))
    assert data.summary_for(store, grid) is None


def _stored(archive: dict[str, str]) -> dict[str, object]:
    """A digest as digest.build stores it: the grid post is a theme's (a key post), the toy
    post only summarized, the oversight post updated, the evil post off-topic."""
    return {
        "date": DIGEST_DAY,
        "posts": [{"n": 1, "id": archive["toy"], "title": "Interpretability of toy transformers",
                   "url": TOY_URL, "status": "ok"},
                  {"n": 2, "id": archive["grid"], "title": "Reward hacking in small gridworlds",
                   "url": "", "status": "ok"}],
        "themes": [{"name": "Proxy gaming", "numbers": [2, 99]}],  # 99: no such post
        "updated": [{"id": archive["oversight"], "title": "Notes on scalable oversight"}],
        "also_published": [{"title": "by URL only", "url": "https://evil.example/ansi"}],
    }


def test_digest_days_are_stored_and_file_digests_newest_first(store, settings, archive):
    save_digest(store, "2025-03-12", _stored(archive), "# Stored\n", "fake@0", "h", True)
    save_digest(store, DIGEST_DAY, _stored(archive), "# Stored too\n", "fake@0", "h", True)
    assert data.digest_days(store, settings.digests_dir) == ["2025-03-12", DIGEST_DAY, OLDER_DAY]


def test_a_stored_digest_wins_over_its_file_and_lists_posts_from_its_json(store, settings,
                                                                           archive):
    save_digest(store, DIGEST_DAY, _stored(archive), "# Stored\n", "fake@0", "h", True)
    digest = data.load_digest(store, settings.digests_dir, DIGEST_DAY)
    assert digest is not None and digest.origin == "store" and digest.markdown == "# Stored\n"
    assert [(p.post_id, p.kind) for p in digest.posts] == [
        (archive["grid"], "key post"), (archive["toy"], "summary"),
        (archive["oversight"], "updated"), (archive["evil"], "also published")]
    assert digest.posts[-1].title == "by URL only"


def test_a_digest_file_lists_the_posts_it_links(store, settings, archive):
    digest = data.load_digest(store, settings.digests_dir, DIGEST_DAY)
    assert digest is not None and digest.origin.endswith(f"{DIGEST_DAY}.md")
    assert [(p.post_id, p.kind) for p in digest.posts] == [
        (archive["grid"], "key post"), (archive["oversight"], "key post"),
        (archive["toy"], "summary")]
    assert data.load_digest(store, settings.digests_dir, "2024-01-01") is None


def test_links_resolve_to_posts(store, archive):
    assert data.resolve_link(store, f"kb:post/{archive['toy']}") == archive["toy"]
    assert data.resolve_link(store, f"<{OVERSIGHT_URL}>") == archive["oversight"]
    assert data.resolve_link(store, "https://nowhere.example/x") is None


def test_version_diff(store, archive):
    diff = data.version_diff(store, archive["oversight"], 2)
    assert diff.startswith("--- version 1\n+++ version 2")
    assert "+Update: a small pilot with human judges suggests it helps a little." in diff
    assert data.version_diff(store, archive["oversight"], 1) == ""
    assert data.version_diff(store, archive["oversight"], 3) == ""


def test_passage_lines():
    text = "a\nbb\nccc\n"
    assert data.passage_lines(text, 2, 4) == (1, 2)
    assert data.passage_lines(text, 0, 100) == (0, 3)  # clamped to the text
