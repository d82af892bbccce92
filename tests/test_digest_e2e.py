"""The digest of a real day end to end: real LessWrong/AF posts of 2025-03-24 from the corpus
in a real SQLite store, the real SmolLM2 behind the Ollama-protocol test server, the real
ONNX embedder for clustering.  Asserts structure and truth, never wording (the model is tiny).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bench.lw_sample import markdown_of
from digest.build import build_digest
from digest.render import ALSO, INDIVIDUAL, THEMES, link
from digest.verify import DigestVerificationError, check, verify
from kb.models.counting import CountingLLM
from kb.store.posts import PostRecord, get_post, save_post

pytestmark = [pytest.mark.corpus, pytest.mark.model, pytest.mark.slow]

DATASET = "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27"
DAY = date(2025, 3, 24)
MAX_CHARS = 500  # keep the tiny model's prompts short: the suite runs on 2 shared cores
MAX_POSTS = 4




def _import_day(store: Any, corpus: Path) -> list[str]:
    """The day's posts (each seen from LW; AF posts seen a second time from the AF feed)."""
    root = corpus / DATASET
    names = {u["_id"]: u["displayName"]
             for u in json.loads((root / "users_top20.json").read_text(encoding="utf-8"))}
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for f in sorted((root / "posts").glob("*.json")):
        for p in json.loads(f.read_text(encoding="utf-8")):
            if str(p.get("postedAt", "")).startswith(DAY.isoformat()) and markdown_of(p):
                found.setdefault(p["_id"], (p, names.get(f.name.split("_")[1], "unknown")))
    ids = []
    for post_id, (p, author) in sorted(found.items())[:MAX_POSTS]:
        text = markdown_of(p)[:MAX_CHARS].rsplit(" ", 1)[0]
        lw = f"https://www.lesswrong.com/posts/{post_id}/{p['slug']}"
        af = str(p.get("af")).lower() == "true"
        for url in ([lw, lw.replace("www.lesswrong.com", "www.alignmentforum.org")] if af
                    else [lw]):
            save_post(store, PostRecord(title=p["title"], text=text, urls=[url], authors=[author],
                                        published=p["postedAt"][:19] + "Z", lw_id=post_id,
                                        is_af=af, origin=url))
        ids.append(post_id)
    return ids


@pytest.fixture(scope="module")
def day_digest(tmp_path_factory: pytest.TempPathFactory, ollama_server: Any):
    from corpus_paths import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"corpus not present at {CORPUS}")
    from kb.runtime import Runtime
    from kb.settings import load_settings

    home = tmp_path_factory.mktemp("digest-e2e")
    rt = Runtime(load_settings(env={"KB_HOME": str(home), "KB_LLM_BACKEND": "ollama",
                                    "KB_OLLAMA_HOST": ollama_server.url,
                                    "KB_OLLAMA_TIMEOUT": "120"}))  # a stuck call → pending
    settings, store = rt.settings, rt.store
    ids = _import_day(store, CORPUS)
    assert len(ids) >= 3
    result = build_digest(settings, store, rt.llm, rt.embedder, DAY)
    yield settings, store, ids, result, rt.llm
    rt.close()


def test_real_day_digest_structure_and_truth(day_digest):
    settings, store, ids, res, llm = day_digest
    assert res.status == "written", res.message
    assert llm.calls > 0
    md = res.path.read_text(encoding="utf-8")
    assert md.split("\n")[0] == "# AI Alignment Daily Digest - 2025-03-24"
    assert THEMES in md and INDIVIDUAL in md
    # every post of the day exactly once, summarized or listed as off-topic or pending
    listed = [p["id"] for p in res.data["posts"]] + [p["id"] for p in res.data["also_published"]]
    assert sorted(listed) == sorted(ids)
    individual = md.split(INDIVIDUAL)[1].split(ALSO)[0]
    urls = re.findall(r"^Link: (\S+)$", individual, re.M)
    assert len(urls) == len(set(urls)) == len(res.data["posts"])
    # links: canonical URLs of stored posts, one scheme each; AF posts link to the AF copy
    for url in re.findall(r"\]\((\S+?)\)", md) + urls:
        assert url.count("://") == 1
        post = get_post(store, url, with_text=False)
        assert post is not None and post.canonical_url == url
        assert ("alignmentforum.org" in url) == post.is_af
    # Key Posts are real posts of that day, rendered with their stored titles
    day_posts = {p["n"]: p for p in res.data["posts"]}
    for t in res.data["themes"]:
        assert t["numbers"] and set(t["numbers"]) <= set(day_posts)
        for n in t["numbers"]:
            post = get_post(store, day_posts[n]["id"], with_text=False)
            assert post.published.startswith("2025-03-24")
            assert link(post.title, post.canonical_url) in md
        cited = re.findall(r"\[(\d+(?:, \d+)*)\]", " ".join(t["summary"]) + t["implications"])
        assert cited and {int(x) for c in cited for x in c.split(", ")} <= set(t["numbers"])
    ok = [p for p in res.data["posts"] if p["status"] == "ok"]
    on_topic = [p for p in ok if p["relevance"] in ("core", "related")]
    assert sum(len(t["numbers"]) for t in res.data["themes"]) == len(on_topic)
    assert f"{res.data['model'].partition('@')[0]} (digest" in md.split("---")[-1]
    assert check(md, store, "2025-03-24") == []


class Recording(CountingLLM):
    """Counts calls and records which post each summary call was about."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.titles: list[str] = []

    def chat(self, messages, **kw):  # type: ignore[no-untyped-def]
        m = re.search(r"^Title: (.*)$", messages[-1].content, re.M)
        if messages[0].content.startswith("You summarize") and m:
            self.titles.append(m.group(1))
        return super().chat(messages, **kw)


def test_rerun_of_the_real_day_calls_the_model_only_for_pending_posts(day_digest):
    from kb.embed.factory import build_embedder
    from kb.models.factory import build_llm

    settings, store, _, res, _ = day_digest
    llm = Recording(build_llm(settings)[0])
    again = build_digest(settings, store, llm, build_embedder(settings), DAY)
    # pending: no summary yet, or the model's failed and the post shows its extractive one
    pending = {p["title"] for p in res.data["posts"] if p["status"] != "ok" or p["extractive"]}
    assert set(llm.titles) <= pending  # good summaries are never recomputed
    if not pending:  # an unchanged day: no model call, the same file
        assert again.status == "unchanged" and llm.calls == 0
        assert again.path.read_text(encoding="utf-8") == res.markdown


def test_verifier_catches_a_planted_doubled_link_in_the_real_digest(day_digest):
    _, store, _, res, _ = day_digest
    url = res.data["posts"][0]["url"]
    host = url.split("/posts/")[0]
    planted = res.markdown.replace(f"Link: {url}", f"Link: {host}/{url}", 1)
    assert planted != res.markdown
    with pytest.raises(DigestVerificationError) as err:
        verify(planted, store, "2025-03-24")
    assert "second scheme" in str(err.value) and "not written" in str(err.value)
