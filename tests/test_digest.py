"""The daily digest with deterministic fakes (real SQLite store and files on disk)."""

from __future__ import annotations

import json
import logging
import re
from datetime import date

import pytest
from click.testing import CliRunner
from digest_fakes import add_post, fake_llm, pid

from digest import build as build_mod
from digest.build import build_digest
from digest.cluster import MIN_COHESION, cluster, cohere, normalize
from digest.days import posts_of_day
from digest.render import ALSO, CONNECTIONS, INDIVIDUAL, THEMES, UPDATED
from digest.repo import get_digest
from digest.verify import DigestVerificationError, check, verify
from kb.embed.fake import FakeEmbedder
from kb.models.fake import FakeLLM

D = date(2025, 3, 20)
TOPICS = ["Reward hacking in gridworlds", "Reward hacking in robot simulators",
          "Sandbagging on capability evaluations", "Evaluation awareness in chat models",
          "Sparse autoencoder features drift", "Probing a chess transformer"]


def seed_day(store) -> dict[str, str]:
    """Six on-topic posts (one an AF/LW crosspost), one off-topic post, one post from the day
    before that was edited on D, one post of the next day."""
    ids = {}
    for i, title in enumerate(TOPICS, 1):
        ids[title] = add_post(store, pid(i), title, f"2025-03-20T{8 + i:02d}:00:00Z",
                              af=i in (1, 3), crosspost=i == 1, authors=[f"Author {i}"])
    ids["sourdough"] = add_post(store, pid(7), "My sourdough starter finally works",
                                "2025-03-20T18:30:00Z")
    ids["old"] = add_post(store, pid(8), "An older post on oversight", "2025-03-19T12:00:00Z")
    store.conn.execute("UPDATE posts SET changed_at='2025-03-20T15:00:00Z' WHERE id=?",
                       (pid(8),))
    add_post(store, pid(9), "Tomorrow's post", "2025-03-21T01:00:00Z")
    return ids


def links(md: str) -> list[str]:
    return re.findall(r"\]\((\S+?)\)", md) + re.findall(r"^Link: (\S+)$", md, re.M)


def test_digest_structure_and_truth(settings, store, caplog):
    seed_day(store)
    caplog.set_level(logging.WARNING, logger="digest")
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    assert res.status == "written", res.message
    md = res.path.read_text(encoding="utf-8")
    lines = md.split("\n")
    assert lines[0] == "# AI Alignment Daily Digest - 2025-03-20"
    order = [md.index(s) for s in (THEMES, CONNECTIONS, INDIVIDUAL, UPDATED, ALSO)]
    assert order == sorted(order)
    themes = res.data["themes"]
    assert 2 <= len(themes) <= 4
    assert sorted(n for t in themes for n in t["numbers"]) == list(range(1, 7))
    # Individual Post Summaries: each on-topic post once, numbered, canonical links
    ind = md.split(INDIVIDUAL)[1].split(UPDATED)[0]
    assert re.findall(r"^### (\d+)\. ", ind, re.M) == [str(i) for i in range(1, 7)]
    assert ind.count(f"posts/{pid(1)}/") == 1  # the crosspost appears once, with its AF URL
    assert f"Link: https://www.alignmentforum.org/posts/{pid(1)}/" in ind
    assert "Source: Alignment Forum · by Author 1 · 2025-03-20 09:00 UTC" in ind
    # off-topic only under Also Published; yesterday's edited post under Updated; not tomorrow's
    also = md.split(ALSO)[1]
    assert "sourdough" in also and "sourdough" not in md.split(ALSO)[0]
    assert "An older post on oversight" in md.split(UPDATED)[1].split(ALSO)[0]
    assert "Tomorrow" not in md
    # every link is a canonical URL of a stored post, none doubled
    for url in links(md):
        assert url.count("://") == 1
        assert store.conn.execute("SELECT 1 FROM posts WHERE canonical_url=?", (url,)).fetchone()
    # markers to posts that do not exist were removed and logged; every theme cites its posts
    assert "[42]" not in md and "[77]" not in md
    assert any("removed" in r.message and "42" in r.message for r in caplog.records)
    assert {m["markers"][0] for m in res.data["removed_markers"]} == {42, 77}
    for t in themes:
        cited = {int(n) for b in t["summary"] + [t["implications"]]
                 for grp in re.findall(r"\[([\d, ]+)\]", b) for n in grp.split(",")}
        assert cited and cited <= set(t["numbers"])
    # the footer names the model and its digest
    assert "model fake (digest fake)" in md
    stored = get_digest(store, "2025-03-20")
    assert stored.markdown == md and stored.complete and stored.data["themes"] == themes


