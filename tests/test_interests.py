"""The reader's interests and killfile: [digest] topics / mute_* settings, digest/interests.py,
and the digest leaving muted posts out (and rebuilding when the interests change)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from digest_fakes import add_post, fake_llm, pid
from test_ask import WordEmbedder

from digest.build import build_digest
from digest.interests import interests_key, muted, muted_ids
from digest.render import ALSO, INDIVIDUAL
from digest.repo import list_summaries
from kb.settings import DEFAULT_TOPICS, SettingsError, load_settings
from kb.store.posts import PostRecord, get_post, save_post

D = date(2025, 3, 20)


def _config(tmp_path: Path, body: str) -> dict[str, str]:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(body, encoding="utf-8")
    return {"KB_CONFIG": str(cfg), "KB_HOME": str(tmp_path / "home")}


# --- settings -------------------------------------------------------------------------------
def test_defaults_describe_alignment_and_mute_nothing(tmp_path):
    ds = load_settings(env={"KB_HOME": str(tmp_path)}).digest
    assert ds.topics == DEFAULT_TOPICS and "alignment" in ds.topics[0]
    assert ds.mute_authors == ds.mute_titles == ds.mute_tags == ()


def test_lists_from_toml_and_env(tmp_path):
    env = _config(tmp_path, '[digest]\ntopics = ["Interpretability of neural networks"]\n'
                            'mute_titles = ["^\\\\[Linkpost\\\\]", "AI news roundup"]\n')
    ds = load_settings(env=env).digest
    assert ds.topics == ("Interpretability of neural networks",)
    assert ds.mute_titles == (r"^\[Linkpost\]", "AI news roundup")
    env |= {"KB_DIGEST_MUTE_AUTHORS": "Spam Bot\n  Another One \n",
            "KB_DIGEST_MUTE_TAGS": '["Humor", "Meetups"]'}
    s = load_settings(env=env)
    assert s.digest.mute_authors == ("Spam Bot", "Another One")
    assert s.digest.mute_tags == ("Humor", "Meetups")
    assert s.origins["digest.mute_tags"] == "env KB_DIGEST_MUTE_TAGS"


@pytest.mark.parametrize(("body", "names"), [
    ('[digest]\nmute_titles = ["ok", "(unclosed"]\n', ["digest.mute_titles", "(unclosed"]),
    ('[digest]\nmute_authors = ["*bot"]\n', ["digest.mute_authors", "*bot"]),
    ("[digest]\ntopics = []\n", ["digest.topics", "at least one topic"]),
    ('[digest]\nmute_tags = "Humor"\n', []),  # a single string is one item: allowed
    ("[digest]\nmute_tags = [1, 2]\n", ["digest.mute_tags", "not a list of strings"]),
])
def test_bad_interest_settings_name_the_key(tmp_path, body, names):
    env = _config(tmp_path, body)
    if not names:
        assert load_settings(env=env).digest.mute_tags == ("Humor",)
        return
    with pytest.raises(SettingsError) as err:
        load_settings(env=env)
    for name in names:
        assert name in str(err.value)
    assert str(tmp_path / "cfg.toml") in str(err.value)


# --- matching -------------------------------------------------------------------------------
def test_muted_by_author_title_or_tag(store, settings):
    url = "https://example.org/weekly"
    pid_, _ = save_post(store, PostRecord(title="[Linkpost] Weekly AI News", text="Links.",
                                          urls=[url], origin=url, authors=["Newsy McNews"],
                                          tags=["Newsletters", "AI"]))
    post = get_post(store, pid_)
    assert post is not None and post.tags == ["AI", "Newsletters"]
    ds = settings.digest
    assert muted(post, settings) is None
    assert "mute_authors" in (muted(post, dataclasses.replace(ds, mute_authors=("mcnews$",))) or "")
    assert muted(post, dataclasses.replace(ds, mute_authors=("^mcnews",))) is None
    assert "mute_titles" in (muted(post, dataclasses.replace(ds, mute_titles=(r"^\[linkpost\]",)))
                             or "")
    assert "'Newsletters'" in (muted(post, dataclasses.replace(ds, mute_tags=("newsletters",)))
                               or "")
    assert muted(post, dataclasses.replace(ds, mute_tags=("News",))) is None  # whole tags only
    # a later copy without tags keeps them; a source reporting tags again replaces them
    save_post(store, PostRecord(title="[Linkpost] Weekly AI News", text="Links.", urls=[url],
                                origin=url))
    assert get_post(store, pid_).tags == ["AI", "Newsletters"]
    save_post(store, PostRecord(title="[Linkpost] Weekly AI News", text="Links.", urls=[url],
                                origin=url, tags=["Roundups"]))
    assert get_post(store, pid_).tags == ["Roundups"]
    assert muted_ids(store, dataclasses.replace(ds, mute_tags=("roundups",)), [pid_, "x"]) == {
        pid_: "tag 'Roundups' is in mute_tags"}


def test_interests_key_follows_topics_and_mutes(settings):
    ds = settings.digest
    base = interests_key(ds)
    assert interests_key(settings) == base == interests_key(dataclasses.replace(ds))
    changed = [dataclasses.replace(ds, topics=("Bread",)), dataclasses.replace(ds, mute_tags=("x",)),
               dataclasses.replace(ds, mute_authors=("a",)), dataclasses.replace(ds, mute_titles=("a",))]
    keys = {interests_key(c) for c in changed}
    assert base not in keys and len(keys) == 4


# --- the digest -----------------------------------------------------------------------------
def _seed(store) -> None:
    for i, title in enumerate(["Reward hacking in gridworlds", "Sandbagging on evaluations",
                               "Sparse autoencoder features drift"], 1):
        add_post(store, pid(i), title, f"2025-03-20T{8 + i:02d}:00:00Z", authors=[f"Author {i}"])
    add_post(store, pid(7), "Sourdough starter bread baking", "2025-03-20T18:30:00Z",
             text=("Sourdough starter bread baking with rye flour and a warm kitchen. " * 3 +
                   "The starter doubled overnight and the loaf rose well in the oven."))


def test_muted_posts_leave_the_digest_but_stay_in_the_archive(settings, store):
    _seed(store)
    emb = WordEmbedder()
    first = build_digest(settings, store, fake_llm(), emb, D)
    assert first.status == "written" and first.data["muted"] == 0
    assert "muted by your settings" not in first.markdown
    assert "Sandbagging on evaluations" in first.markdown
    again = build_digest(settings, store, fake_llm(), emb, D)
    assert again.status == "unchanged"

    settings.digest.mute_titles = ("sandbag",)
    settings.digest.mute_authors = ("^Author 3$",)
    res = build_digest(settings, store, fake_llm(), emb, D)
    assert res.status == "written", res.message  # the interests changed: rebuilt
    assert res.data["muted"] == 2 and res.data["interests"] != first.data["interests"]
    md = res.markdown
    assert "\n2 posts muted by your settings.\n" in md
    assert "Sandbagging" not in md and "Sparse autoencoder" not in md
    assert "Reward hacking in gridworlds" in md.split(INDIVIDUAL)[1]
    # still in the archive and in full-text search
    assert get_post(store, pid(2)) is not None
    assert store.conn.execute("SELECT post_id FROM posts_fts WHERE posts_fts MATCH 'sandbagging'"
                              ).fetchall()[0][0] == pid(2)
    assert build_digest(settings, store, fake_llm(), emb, D).status == "unchanged"
    # a muted post that arrives later costs no model call: it is never summarized
    add_post(store, pid(5), "Sandbagging again", "2025-03-20T20:00:00Z")
    res = build_digest(settings, store, fake_llm(), emb, D)
    assert res.data["muted"] == 3 and list_summaries(store, pid(5)) == []


def test_changing_topics_rebuilds_and_changes_what_is_on_topic(settings, store):
    _seed(store)
    emb = WordEmbedder()
    first = build_digest(settings, store, fake_llm(), emb, D)
    individual = first.markdown.split(INDIVIDUAL)[1].split(ALSO)[0]
    assert "Sourdough" not in individual and "Sourdough" in first.markdown.split(ALSO)[1]  # the model said off-topic; far from alignment too
    settings.digest.topics = ("sourdough starter bread baking with rye flour",)
    res = build_digest(settings, store, fake_llm(), emb, D)
    assert res.status == "written"
    individual = res.markdown.split(INDIVIDUAL)[1].split(ALSO)[0]
    # now the bread post sits close to the core interest: kept in the themes as related
    assert "Sourdough starter bread baking" in individual
    kept = [p for p in res.data["posts"] if p["id"] == pid(7)]
    assert kept and kept[0]["relevance_override"] == "off-topic"
    # and the alignment posts, far from every topic now, move to Also Published
    moved = {p["id"]: p.get("relevance_override") for p in res.data["also_published"]}
    assert moved == {pid(1): "core", pid(2): "core", pid(3): "core"}
    settings.digest.topics = DEFAULT_TOPICS  # back to the defaults: the first digest again
    back = build_digest(settings, store, fake_llm(), emb, D)
    assert back.status == "written" and back.data["interests"] == first.data["interests"]
    assert [p["id"] for p in back.data["posts"]] == [p["id"] for p in first.data["posts"]]



# --- where tags come from -------------------------------------------------------------------
FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Test blog</title><link>https://blog.example.org/</link>
<item><title>Meetup notes</title><link>https://blog.example.org/meetup</link>
<category>Meetups</category><category>  Community </category>
<description>We met and talked about interpretability for an evening.</description>
<pubDate>Thu, 20 Mar 2025 10:00:00 GMT</pubDate></item>
<item><title>Untagged</title><link>https://blog.example.org/plain</link>
<description>No categories here.</description></item>
</channel></rss>"""


def test_feed_categories_and_forum_tags_become_post_tags(store):
    from ingest.archives import post_record
    from ingest.feeds import parse_feed

    records = {r.title: r for r in parse_feed(FEED, url="https://blog.example.org/feed").records}
    assert records["Meetup notes"].tags == ["Meetups", "Community"]
    assert records["Untagged"].tags is None
    pid_, _ = save_post(store, records["Meetup notes"])
    assert get_post(store, pid_).tags == ["Community", "Meetups"]
    rec = post_record({"_id": "abcdefghijkmnopqr", "title": "A forum post", "slug": "a",
                       "postedAt": "2025-03-20T10:00:00.000Z", "contents": {"markdown": "Text."},
                       "tags": [{"name": "AI"}, {"name": "Humor"}, {"name": None}]})
    assert rec is not None and rec.tags == ["AI", "Humor"]
