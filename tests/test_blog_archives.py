"""Blogs: feed discovery on `kb sources add <homepage>`, and `kb backfill` through a blog's
WordPress API, Substack archive or sitemap — loopback sites serving real saved pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from blog_servers import BlogSite, corpus_posts

from kb.store import Store
from kb.store import sources as sources_repo
from kb.store.db import kv_set

pytestmark = pytest.mark.corpus
REPO = Path(__file__).resolve().parent.parent


def kb(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "KB_INGEST_DELAY": "0", "KB_INGEST_RETRIES": "0", "COLUMNS": "400",
            **env}
    return subprocess.run([sys.executable, "-m", "kb.cli.__main__", *args], capture_output=True,
                          text=True, env=full, timeout=300, cwd=REPO)


@pytest.fixture
def site(corpus, request):
    sites: list[BlogSite] = []

    def make(kind: str) -> BlogSite:
        s = BlogSite(kind, corpus_posts(corpus)).start()
        sites.append(s)
        return s

    yield make
    for s in sites:
        s.stop()


@pytest.fixture
def home(settings):
    """An archive without the default (network) sources."""
    from kb.settings import ensure_home

    ensure_home(settings)
    store = Store(settings.db_path)
    kv_set(store, "default_sources_added", "test")
    store.close()
    return settings


def stored(db: Path) -> dict[str, dict]:
    store = Store(db)
    from kb.store.posts import get_post, list_posts

    out = {}
    for p in list_posts(store):
        full = get_post(store, p.id)
        assert full is not None
        out[p.id] = {"title": full.title, "authors": full.authors, "published": full.published,
                     "urls": full.urls, "text": full.text}
    store.close()
    return out


def add_homepage(s: BlogSite) -> subprocess.CompletedProcess[str]:
    return kb("sources", "add", s.base + "/", "--name", "blog")


def test_adding_a_homepage_finds_its_feed_and_shows_what_it_holds(home, site):
    s = site("none")
    proc = add_homepage(s)
    assert proc.returncode == 0, proc.stderr
    assert "feed: Loopback research blog — 3 items" in proc.stdout
    assert f"added feed source blog: {s.base}/feed" in proc.stdout
    listed = json.loads(kb("sources", "list", "--json").stdout)
    blog = next(x for x in listed if x["name"] == "blog")
    assert blog["kind"] == "feed" and blog["home_url"] == s.base + "/"
    # a feed URL itself is added after one test fetch, and the feed works
    direct = kb("sources", "add", s.base + "/feed", "--name", "again")
    assert direct.returncode == 1 and "already tracked" in direct.stderr
    assert kb("ingest", "--source", "blog", "--no-index").returncode == 0


def test_a_url_that_is_neither_a_feed_nor_has_one_is_an_error_and_nothing_is_stored(home, site):
    s = site("none")
    s.has_feed = False
    page = kb("sources", "add", s.post_url(s.posts[-1]))  # an article, no feed anywhere
    assert page.returncode == 1 and "is a page without a feed" in page.stderr
    assert "--kind page" in page.stderr  # and says how to watch the page itself
    api = site("substack")
    data = kb("sources", "add", api.base + "/api/v1/archive?sort=new")
    assert data.returncode == 1 and "neither a feed nor an HTML page" in data.stderr
    gone = kb("sources", "add", s.base + "/missing.xml")
    assert gone.returncode == 1 and "HTTP 404" in gone.stderr
    assert json.loads(kb("sources", "list", "--json").stdout) == []


@pytest.mark.parametrize("kind", ["wordpress", "substack", "sitemap"])
def test_backfill_walks_the_blog_archive(home, site, kind):
    s = site(kind)
    assert add_homepage(s).returncode == 0
    proc = kb("backfill", "--since", "2019-01-01", "--until", "2024-12-31", "--source", "blog",
              "--no-index", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["sources"]["blog"]["archive"] == kind
    assert out["new"] == len(s.posts) == 5 and out["errors"] == 0
    posts = stored(home.db_path)
    assert len(posts) == 5
    for p in s.posts:
        got = next(v for v in posts.values() if any(p.slug in u for u in v["urls"]))
        assert got["published"][:10] == p.date[:10]
        assert len(got["text"]) > 2000  # the article, converted or extracted
        if kind != "sitemap":
            assert got["authors"] == [p.author]
    # running it again downloads no post again and adds nothing
    s.log.clear()
    again = kb("backfill", "--since", "2019-01-01", "--until", "2024-12-31", "--source", "blog",
               "--no-index", "--json")
    assert json.loads(again.stdout)["new"] == 0
    assert not s.hits("/posts/") and not s.hits("/api/v1/posts/")
    assert not s.hits("/wp-json/wp/v2/posts?after")  # finished windows are not asked again


def test_backfill_of_a_window_takes_only_its_posts_and_a_later_window_adds_the_rest(home, site):
    s = site("wordpress")
    add_homepage(s)
    first = json.loads(kb("backfill", "--since", "2023-01-01", "--until", "2024-12-31",
                          "--source", "blog", "--no-index", "--json").stdout)
    assert first["new"] == 2  # the two 2023-2024 posts
    second = json.loads(kb("backfill", "--since", "2019-01-01", "--until", "2024-12-31",
                           "--source", "blog", "--no-index", "--json").stdout)
    assert second["new"] == 3 and second["unchanged"] == 0


def test_a_blog_without_an_archive_is_said_so(home, site):
    s = site("none")
    add_homepage(s)
    proc = kb("backfill", "--since", "2019-01-01", "--source", "blog", "--no-index")
    assert proc.returncode == 0, proc.stderr
    assert "has no reachable archive" in proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("backfill: 0 new")


def test_page_sources_are_not_walked(home):
    store = Store(home.db_path)
    sources_repo.add_source(store, "https://niplav.site/automated.html", name="niplav")
    store.close()
    proc = kb("backfill", "--source", "niplav", "--no-index", "-v")
    assert proc.returncode == 0 and "single page" in proc.stderr
