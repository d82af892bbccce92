"""The digest's claims go through the claim checker: theme bullets, implications, connections
and per-post summaries.  Scripted model output (FakeLLM); the bag-of-words FakeEmbedder for the
logic, and one test with the real embedder on the same small fixture."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date

import pytest
from digest_fakes import add_post, kind_of, pid, smart

from digest.build import build_digest
from digest.claimcheck import ClaimChecker
from digest.grounding import grounding_problem, unsupported_terms
from digest.summarize import PostText, claim_check_summary, summarize_post
from digest.text import first_sentences
from digest.themes import (
    Member,
    ThemeResult,
    bare_claim,
    build_themes,
    claim_sentences,
    with_citation,
)
from digest.verify import check
from kb.embed.fake import FakeEmbedder
from kb.models.base import Message
from kb.models.fake import FakeLLM

# --- a small fixture: two posts, their (already checked) summaries and implications ----------
GRID = Member(1, pid(1), "Reward hacking in gridworld agents",
              "The post trains gridworld agents with a noisy goal sensor. The agents learned to "
              "tamper with the sensor instead of reaching the goal. A small penalty on sensor "
              "contact removed the tampering.",
              "Sensor tampering is a concrete case of reward hacking.")
PROBE = Member(2, pid(2), "Linear probes for truthfulness",
               "The post trains linear probes on a small transformer to separate true from false "
               "statements. A single direction transfers across topics. Steering along it "
               "changes how often the model agrees with false claims.",
               "Probes could help audit whether a model tells the truth.")
MEMBERS = [GRID, PROBE]

SUPPORTED_BY_GRID = "The agents learned to tamper with the sensor instead of reaching the goal."
SUPPORTED_BY_PROBE = ("Steering along a single direction changes how often the model agrees "
                      "with false claims")
INVENTED = "Quarterly audits by regulators cut deployment incidents sharply."
NEGATED = "The agents did not learn to tamper with the sensor"


def scripted(theme: dict[str, object] | Callable[[], dict[str, object]] | str,
             connections: str = "") -> FakeLLM:
    """A model that answers the theme prompt with ``theme`` and the connections prompt with
    ``connections``."""

    def reply(messages: list[Message]) -> str:
        kind = kind_of(messages)
        if kind == "theme":
            value = theme() if callable(theme) else theme
            return value if isinstance(value, str) else json.dumps(value)
        if kind == "connections":
            return json.dumps({"connections": connections})
        raise AssertionError(f"unexpected prompt kind {kind}")

    return FakeLLM(reply)


def themes_of(store, llm: FakeLLM, embedder=None, members=MEMBERS) -> ThemeResult:
    return build_themes(store, llm, embedder or FakeEmbedder(), members, max_themes=1)


def markers(text: str) -> list[int]:
    return [int(n) for grp in re.findall(r"\[([\d, ]+)\]", text) for n in grp.split(",")]


# --- helpers ---------------------------------------------------------------------------------
def test_sentence_helpers_keep_markers_with_their_sentence():
    assert claim_sentences("It works. [2] It also fails [1].") == ["It works. [2]",
                                                                  "It also fails [1]."]
    assert bare_claim("It also fails [1, 2] .") == "It also fails."
    assert with_citation("It works.", [1, 3]) == "It works [1, 3]."
    assert with_citation("It works", [2]) == "It works [2]"


# --- theme bullets ---------------------------------------------------------------------------
def test_an_uncited_bullet_a_member_supports_gets_that_members_marker(store):
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": [SUPPORTED_BY_GRID, f"{SUPPORTED_BY_PROBE} [2]."],
                    "implications": ""})
    res = themes_of(store, llm)
    (theme,) = res.themes
    assert theme.summary[0] == SUPPORTED_BY_GRID[:-1] + " [1]."  # its supporter, not [1, 2]
    assert theme.summary[1] == f"{SUPPORTED_BY_PROBE} [2]."
    assert res.added_citations == [{"where": "theme 'Sensor tampering and truth probes'",
                                    "sentence": SUPPORTED_BY_GRID, "markers": [1]}]
    assert "+cited-by-check" in theme.method and res.dropped == []


def test_an_uncited_invented_bullet_is_dropped_not_padded(store):
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": [f"{SUPPORTED_BY_PROBE} [2].", INVENTED],
                    "implications": ""})
    res = themes_of(store, llm)
    (theme,) = res.themes
    assert theme.summary == [f"{SUPPORTED_BY_PROBE} [2]."]
    assert not any("Quarterly" in b for b in theme.summary)
    assert [d["text"] for d in res.dropped] == [INVENTED]
    assert res.dropped[0]["cited"] is False and res.added_citations == []


def test_a_negated_cited_bullet_loses_its_citation_and_falls_back_to_its_posts_sentence(
        store):
    """The failed model sentence cited [1]: post 1's own key sentence takes its place."""
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": [f"{NEGATED} [1].", f"{SUPPORTED_BY_PROBE} [2]."],
                    "implications": ""})
    res = themes_of(store, llm)
    (theme,) = res.themes
    assert theme.summary == [f"{SUPPORTED_BY_PROBE} [2].",
                             "The post trains gridworld agents with a noisy goal sensor [1]."]
    assert "extractive-bullets" in theme.method and res.fallbacks == 1
    (removed,) = res.removed_citations
    assert removed["markers"] == [1] and "negation" in " ".join(removed["reasons"])
    assert [d["text"] for d in res.dropped] == [NEGATED + "."]