def test_key_posts_are_rendered_from_the_store_not_the_model(settings, store):
    seed_day(store)

    def theme(nums):  # a model that invents a title and a link in its theme text
        return json.dumps({"name": "See [Fake title](https://evil.example/p) # Heading",
                           "summary": [f"A claim about https://evil.example [{nums[0]}].",
                                       "Another claim with no marker at all here."],
                           "implications": "Implications cite nothing."})

    res = build_digest(settings, store, fake_llm(theme=theme), FakeEmbedder(), D)
    assert res.status == "written"
    md = res.markdown
    assert "evil.example" not in md and "](https://evil" not in md
    assert len(re.findall(r"^# ", md, re.M)) == 1
    assert len(re.findall(r"^## ", md, re.M)) == 4  # themes, individual, updated, also
    blocks = re.split(r"^### \d+\. .*$", md.split(THEMES)[1].split(CONNECTIONS)[0], flags=re.M)
    day_urls = {p["n"]: p["url"] for p in res.data["posts"]}
    for t, block in zip(res.data["themes"], blocks[1:], strict=True):
        # the name is plain text, never a link; its invented words ("Fake", "Heading") are
        # not in any member post, so the theme falls back to its members' titles
        assert "evil" not in t["name"] and "](" not in t["name"] and "#" not in t["name"]
        assert "Fake" not in t["name"]
        keys = re.findall(r"\]\((\S+?)\)", block.split("**Summary:**")[0])
        assert keys == [day_urls[n] for n in t["numbers"]]


def test_theme_prose_naming_what_no_member_mentions_is_dropped(settings, store):
    seed_day(store)

    def theme(nums):  # one grounded bullet, one invented (an institute no post mentions)
        return json.dumps({"name": "Shared methods across the day's posts",
                           "summary": [f"The post reports a small study and explains the method "
                                       f"in plain words [{nums[0]}].",
                                       f"The Zurich Safety Institute (ZSI) endorsed them [{nums[0]}]."],
                           "implications": "Quantum Ethics Board rulings follow from this."})

    res = build_digest(settings, store, fake_llm(theme=theme), FakeEmbedder(), D)
    assert res.status == "written" and res.data["themes"]
    for t in res.data["themes"]:
        assert t["name"] == "Shared methods across the day's posts"
        assert len(t["summary"]) == 1 and t["summary"][0].startswith("The post reports a small")
        assert "Quantum" not in t["implications"]
    assert "ZSI" not in res.markdown and "Zurich" not in res.markdown


def test_connections_sentences_naming_what_no_theme_mentions_are_dropped(settings, store):
    seed_day(store)
    text = ("The post on reward hacking in gridworlds reports a small study [1]. The Vienna "
            "Accord of 2031 settles the matter [2].")
    res = build_digest(settings, store, fake_llm(connections=text), FakeEmbedder(), D)
    assert res.data["connections"] == ("The post on reward hacking in gridworlds reports a small "
                                       "study [1].")
    assert "Vienna" not in res.markdown and "2031" not in res.markdown


