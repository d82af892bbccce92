"""The digest without a chat model: themes named by their key phrases, one cited key sentence
per post, implications from the posts' own cue sentences, connections said from the data, and
a footer saying who wrote what.  Hand-written posts, the bag-of-words FakeEmbedder."""

from __future__ import annotations

import re
from datetime import date

from digest_fakes import LW, add_post, fake_llm, pid

from digest.build import build_digest
from digest.connections import PostFacts, ThemeFacts, connections
from digest.render import CONNECTIONS, INDIVIDUAL, THEMES, render
from digest.theme_extract import (
    Phrase,
    ThemeText,
    implications,
    key_phrases,
    theme_name,
    title_clash,
    usable_sentence,
    with_marker,
)
from digest.verify import check
from kb.embed.fake import FakeEmbedder

D = date(2025, 4, 2)

# Two topics, two posts each; Ada Lovelace writes in both; post 2 links to post 3.
POSTS = [
    ("Sensor tampering in gridworld agents", "Ada Lovelace",
     "We trained gridworld agents with a noisy goal sensor for AI safety research. The agents "
     "learned reward tampering through the goal sensor instead of reaching the goal. This "
     "suggests that reward tampering appears even in tiny gridworld agents. A small penalty on "
     "sensor contact was tried next."),
    ("Penalties against reward tampering", "Ben Turing",
     "Reward tampering shows up in AI alignment work whenever the goal sensor can be touched. "
     "A penalty on sensor contact reduced reward tampering in gridworld agents by half. We "
     "should test the penalty on larger gridworld agents before trusting it. The probes are "
     "discussed in [another post](" + LW.format(id=pid(3), slug="linear-probes") + ")."),
    ("Linear probes for truthful answers", "Ada Lovelace",
     "Linear probes separate true statements from false statements in small language models "
     "used in AI alignment research. The truth direction transfers across topics. Steering "
     "along the truth direction changes how often language models agree with false "
     "statements."),
    ("Truth directions in chat models", "Cy Noether",
     "The truth direction found by linear probes also appears in chat language models. Linear "
     "probes trained on one topic transfer to another topic for AI alignment audits. The upshot "
     "is that linear probes could help audit whether language models answer truthfully."),
]


def seed(store) -> None:
    for i, (title, author, text) in enumerate(POSTS, 1):
        add_post(store, pid(i), title, f"2025-04-02T{8 + i:02d}:00:00Z", text=text,
                 authors=[author])


def test_the_digest_without_a_chat_model_is_made_of_the_posts_own_words(settings, store):
    seed(store)
    res = build_digest(settings, store, None, FakeEmbedder(), D)
    assert res.status == "written", res.message
    assert res.calls == 0 and check(res.markdown, store, D.isoformat()) == []
    posts = {p["n"]: p for p in res.data["posts"]}
    assert len(posts) == 4 and all(p["extractive"] for p in posts.values())
    texts = {p["n"]: POSTS[int(p["id"][-1]) - 1][2] for p in posts.values()}
    themes = res.data["themes"]
    assert len(themes) == 2
    by_title = {p["title"]: n for n, p in posts.items()}
    grid = next(t for t in themes if by_title["Sensor tampering in gridworld agents"] in t["numbers"])
    assert set(grid["numbers"]) == {by_title["Sensor tampering in gridworld agents"],
                                    by_title["Penalties against reward tampering"]}
    for t in themes:
        # named by a phrase its posts share, never after a member's title
        assert 2 <= len(t["name"].split()) <= 5
        assert not title_clash(t["name"], [posts[n]["title"] for n in t["numbers"]])
        assert any(w in t["name"].lower() for w in ("tampering", "sensor", "gridworld", "probes",
                                                     "truth", "linear"))
        # one bullet per key post: its summary's first sentence, cited, from the post itself
        assert len(t["summary"]) == len(t["numbers"])
        for n, bullet in zip(t["numbers"], t["summary"], strict=True):
            assert bullet.endswith(f" [{n}].")
            assert bullet[:-len(f" [{n}].")] in texts[n]
        # implications: the posts' own cue sentences, cited
        for sent in re.findall(r"[^.]*? \[\d\]\.", t["implications"]):
            n = int(re.search(r"\[(\d)\]", sent).group(1))
            assert n in t["numbers"] and sent.strip()[:-len(f" [{n}].")] in texts[n]
    assert "This suggests that reward tampering" in grid["implications"]
    assert "We should test the penalty" in grid["implications"]
    md = res.markdown
    assert "—" not in md.split(INDIVIDUAL)[0]
    assert "embedding similarity" not in md and "closest pair" not in md
    # connections from the data: the shared author and the link, with citations
    conn = res.data["connections"]
    probes = by_title["Linear probes for truthful answers"]
    assert "Ada Lovelace wrote posts in both" in conn
    assert f"Post [{by_title['Penalties against reward tampering']}] of" in conn
    assert f"links to post [{probes}]" in conn
    assert md.split(CONNECTIONS)[1].split(INDIVIDUAL)[0].strip() == conn
    footer = md.split("\n---\n")[-1]
    assert "without a chat model" in footer
    assert "Summaries: extractive" in footer and "Connections: from the data" in footer


