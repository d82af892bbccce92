"""Ingest over the real third-party corpus (../shared/corpus), served over loopback HTTP.

Skips cleanly when the corpus is absent (the ``corpus`` fixture)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import http_fixture
import pytest
from http_fixture import LoopbackServer, Route

from ingest.archives import walk
from ingest.pipeline import run_import, run_ingest
from ingest.text import tidy
from kb.store import sources as sources_repo
from kb.store.posts import get_post, list_versions, stats

pytestmark = pytest.mark.corpus
http_server = http_fixture.http_server
LW_DATASET = "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27"


@pytest.fixture(autouse=True)
def _no_default_sources(store):
    sources_repo.ensure_default_sources(store)
    for src in sources_repo.list_sources(store):
        sources_repo.remove_source(store, src.name)


def _serve_dir(server: LoopbackServer, store, root: Path, pattern: str) -> dict[str, Path]:
    """Serve every file under ``root`` matching ``pattern`` and add it as a feed source."""
    names = {}
    for i, f in enumerate(sorted(root.glob(pattern))):
        name = f"{i:02d}-{f.stem}"[:60]
        url = server.route(f"/{i}/{f.name}", body=f.read_bytes(), content_type="application/xml")
        sources_repo.add_source(store, url, name=name, kind="feed")
        names[name] = f
    return names


@pytest.mark.slow
def test_lw_dataset_import_then_blog_copies_merge(settings, store, corpus):
    dataset = corpus / LW_DATASET
    first = run_import(settings, store, [dataset / "posts"])
    entries = [e for f in sorted((dataset / "posts").glob("user_*.json"))
               for e in json.loads(f.read_text())]
    ids = {e["_id"] for e in entries}
    null_ids = {e["_id"] for e in entries if e.get("contents") is None}
    assert (len(entries), len(ids)) == (928, 912)
    assert first.errors == 0
    assert first.new == stats(store)["posts"] == len(ids - null_ids) == 903
    assert len(first.notes) == len([e for e in entries if e.get("contents") is None])
    # every post has authors, co-authored posts have all of them
    rows = store.conn.execute("SELECT id, authors FROM posts").fetchall()
    assert all(json.loads(r["authors"]) for r in rows)
    multi = [r for r in rows if len(json.loads(r["authors"])) > 1]
    assert multi, "a post listed under two users keeps both authors"
    users = {u["userId"]: u["displayName"] for u in json.loads((dataset / "users_top20.json").read_text())}
    post = get_post(store, "kgb58RL88YChkkBNf")
    assert post is not None and set(post.authors) <= set(users.values())
    assert post.published == "2025-08-05T21:40:00Z" and len(post.text) > 10_000
    legacy = get_post(store, "5bd75cc58225bf0670374f08")  # a 24-hex-digit LessWrong 1.0 id
    assert legacy is not None and "overleaf.com" in legacy.text

    before = stats(store)
    again = run_import(settings, store, [dataset / "posts"])
    assert (again.new, again.updated, again.errors) == (0, 0, 0)
    assert stats(store) == before

    blog = corpus / "posts/turntrout_com/website_content"
    files = list(walk([blog]))
    copies = run_import(settings, store, [blog])
    assert copies.errors == 0
    after = stats(store)
    # the copy of a dataset post merged into it: fewer new posts than files, nothing doubled
    assert copies.new == after["posts"] - before["posts"] < len(files)
    steer = get_post(store, "v7f8ayBxLhmMFRzpa")
    assert steer is not None
    assert (blog / "steering-llama-2-with-contrastive-activation-additions.md").as_uri() in steer.urls
    assert any(u.startswith("https://www.lesswrong.com/posts/v7f8ayBxLhmMFRzpa") for u in steer.urls)
    assert [v["origin"] for v in list_versions(store, steer.id)] == ["lesswrong graphql"]
    # blog copies of posts not in the dataset take the LW id from original_url
    undo = get_post(store, "anX4QrNjhJqGFvrBr")
    assert undo is not None and undo.canonical_url.startswith("https://www.lesswrong.com/posts/")
    assert len(undo.authors) == 9 and undo.published == "2025-06-13T00:00:00Z"
    snapshot = stats(store)
    assert run_import(settings, store, [blog]).new == 0
    assert stats(store) == snapshot


def test_lw_af_feed_items_dump(settings, store, corpus):
    path = corpus / "feeds/lesswrong_af/sqryxz_lw-af-rss-items_fetched-2025-03-13.json"
    report = run_import(settings, store, [path])
    assert (report.new, report.errors) == (14, 0)
    paths = get_post(store, "kBgySGcASWa4FWdD9")
    assert paths is not None and paths.is_af and paths.authors == ["Joe Carlsmith"]
    assert paths.published == "2025-03-11T18:52:00Z"
    assert not paths.text.startswith("Published on") and not paths.text.rstrip().endswith("Discuss")
    social = get_post(store, "FLsAA6oKzBTg4qDEs")  # pubDate 03-12 07:37, posted 03-11 22:51
    assert social is not None and social.published == "2025-03-11T22:51:00Z"
    question = get_post(store, "N7X3EDksTCE5DGXiX")
    assert question is not None and question.text == ""


def test_graphql_response_with_html_body(settings, store, corpus):
    report = run_import(settings, store, [corpus / "posts/lw_graphql"])
    assert report.errors == 0
    post = get_post(store, "uMQ3cqWDPHhjtiesc")
    assert post is not None and post.title == "AGI Ruin: A List of Lethalities"
    assert post.authors == ["Eliezer Yudkowsky"] and post.published == "2022-06-05T22:05:52Z"
    assert "(https://www.lesswrong.com/posts/j9Q8bRmwCgXRYAgcJ/" in post.text


def test_axrp_jekyll_transcripts(settings, store, corpus):
    report = run_import(settings, store, [corpus / "posts/axrp_transcripts/_posts"])
    assert report.errors == 0 and report.new >= 60
    name = "2025-06-14-episode-43-david-lindner-mona.markdown"
    post = get_post(store, (corpus / "posts/axrp_transcripts/_posts" / name).as_uri())
    assert post is not None and post.published == "2025-06-15T01:00:00Z"
    assert post.title.startswith("43 - David Lindner")


def test_real_feeds_over_http_and_twice_adds_nothing(fetcher, settings, store, corpus, http_server):
    names = _serve_dir(http_server, store, corpus / "feeds/other_blogs", "**/*.xml")
    names |= _serve_dir(http_server, store, corpus / "feeds/real_world", "*.xml")
    report = run_ingest(settings, store, fetcher)
    assert report.errors == 0, report.failures
    assert report.attempted == len(names) == 16
    posts = stats(store)["posts"]
    assert posts > 700
    # the lilianweng tag feeds repeat posts of its main feed: merged by URL
    weng = get_post(store, "https://lilianweng.github.io/posts/2024-11-28-reward-hacking/")
    assert weng is not None and "Reward hacking" in weng.text
    # Nonlinear Library podcast items of LW/AF posts carry the LW/AF id
    nl = get_post(store, "b9sGz74ayftqPBDYv")
    assert nl is not None and nl.is_af and nl.title == "The space of systems and the space of maps"
    assert not nl.text.startswith("Welcome to The Nonlinear Library")
    ea = store.conn.execute("SELECT count(*) FROM post_urls WHERE url LIKE "
                            "'https://forum.effectivealtruism.org/%'").fetchone()[0]
    assert ea == 56
    before = stats(store)
    again = run_ingest(settings, store, fetcher)
    assert (again.new, again.updated, again.errors) == (0, 0, 0)
    assert stats(store) == before


def test_every_robustness_fixture_ingests_without_a_traceback(fetcher, settings, store, corpus,
                                                              http_server):
    root = corpus / "feeds/robustness/feedparser"
    names = _serve_dir(http_server, store, root, "**/*.xml")
    assert len(names) == 56
    report = run_ingest(settings, store, fetcher)
    assert report.attempted == 56
    failed = dict(report.failures)
    for name, message in failed.items():
        assert name in message and "unexpected" not in message and "Traceback" not in message
        assert "not a readable RSS/Atom feed" in message or "empty" in message
    assert report.errors == len(failed) <= 3  # only documents with nothing readable fail
    assert stats(store)["posts"] >= 20
    statuses = {s.name: s.last_status for s in sources_repo.list_sources(store)}
    assert all(statuses[n] == ("error" if n in failed else "ok") for n in names)
    koi8 = store.conn.execute("SELECT count(*) FROM posts WHERE title LIKE '%новогоднюю%'").fetchone()
    assert koi8[0] == 1  # a mislabelled KOI8-R feed is decoded, not stored as mojibake
    before = stats(store)
    again = run_ingest(settings, store, fetcher)
    assert (again.new, again.updated) == (0, 0) and stats(store) == before


def test_niplav_page_edits_across_three_revisions(fetcher, settings, store, corpus, http_server):
    revs = sorted((corpus / "posts/niplav").glob("automated.*.md"))
    revs = [r for r in revs if "HEAD" not in r.name] + [r for r in revs if "HEAD" in r.name]
    url = http_server.route("/automated.html",
                            *[Route(body=r.read_bytes(), content_type="text/markdown; charset=utf-8")
                              for r in revs])
    sources_repo.add_source(store, url, name="niplav-automated", kind="page")
    results = [run_ingest(settings, store, fetcher) for _ in range(4)]
    assert [(r.new, r.updated, r.unchanged, r.errors) for r in results] == [
        (1, 0, 0, 0), (0, 1, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0)]
    post = get_post(store, url)
    assert post is not None and post.title == "Automated AI Alignment Research"
    assert post.changed_at is not None
    versions = list_versions(store, post.id)
    assert [v["modified"] for v in versions] == [
        "2024-04-16T00:00:00Z", "2025-06-20T00:00:00Z", "2025-10-28T00:00:00Z"]
    assert post.text == tidy(revs[-1].read_text(encoding="utf-8"))  # the current revision


def test_saved_html_pages_extract_title_author_date(fetcher, settings, store, corpus, http_server):
    page = corpus / "pages_html/lilianweng/2024-11-28-reward-hacking.html"
    url = http_server.route("/reward-hacking/", body=page.read_bytes(),
                            content_type="text/html; charset=utf-8")
    sources_repo.add_source(store, url, name="weng-page", kind="page")
    report = run_ingest(settings, store, fetcher)
    assert (report.new, report.errors) == (1, 0)
    post = get_post(store, url)
    assert post is not None and post.title == "Reward Hacking in Reinforcement Learning"
    assert post.authors == ["Lilian Weng"] and post.published == "2024-11-28T00:00:00Z"
    assert len(post.text) > 30_000
    # the page's canonical link names lilianweng.github.io: both addresses lead to the post
    assert "https://lilianweng.github.io/posts/2024-11-28-reward-hacking" in post.urls


def test_local_corpus_files_as_feed_sources(fetcher, settings, store, corpus, tmp_path):
    """file:// URLs and plain paths work as feed sources."""
    src = tmp_path / "index.xml"
    shutil.copy(corpus / "feeds/other_blogs/lilianweng/tags_safety_index.xml", src)
    sources_repo.add_source(store, str(src), name="weng-safety", kind="feed")
    report = run_ingest(settings, store, fetcher)
    assert (report.new, report.errors) == (4, 0)