def test_theme_without_any_citation_is_cited_only_where_a_post_supports_it(settings, store):
    """Uncited model sentences are never padded with the members' markers: one a member
    supports gets that member's marker, one no member supports is dropped; a theme left
    without bullets is written from its posts' own summaries, without filler implications."""
    seed_day(store)
    posts = {p["n"]: p for p in build_digest(settings, store, fake_llm(), FakeEmbedder(), D,
                                              write=False).data["posts"]}
    store.conn.execute("DELETE FROM digests")
    store.conn.execute("DELETE FROM digest_cache WHERE kind = 'theme'")  # new model replies
    theme = lambda nums: json.dumps({"name": "Uncited theme", "summary": [  # noqa: E731
        f"{posts[int(nums[0])]['title']} is studied.",
        "A sentence with no markers at all in it."], "implications": "No markers here either."})
    res = build_digest(settings, store, fake_llm(theme=theme), FakeEmbedder(), D)
    assert res.status == "written", res.message
    words = {n: set(p["title"].lower().split()) - {"in", "on", "a"} for n, p in posts.items()}
    unrelated = 0
    for t in res.data["themes"]:
        first = t["numbers"][0]
        (bullet,) = t["summary"]
        assert bullet.startswith(f"{posts[first]['title']} is studied [")
        cited = [int(x) for x in re.findall(r"\[([\d, ]+)\]", bullet)[0].split(",")]
        assert first in cited and set(cited) <= set(t["numbers"])
        for n in t["numbers"]:  # a member that shares no word with the sentence is not cited
            if not words[n] & words[first]:
                unrelated += 1
                assert n not in cited, (bullet, posts[n]["title"])
        assert "+cited-by-check" in t["method"] and t["implications"] == ""
    assert unrelated  # the rule was exercised: some theme had a member that does not support it
    dropped = {d["text"] for d in res.data["claim_check"]["dropped"] if d["where"] != "connections"}
    assert dropped == {"A sentence with no markers at all in it.", "No markers here either."}
    assert "See each post's summary" not in res.markdown
    # nothing the model wrote is supported: the posts' own summaries, each citing its post
    store.conn.execute("DELETE FROM digests")
    store.conn.execute("DELETE FROM digest_cache WHERE kind = 'theme'")
    nothing = lambda nums: json.dumps({"name": "Uncited theme", "summary": [  # noqa: E731
        "A sentence with no markers at all in it."], "implications": "No markers here either."})
    res = build_digest(settings, store, fake_llm(theme=nothing), FakeEmbedder(), D)
    for t in res.data["themes"]:  # each post's key sentence, cited
        assert t["summary"] == [f"{posts[n]['summary'].split('. ')[0]} [{n}]."
                                for n in t["numbers"][:6]]
        assert "extractive-bullets" in t["method"] and t["implications"] == ""
    assert check(res.markdown, store, "2025-03-20") == []


def test_broken_theme_output_falls_back_to_grounded_text(settings, store):
    seed_day(store)
    res = build_digest(settings, store, fake_llm(theme=lambda nums: "{broken"), FakeEmbedder(),
                       D)
    assert res.status == "written"
    for t in res.data["themes"]:
        assert t["method"].startswith("fallback")
        assert all(re.search(r"\[\d+\]\.$", b) for b in t["summary"])


def test_rerun_makes_no_model_call_and_writes_the_same_file(settings, store):
    seed_day(store)
    first = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    data = first.path.read_bytes()
    llm, emb = fake_llm(), FakeEmbedder()
    again = build_digest(settings, store, llm, emb, D)
    assert again.status == "unchanged" and llm.calls == [] and emb.calls == 0
    assert first.path.read_bytes() == data
    first.path.unlink()  # a lost file is rewritten from the store, still without a model
    build_digest(settings, store, llm, emb, D)
    assert first.path.read_bytes() == data and llm.calls == []
    # even a forced rebuild reuses the cached theme texts and embeddings
    store.conn.execute("DELETE FROM digests")
    rebuilt = build_digest(settings, store, llm, emb, D)
    assert rebuilt.status == "written" and llm.calls == [] and emb.calls == 0
    assert first.path.read_bytes() == data


def test_an_edited_post_changes_the_digest(settings, store):
    seed_day(store)
    build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    add_post(store, pid(2), "Reward hacking in robot simulators", "2025-03-20T10:00:00Z",
             text="A rewritten version of the robot post with new results. " * 5)
    llm = fake_llm()
    res = build_digest(settings, store, llm, FakeEmbedder(), D)
    assert res.status == "written" and llm.calls  # the new version was summarized


def test_pending_posts_are_listed_and_the_day_is_rebuilt_later(settings, store):
    seed_day(store)
    res = build_digest(settings, store, fake_llm(fail_titles=("chess",)), FakeEmbedder(), D)
    assert res.status == "written" and res.pending == 1
    chess = next(p for p in res.data["posts"] if "chess" in p["title"])
    assert chess["extractive"] and chess["summary"]  # shown with its own sentences, marked
    assert "the model's summary failed; `kb daily` retries it" in res.markdown
    assert "Summaries: fake, 1 of 7 extractive" in res.markdown  # 6 + 1 also published
    assert not get_digest(store, "2025-03-20").complete
    res2 = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    assert res2.status == "written" and res2.pending == 0
    assert get_digest(store, "2025-03-20").complete