def test_an_unchanged_extractive_day_is_not_rebuilt(settings, store):
    seed(store)
    first = build_digest(settings, store, None, FakeEmbedder(), D)
    again = build_digest(settings, store, None, FakeEmbedder(), D)
    assert again.status == "unchanged" and again.markdown == first.markdown


def test_with_a_model_the_footer_names_it_and_counts_extractive_fallbacks(settings, store):
    seed(store)
    res = build_digest(settings, store, fake_llm(), FakeEmbedder(), D)
    assert res.status == "written", res.message
    footer = res.markdown.split("\n---\n")[-1]
    assert "with the model fake" in footer and "Summaries: fake" in footer
    # the fake model's theme bullets cite a post that does not exist and one unsupported
    # sentence: the posts they left uncovered get their own key sentences, and that is said
    wb = res.data["written_by"]
    assert wb["themes"] == "fake@fake"
    for t in res.data["themes"]:
        cited = {int(x) for b in t["summary"] for x in re.findall(r"\d+", " ".join(
            re.findall(r"\[([\d, ]+)\]", b)))}
        assert cited and cited <= set(t["numbers"])
    if wb["extractive_theme_sentences"]:
        assert f"{wb['extractive_theme_sentences']} sentence" in footer


# --- names ---------------------------------------------------------------------------------
def _texts(*docs: tuple[str, str]) -> list[ThemeText]:
    return [ThemeText(i, title, "", text) for i, (title, text) in enumerate(docs, 1)]


def test_the_name_is_what_sets_the_theme_apart_and_never_a_title(store):
    a = _texts(("Debate as scalable oversight", "Debate protocols help scalable oversight. "
                "Judges in debate protocols read both sides. Scalable oversight needs judges."),
               ("Judges and debate", "Weak judges still pick winners in debate protocols. "
                "Scalable oversight with debate protocols works for weak judges."))
    b = _texts(("Sparse autoencoders", "Sparse autoencoders find features. Dead features in "
                "sparse autoencoders waste capacity. Judges are not involved."),)
    pa, pb = key_phrases([a, b], store=store)
    assert pa[0].key in ("debate protocols", "scalable oversight", "judges")
    assert "sparse autoencoders" in [p.key for p in pb]
    name = theme_name(pa, [m.title for m in a], size=2)
    assert re.search(r"debate protocols|scalable oversight", name, re.I)
    assert not title_clash(name, [m.title for m in a])
    # the best phrase is the title's own start: never used as the name
    title = "Debate protocols"
    phrases = [Phrase("debate protocols", "debate protocols", 9.0, [1, 2]),
               Phrase("weak judges", "weak judges", 5.0, [1, 2])]
    name = theme_name(phrases, [title, "Other"], size=2)
    assert name.startswith("Weak judges") and not title_clash(name, [title])
    assert theme_name(phrases[:1], [title], size=1) != "Debate protocols"
    assert title_clash("Debate protocols for", ["Debate protocols for oversight"])
    assert not title_clash("Debate protocols", ["Debate protocols for oversight"])  # the topic
    assert title_clash("debate protocols FOR oversight", ["Debate protocols for oversight"])
    assert not title_clash("protocols for oversight", ["Debate protocols for oversight"])