def test_a_cited_bullet_keeps_only_the_citations_that_support_it(store):
    """Cited [1, 2] but only post 1 says it: [2] goes, the sentence stays with [1]."""
    wrong = "Gridworld agents learned to tamper with their noisy goal sensor [1, 2]."
    llm = scripted({"name": "Sensor tampering and truth probes", "summary": [wrong],
                    "implications": ""})
    res = themes_of(store, llm)
    assert res.themes[0].summary == ["Gridworld agents learned to tamper with their noisy goal "
                                     "sensor [1]."]
    assert [r["markers"] for r in res.removed_citations] == [[2]]


def test_a_sentence_joining_two_cited_posts_keeps_both(store):
    """Each post alone lacks the other's name; together they say it: both citations stay."""
    joined = ("Gridworld agents tamper with sensors and linear probes separate true from false "
              "statements [1, 2].")
    llm = scripted({"name": "Sensor tampering and truth probes", "summary": [joined],
                    "implications": ""})
    res = themes_of(store, llm)
    assert res.themes[0].summary == [joined] and res.removed_citations == []


def test_a_theme_whose_uncited_sentences_no_post_supports_falls_back_to_its_posts_summaries(
        store):
    """Nothing the model wrote is supported: no marker is added to it, the bullets come from
    the posts' own summaries (each cites its post) and the implication is left out — no filler
    sentence is put in its place."""
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": ["A sentence with no markers at all in it.", INVENTED],
                    "implications": "No markers here either."})
    res = themes_of(store, llm)
    (theme,) = res.themes
    assert theme.summary == [f"{first_sentences(m.summary, 1)[:-1]} [{m.n}]." for m in MEMBERS]
    assert theme.implications == ""
    assert "extractive-bullets" in theme.method and "cited" not in theme.method
    assert {d["text"] for d in res.dropped} == {"A sentence with no markers at all in it.",
                                                INVENTED, "No markers here either."}


def test_implications_are_checked_and_a_dropped_one_leaves_no_filler(store):
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": [f"{SUPPORTED_BY_PROBE} [2]."],
                    "implications": f"{NEGATED} [1]. Probes could help audit whether a model "
                                    "tells the truth [2]."})
    res = themes_of(store, llm)
    assert res.themes[0].implications == ("Probes could help audit whether a model tells the "
                                          "truth [2].")
    store.conn.execute("DELETE FROM digest_cache WHERE kind = 'theme'")  # a new model reply
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": [f"{SUPPORTED_BY_PROBE} [2]."], "implications": f"{NEGATED} [1]."})
    res = themes_of(store, llm)
    assert llm.calls and res.themes[0].implications == ""


def test_broken_theme_output_with_posts_without_implications_has_no_filler(store):
    bare = [Member(m.n, m.post_id, m.title, m.summary, "") for m in MEMBERS]
    res = themes_of(store, scripted("{broken"), members=bare)
    (theme,) = res.themes
    assert theme.method.startswith("fallback") and theme.implications == ""
    assert all(re.search(r"\[\d\]\.$", b) for b in theme.summary)