def test_a_pending_post_quotes_its_opening_escaped(settings, store):
    """While the model's summary is pending the reader sees the post's own sentences (its
    extractive summary) — as text: a hostile post cannot add a link, a heading or a second
    scheme to the digest."""
    add_post(store, pid(1), "A post the model chokes on", "2025-03-20T10:00:00Z",
             text="# Heading\n\nSee [here](https://evil.example/x) and **bold** <b>tags</b>. "
                  "The second sentence explains the chess result in detail. " * 3)
    res = build_digest(settings, store, fake_llm(fail_titles=("chokes",)), FakeEmbedder(), D)
    assert res.status == "written" and res.pending == 1
    line = next(x for x in res.markdown.splitlines() if x.startswith("Summary: "))
    assert "chess result" in line and "the model's summary failed" in line
    assert "evil.example" not in line and "](" not in line and "<b>" not in line
    assert "**" not in line and "# Heading" not in line
    assert check(res.markdown, store, "2025-03-20") == []


def test_empty_day(settings, store):
    res = build_digest(settings, store, FakeLLM(), FakeEmbedder(), date(2020, 1, 1))
    assert res.status == "empty" and res.path is None


def test_off_topic_only_day_has_no_themes(settings, store):
    add_post(store, pid(1), "Sourdough hydration notes", "2025-03-20T10:00:00Z")
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    assert res.status == "written" and res.data["themes"] == []
    assert "No posts about AI alignment" in res.markdown and "Sourdough" in res.markdown


def test_few_posts_make_one_theme(settings, store):
    for i in range(1, 4):
        add_post(store, pid(i), TOPICS[i], f"2025-03-20T1{i}:00:00Z")
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    assert len(res.data["themes"]) == 1 and res.data["themes"][0]["numbers"] == [1, 2, 3]


def test_posting_day_follows_the_configured_timezone(store):
    add_post(store, pid(1), "Late post", "2025-03-20T23:30:00Z")
    assert posts_of_day(store, D, "UTC").published == [pid(1)]
    assert posts_of_day(store, date(2025, 3, 21), "Europe/Berlin").published == [pid(1)]
    assert posts_of_day(store, D, "Europe/Berlin").published == []


def test_continuing_thread_links_back_to_an_earlier_digest(settings, store):
    for i, t in enumerate(["Reward hacking gridworld agents", "Reward hacking gridworld robots"]):
        add_post(store, pid(i + 1), t, f"2025-03-19T1{i}:00:00Z")
    for i, t in enumerate(["Reward hacking gridworld agents again",
                           "Reward hacking gridworld robots again"]):
        add_post(store, pid(i + 3), t, f"2025-03-20T1{i}:00:00Z")
    build_digest(settings, store, fake_llm(), FakeEmbedder(), date(2025, 3, 19))
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    cont = res.data["themes"][0]["continues"]
    assert cont and cont["date"] == "2025-03-19"
    assert "*Continuing thread:*" in res.markdown and "digest of 2025-03-19" in res.markdown


def test_clustering_is_deterministic_and_separates_topics():
    a = [[1.0, 0.1 * i, 0.0] for i in range(4)]
    b = [[0.0, 0.1 * i, 1.0] for i in range(4)]
    groups = cluster(a + b, 4)
    assert sorted(map(sorted, groups)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert cluster(a + b, 4) == groups
    assert cluster(a[:3], 4) == [[0, 1, 2]]
    assert cluster([], 4) == []


def test_a_post_close_to_no_other_in_its_group_stands_alone():
    # two posts on one topic and a third orthogonal to both: so few posts are one group
    # (FEW_POSTS), and the outsider leaves it
    close = [[1.0, 0.1, 0.0, 0.0], [1.0, 0.0, 0.1, 0.0], [1.0, 0.1, 0.1, 0.0]]
    alone = [0.0, 0.0, 0.0, 1.0]
    assert cluster(close[:2] + [alone], 4) == [[0, 1], [2]]
    assert cluster(close[:2] + [alone], 4, min_sim=-1.0) == [[0, 1, 2]]  # the old behaviour
    # and where k-means leaves an outsider in a group of several
    # (cosine ~0.2 to the first three, 0 to the last two: nearest to the first group)
    spread = close + [[0.2, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.1, 0.0]]
    assert cluster(spread, 2, min_sim=-1.0) == [[0, 1, 2, 3], [4, 5]]
    assert cluster(spread, 2) == [[0, 1, 2], [4, 5], [3]]
    # two that share nothing are two themes of one post each: the one closer to the reader's
    # first interest first
    far = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert cluster(far, 4) == [[0], [1]]
    assert cluster(far, 4, priority=[0.1, 0.5]) == [[1], [0]]
    with pytest.raises(ValueError, match="1 priorities for 2 posts"):
        cluster(far, 4, priority=[0.1])
    # a group keeps every member that belongs: the leave-one-out cosine decides
    x = normalize(close)
    assert cohere(x, [[0, 1, 2]], MIN_COHESION) == [[0, 1, 2]]


# --- the verifier --------------------------------------------------------------------------
@pytest.fixture
def good(settings, store):
    seed_day(store)
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D, write=False)
    assert check(res.markdown, store, "2025-03-20") == []
    return res.markdown