def test_a_one_post_theme_is_not_named_by_a_broken_piece_of_its_title(store):
    title = "Field Testing in Brazilian Almost Military Training"
    text = ("Humor helps in military training. In military training the sergeant rules. "
            "Field testing showed that humor in military training lowers stress.")
    (ph,) = key_phrases([[ThemeText(1, title, "", text)]], store=store)
    broken = [p for p in ph if p.key == "testing in brazilian"]
    assert broken and not broken[0].in_body and not broken[0].ends_title_part
    whole = next(p for p in ph if p.key == "military training")
    assert whole.in_body and whole.ends_title_part
    # the broken piece is not the name even when it scores best
    top = Phrase("testing in brazilian", "Testing in Brazilian", 9.0, [1], True, False, False)
    body = Phrase("sergeant rules", "sergeant rules", 2.0, [1], False, True, False)
    end = Phrase("almost military training", "Almost Military Training", 1.0, [1], True,
                 False, True)
    assert theme_name([top, body, end], [title], size=1) == "Sergeant rules"
    assert theme_name([top, end], [title], size=1) == "Almost Military Training"
    assert theme_name([top], [title], size=1) == "Testing in Brazilian"  # nothing better


def test_phrases_common_in_the_archive_weigh_less(store):
    """Archive background: a phrase most archived posts use loses to one they do not."""
    for i in range(20):
        add_post(store, pid(100 + i), f"Archive post {i}", "2024-01-01T00:00:00Z",
                 text="Language models are everywhere. Language models again and again.")
    g = _texts(("One", "Language models and reward tampering. Language models and reward "
                "tampering."), ("Two", "Language models and reward tampering."))
    (ph,) = key_phrases([g], store=store)
    order = [p.key for p in ph]
    assert order.index("reward tampering") < order.index("language models")
    (no_archive,) = key_phrases([g], store=None)
    assert {p.key for p in no_archive} >= {"reward tampering", "language models"}


# --- implications ----------------------------------------------------------------------------
def test_implications_are_cue_sentences_of_the_posts_and_a_theme_without_any_has_none():
    members = _texts(("A", "We ran the test twice. This suggests that the effect is real and "
                      "large enough to matter. Short one."),
                     ("B", "It rained. The results were mixed across the three runs we did."))
    out = implications(members, [])
    assert out == [(1, "This suggests that the effect is real and large enough to matter [1].")]
    assert implications(_texts(("C", "The sky was grey over the lab all morning today.")), []) \
        == []
    assert not usable_sentence("Should.") and not usable_sentence("we should do it now.")


def test_an_implication_never_repeats_the_posts_key_sentence():
    said = "We need to start with the Bayesian roots of updateless decision theory."
    other = "It would be wise to test the idea on a small toy problem first."
    (m,) = _texts(("UDT", f"{said} {other}"))
    assert implications([m], [Phrase("decision theory", "decision theory", 3.0, [1])]) \
        == [(1, with_marker(said, 1))]  # the stronger cue and the key phrase
    m.summary = said  # the summary's first sentence is the theme's bullet for this post
    assert implications([m], []) == [(1, with_marker(other, 1))]


def test_a_theme_without_implications_renders_no_implications_block():
    data = {"date": "2025-04-02", "timezone": "UTC", "prompt_version": "x", "model": "m",
            "posts": [{"n": 1, "title": "T", "url": "https://example.org/t", "authors": [],
                       "source": "s", "status": "ok", "summary": "S.", "implications": ""}],
            "themes": [{"name": "Some phrase", "numbers": [1], "summary": ["S [1]."],
                        "implications": ""}], "connections": "Nothing connects."}
    md = render(data)
    block = md.split(THEMES)[1].split(CONNECTIONS)[0]
    assert "Broader Implications" not in block and "—" not in block