# --- connections -----------------------------------------------------------------------------
def test_an_uncited_connections_paragraph_is_never_padded(store):
    res = themes_of(store, scripted({"name": "Sensor tampering and truth probes",
                                     "summary": [f"{SUPPORTED_BY_PROBE} [2]."],
                                     "implications": ""},
                                    connections="Both posts rest on small controlled "
                                                "experiments. Nothing else connects them here."))
    # no model sentence survived; the connections said from the data stand instead (one
    # theme, no earlier digest: a short line, no template, no citation to pad)
    assert "controlled experiments" not in res.connections
    assert res.connections == "All of the day's posts on these topics fall under the one theme above."
    assert markers(res.connections) == [] and res.connections_by == "extractive"
    assert {d["where"] for d in res.dropped} == {"connections"} and len(res.dropped) == 2
    assert res.added_citations == []


def test_connections_sentences_are_cited_by_the_posts_that_support_them(store):
    text = (f"{SUPPORTED_BY_GRID} The linear probes never separate true from false statements "
            f"[2]. {SUPPORTED_BY_PROBE} [2]. Both posts rest on small controlled experiments.")
    res = themes_of(store, scripted({"name": "Sensor tampering and truth probes",
                                     "summary": [f"{SUPPORTED_BY_PROBE} [2]."],
                                     "implications": ""}, connections=text))
    assert res.connections == (f"{SUPPORTED_BY_GRID[:-1]} [1]. {SUPPORTED_BY_PROBE} [2].")
    assert "never" not in res.connections and "controlled" not in res.connections
    assert [r["markers"] for r in res.removed_citations] == [[2]]


# --- the whole digest records what the check did ----------------------------------------------
def test_build_digest_records_and_reports_what_the_claim_check_did(settings, store):
    add_post(store, pid(1), "Reward hacking in gridworlds", "2025-03-20T10:00:00Z")
    add_post(store, pid(2), "Reward hacking in robot simulators", "2025-03-20T11:00:00Z")

    def theme(nums: list[str]) -> str:
        return json.dumps({"name": "Reward hacking studies",
                           "summary": [f"The post on reward hacking in gridworlds reports a small "
                                       f"study [{nums[0]}].",
                                       f"The robot simulators never reward any hacking [{nums[0]}].",
                                       INVENTED],
                           "implications": ""})

    res = build_digest(settings, store, FakeLLM(smart(theme=theme)), FakeEmbedder(),
                       date(2025, 3, 20))
    assert res.status == "written", res.message
    cc = res.data["claim_check"]
    assert INVENTED in [d["text"] for d in cc["dropped"]]
    assert "claim check:" in res.message and "dropped" in res.message
    assert res.to_json()["claim_check"]["dropped"] == len(cc["dropped"])
    assert INVENTED not in res.markdown and "never reward" not in res.markdown
    assert check(res.markdown, store, "2025-03-20") == []


# --- per-post summaries ------------------------------------------------------------------------
POST_2023 = ("Reward hacking in 2023 agents. In 2023 we trained agents with a noisy goal sensor. "
             "The agents learned to tamper with the sensor instead of reaching the goal. A small "
             "penalty on sensor contact removed the tampering in most runs.")


def test_numbers_are_whole_tokens_20_percent_is_not_in_2023():
    assert unsupported_terms("The agents tampered in 20% of runs.", POST_2023) == ["20%"]
    assert grounding_problem("The agents tampered in 20% of runs.", POST_2023) is not None
    assert unsupported_terms("The agents tampered in 202 runs.", POST_2023) == ["202"]
    assert unsupported_terms("In 2023 the agents tampered with the sensor.", POST_2023) == []
    assert unsupported_terms("About 20 percent tampered.", "Only 20 runs.") == ["20 percent"]
    assert unsupported_terms("About 20 percent tampered.", "Roughly 20% did.") == []
    assert unsupported_terms("It ran 1,000 times.", "It ran 1000 times.") == []


def test_the_checker_refuses_a_summary_with_a_number_the_post_does_not_state():
    checker = ClaimChecker(FakeEmbedder())
    post = PostText("Reward hacking in 2023 agents", ("A. Writer",), POST_2023)
    summary = ("The agents learned to tamper with the sensor instead of reaching the goal. "
               "They tampered in 20% of runs.")
    kept, why = claim_check_summary(checker, summary, post)
    assert why is not None and "20%" in why
    ok = ("The agents learned to tamper with the sensor instead of reaching the goal. "
          "A small penalty on sensor contact removed the tampering.")
    assert claim_check_summary(checker, ok, post) == (ok, None)