def test_verifier_catches_a_doubled_link(store, good):
    url = re.search(r"^Link: (https://www\.alignmentforum\.org/\S+)$", good, re.M).group(1)
    bad = good.replace(f"Link: {url}", f"Link: https://www.alignmentforum.org/{url}", 1)
    problems = check(bad, store, "2025-03-20")
    assert any("second scheme" in p for p in problems)
    with pytest.raises(DigestVerificationError, match="doubled link"):
        verify(bad, store, "2025-03-20")


@pytest.mark.parametrize("mutate,expect", [
    (lambda md: md.replace("(https://www.lesswrong.com/posts/", "(https://www.lesswrong.com/posts/X", 1),
     "not the canonical URL"),
    (lambda md: md.replace("[Sandbagging on capability evaluations]", "[Invented title]", 1),
     "not the stored title"),
    (lambda md: md.replace("### 2. Reward hacking in robot", "### 2. Renamed", 1),
     "not the stored title"),
    (lambda md: md.replace("## Updated Posts", "### 9. Dup\n\nLink: " + re.search(
        r"^Link: (\S+)$", md, re.M).group(1) + "\n\n## Updated Posts", 1), "appears twice"),
    (lambda md: md.replace("**Summary:**", "x [99]\n\n**Summary:**", 1),
     "does not point at a numbered post"),
    (lambda md: md.replace("# AI Alignment Daily Digest - 2025-03-20", "# Digest", 1),
     "first line"),
])
def test_verifier_rules(store, good, mutate, expect):
    problems = check(mutate(good), store, "2025-03-20")
    assert any(expect in p for p in problems), problems


def test_verifier_reads_no_link_from_an_escaped_bracket(store, good):
    """An escaped "\\[" (a title or theme name, as rendered) opens no link, even with a real
    link further down: the verifier must not read one spanning lines."""
    shown = good.replace("**Key Posts:**", "Named \\[odd title\n\n**Key Posts:**", 1)
    assert check(shown, store, "2025-03-20") == []
    bad = good.replace("**Key Posts:**", "Named [odd title\n\n**Key Posts:**", 1)
    assert check(bad, store, "2025-03-20") == []  # an unescaped one on its own line neither
    linked = good.replace("**Key Posts:**", "[Invented](https://www.lesswrong.com/posts/x) "
                                            "\n\n**Key Posts:**", 1)
    assert any("not the canonical URL" in p for p in check(linked, store, "2025-03-20"))


def test_theme_without_citation_fails_verification(store, good):
    block = good.split("### 1. ")[1].split("### 2. ")[0].split("### Connections")[0]
    stripped = re.sub(r" ?\[[\d, ]+\]", "", block.split("**Summary:**")[1])
    bad = good.replace(block.split("**Summary:**")[1], stripped, 1)
    assert any("cites no post" in p for p in check(bad, store, "2025-03-20"))


def test_a_digest_that_fails_verification_is_not_written(settings, store, monkeypatch):
    seed_day(store)
    real = build_mod.render

    def planted(data):  # the old system's failure: an AF link glued onto the AF base
        return real(data).replace("Link: https://www.alignmentforum.org/posts/",
                                  "Link: https://www.alignmentforum.org/https://www."
                                  "alignmentforum.org/posts/", 1)

    monkeypatch.setattr(build_mod, "render", planted)
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    assert res.status == "failed" and "second scheme" in res.message
    assert not (settings.digests_dir / "2025-03-20.md").exists()
    assert get_digest(store, "2025-03-20") is None