# --- connections -----------------------------------------------------------------------------
def test_connections_say_what_the_data_shows_with_citations():
    ph = Phrase("reward tampering", "reward tampering", 3.0, [1])
    ph2 = Phrase("reward tampering", "reward tampering", 2.0, [3])
    themes = [ThemeFacts("Goal sensors", [1, 2], [ph]),
              ThemeFacts("Truth probes", [3], [ph2],
                         {"date": "2025-03-30", "name": "Probing", "similarity": 0.9})]
    posts = [PostFacts(1, pid(1), ["Ada"], f"see {LW.format(id=pid(3), slug='x')}."),
             PostFacts(2, pid(2), ["Ben"], ""), PostFacts(3, pid(3), ["Ben"], "")]
    text = connections(None, themes, posts)
    assert "Post [1] of “Goal sensors” links to post [3] of “Truth probes”." in text
    assert "Ben wrote posts in both “Goal sensors” [2] and “Truth probes” [3]." in text
    assert "both discuss “reward tampering” [1, 3]." in text
    assert "“Truth probes” [3] continues the thread “Probing” of the digest of 2025-03-30." \
        in text
    lonely = [ThemeFacts("A b", [1]), ThemeFacts("C d", [2])]
    assert connections(None, lonely, [PostFacts(1, "x", [], ""), PostFacts(2, "y", [], "")]) \
        == "The day's themes share no key phrase, author or link between their posts."


# --- the quality check itself ------------------------------------------------------------------
def test_the_quality_check_catches_the_outputs_issue_17_quotes():
    from digest.quality import counts, digest_problems

    title = "An overview of control measures"
    data = {"posts": [{"n": 1, "id": "a", "title": title, "authors": ["unknown"],
                       "status": "ok", "extractive": True,
                       "summary": "DATA Title: An overview of control measures Authors: unknown "
                                  "Notes on the parts of a long post (the post itself was too "
                                  "long to show): Part 1: control.",
                       "implications": "Implementation."}],
            "themes": [{"name": title, "numbers": [1],
                        "summary": ["An overview of control measures.",
                                    "The AI scene is going to be a global scene, and it's"],
                        "implications": "Control measures matter a lot [1]. An overview of "
                                        "control measures [1]."}],
            "connections": "The closest pair of themes is one [1] and two [1]."}
    found = counts(digest_problems(data, lambda _id: "A post about control measures."))
    assert found == {"short_sentence": 1, "no_final_period": 1, "prompt_text": 1,
                     "theme_named_after_title": 1, "uncited_bullet": 2,
                     "implication_repeats_bullet": 1, "summary_not_in_post": 1, "no_authors": 1}


def test_a_model_theme_name_that_is_a_members_title_gives_way_to_the_extractive_name(store):
    import json

    from digest_fakes import kind_of

    from digest.themes import Member, build_themes
    from kb.models.fake import FakeLLM

    members = [Member(i, pid(i), title, "", "", text=text, authors=[author])
               for i, (title, author, text) in enumerate(POSTS[:2], 1)]
    for m in members:
        m.summary = m.text.split(". ")[0] + "."

    def reply(messages):
        if kind_of(messages) == "theme":
            return json.dumps({"name": "Sensor tampering in gridworld", "implications": "",
                               "summary": ["The agents learned reward tampering through the "
                                           "goal sensor [1]."]})
        return json.dumps({"connections": ""})

    res = build_themes(store, FakeLLM(reply), FakeEmbedder(), members, max_themes=1)
    (theme,) = res.themes
    assert theme.name != "Sensor tampering in gridworld"  # nearly all of post 1's title
    assert not title_clash(theme.name, [m.title for m in members])
    # the model's bullet stands; post 2, which no model sentence covered, is not padded in
    assert theme.summary[0].startswith("The agents learned reward tampering")
    # the model wrote no implication: the posts' own cue sentences stand in
    assert "This suggests that reward tampering" in theme.implications
    assert "extractive-implications" in theme.method and res.themes_by == "fake@fake"


def test_the_footer_says_when_the_configured_model_wrote_nothing():
    """A model that failed on every post wrote none of the digest: the footer must not credit
    it (a real case: Ollama hanging up on every summary)."""
    from digest.render import model_wrote

    wb = {"model": "m", "summaries": 3, "extractive_summaries": 3, "themes": "extractive",
          "connections": "extractive", "extractive_theme_sentences": 0}
    assert not model_wrote(wb)
    assert model_wrote(wb | {"extractive_summaries": 2})
    assert model_wrote(wb | {"themes": "m"}) and model_wrote(wb | {"connections": "m"})
    assert not model_wrote(wb | {"model": None, "extractive_summaries": 0})