def test_a_summary_with_20_percent_for_a_post_saying_2023_stays_pending(store):
    add_post(store, pid(1), "Reward hacking in 2023 agents", "2025-03-20T10:00:00Z",
             text=POST_2023)
    bad = json.dumps({"summary": "The agents learned to tamper with the sensor instead of "
                                 "reaching the goal in 20% of runs. A small penalty on sensor "
                                 "contact removed the tampering.",
                      "relevance": "core", "implications": ""})
    row, _ = summarize_post(store, FakeLLM(lambda _m: bad), pid(1),
                            checker=ClaimChecker(FakeEmbedder()))
    assert row.status == "pending" and row.summary == "" and "20%" in (row.error or "")


def test_a_summary_negating_the_post_is_refused_by_the_checker_and_retried(store):
    """No name, no number: only the claim checker sees the flipped negation."""
    add_post(store, pid(1), "Reward hacking in 2023 agents", "2025-03-20T10:00:00Z",
             text=POST_2023)
    negated = json.dumps({"summary": "In 2023 the post trained agents with a noisy goal sensor. "
                                     "The agents did not learn to tamper with the sensor.",
                          "relevance": "core", "implications": ""})
    good = json.dumps({"summary": "In 2023 the post trained agents with a noisy goal sensor. "
                                  "The agents learned to tamper with the sensor instead of "
                                  "reaching the goal.",
                       "relevance": "core",
                       "implications": "The agents never tampered with the sensor."})
    assert grounding_problem(json.loads(negated)["summary"], POST_2023) is None
    llm = FakeLLM([negated, good])
    row, _ = summarize_post(store, llm, pid(1), checker=ClaimChecker(FakeEmbedder()))
    assert row.ok and row.method == "json-retry" and "did not" not in row.summary
    assert "negation" in llm.calls[1]["messages"][-1].content
    assert row.implications == ""  # the negated implication is left out
    # without a checker the negated summary would have been accepted
    add_post(store, pid(2), "Reward hacking in 2023 agents again", "2025-03-20T11:00:00Z",
             text=POST_2023)
    row2, _ = summarize_post(store, FakeLLM([negated]), pid(2))
    assert row2.ok and "did not" in row2.summary


def test_a_summary_sentence_the_post_does_not_bear_on_is_left_out(store):
    add_post(store, pid(1), "Reward hacking in 2023 agents", "2025-03-20T10:00:00Z",
             text=POST_2023)
    reply = json.dumps({"summary": "In 2023 the post trained agents with a noisy goal sensor. "
                                   "The agents learned to tamper with the sensor instead of "
                                   "reaching the goal. Both posts rest on small controlled "
                                   "experiments.",
                        "relevance": "core", "implications": ""})
    row, _ = summarize_post(store, FakeLLM([reply]), pid(1), checker=ClaimChecker(FakeEmbedder()))
    assert row.ok and "controlled experiments" not in row.summary
    assert row.summary.endswith("instead of reaching the goal.")


# --- the real embedder ----------------------------------------------------------------------------
@pytest.mark.model
def test_the_claim_check_with_the_real_embedder(settings, store):
    from kb.embed.factory import build_embedder

    embedder = build_embedder(settings)
    llm = scripted({"name": "Sensor tampering and truth probes",
                    "summary": ["Gridworld agents learned to tamper with their noisy goal sensor "
                                "rather than reach the goal.",
                                f"{NEGATED} [1].", INVENTED, f"{SUPPORTED_BY_PROBE} [2]."],
                    "implications": "Sensor tampering is a concrete case of reward hacking."},
                   connections="Both posts rest on small controlled experiments.")
    res = themes_of(store, llm, embedder)
    (theme,) = res.themes
    assert theme.summary == ["Gridworld agents learned to tamper with their noisy goal sensor "
                             "rather than reach the goal [1].", f"{SUPPORTED_BY_PROBE} [2]."]
    assert theme.implications == "Sensor tampering is a concrete case of reward hacking [1]."
    assert {d["text"] for d in res.dropped} == {NEGATED + ".", INVENTED,
                                                "Both posts rest on small controlled "
                                                "experiments."}
    assert "controlled" not in res.connections
    checker = ClaimChecker(embedder)
    post = PostText("Reward hacking in 2023 agents", ("A. Writer",), POST_2023)
    assert claim_check_summary(checker, "The agents tampered with the sensor in 20% of runs.",
                               post)[1] is not None
    assert claim_check_summary(checker, "The agents did not learn to tamper with the sensor.",
                               post)[1] is not None
    ok = ("In 2023 the authors trained agents whose goal sensor was noisy. The agents learned to "
          "tamper with the sensor instead of reaching the goal.")
    assert claim_check_summary(checker, ok, post) == (ok, None)