# --- CLI ------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(store, monkeypatch):
    monkeypatch.setenv("KB_LLM_BACKEND", "fake")
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    monkeypatch.setattr("kb.models.factory.build_llm", lambda s: (fake_llm(), None))
    from kb.cli import cli

    return lambda *args: CliRunner().invoke(cli, list(args))


def test_cli_digest_build_show_list(store, cli_env, settings):
    seed_day(store)
    r = cli_env("digest", "--date", "2025-03-20")
    assert r.exit_code == 0, r.output
    assert "2025-03-20.md" in r.output
    r = cli_env("digest", "show", "2025-03-20")
    assert r.exit_code == 0 and r.output.startswith("# AI Alignment Daily Digest - 2025-03-20")
    assert r.output == (settings.digests_dir / "2025-03-20.md").read_text(encoding="utf-8")
    data = json.loads(cli_env("digest", "show", "2025-03-20", "--format", "json").output)
    assert data["date"] == "2025-03-20" and data["themes"] and data["complete"] is True
    listed = json.loads(cli_env("digest", "list", "--json").output)
    assert [x["date"] for x in listed] == ["2025-03-20"]
    r = cli_env("digest", "--since", "2025-03-19", "--until", "2025-03-21", "--json")
    assert r.exit_code == 0, r.output
    assert [d["status"] for d in json.loads(r.output)["digests"]] == ["written", "unchanged",
                                                                      "written"]
    assert json.loads(cli_env("digest", "--week", "--json").output)["digests"]


def test_cli_digest_errors(cli_env):
    assert cli_env("digest", "--date", "yesterday").exit_code == 2
    assert cli_env("digest", "--date", "2025-03-20", "--week").exit_code == 2
    assert cli_env("digest", "--until", "2025-03-20").exit_code == 2
    r = cli_env("digest", "show", "2001-01-01")
    assert r.exit_code == 1 and "no digest for 2001-01-01" in r.output


@pytest.mark.model
def test_a_post_the_model_mislabels_as_relevant_is_not_forced_into_a_theme(settings, store):
    """A tiny model calls the bread post "core"; the real embedder sees it is far from every
    digest topic, so it goes under Also Published, not into a theme's implications."""
    from kb.embed.factory import build_embedder

    seed_day(store)
    res = build_digest(settings, store, fake_llm(off_topic=()), build_embedder(settings), D)
    assert res.status == "written"
    assert "sourdough" not in res.markdown.split(ALSO)[0].lower()
    moved = [a for a in res.data["also_published"] if "sourdough" in a["title"].lower()]
    assert moved and moved[0]["relevance_override"] == "core"
    assert [p["n"] for p in res.data["posts"]] == list(range(1, 7))


@pytest.mark.model
def test_an_alignment_post_the_model_calls_off_topic_stays_in_the_themes(settings, store):
    """The other way round: a tiny model calls a plainly-alignment post "off-topic"; judged on
    its title and opening (not the model's summary) it is kept in the day as "related", while
    the bread post the model also calls off-topic stays under Also Published."""
    from kb.embed.factory import build_embedder

    seed_day(store)
    add_post(store, pid(10), "Why AI alignment research needs better safety evaluations",
             "2025-03-20T20:00:00Z",
             text="AI safety and AI alignment research lacks evaluations that tell us whether "
                  "an advanced AI system is aligned. This post argues for alignment evals. " * 3)
    res = build_digest(settings, store, fake_llm(off_topic=("sourdough", "alignment")),
                       build_embedder(settings), D)
    assert res.status == "written"
    kept = [p for p in res.data["posts"] if p["id"] == pid(10)]
    assert kept and kept[0]["relevance"] == "related"
    assert kept[0]["relevance_override"] == "off-topic"
    assert pid(10) in {pid_ for t in res.data["themes"] for pid_ in
                       (res.data["posts"][n - 1]["id"] for n in t["numbers"])}
    also = {a["id"] for a in res.data["also_published"]}
    assert pid(7) in also and pid(10) not in also  # the bread post is still off-topic
    assert [p["n"] for p in res.data["posts"]] == list(range(1, 8))
    assert check(res.markdown, store, "2025-03-20") == []
