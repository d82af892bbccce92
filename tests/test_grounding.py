"""Summaries must be about their post: invented names, acronyms and numbers are refused, and
what a small model copies from the prompt ("} Title: … Authors: …") is cut."""

from __future__ import annotations

import json

import pytest
from digest_fakes import add_post, pid

from digest.grounding import grounding_problem, unsupported_terms
from digest.summarize import summarize_post
from digest.text import plain, sentences, strip_data_echo
from kb.models.fake import FakeLLM

SOURCE = ("We trained sparse autoencoders (SAEs) on GPT-4 activations at OpenAI and Anthropic. "
          "About a third of the features changed; 12 of them were safety-relevant. Paul "
          "Christiano commented on the draft.")


@pytest.mark.parametrize(("summary", "expected"), [
    ("The AI Governance and AI Policy Project (AGAP) has published a paper.",
     ["AGAP", "Governance", "Policy", "Project"]),
    ("The authors found that 33% of features changed.", ["33%"]),
    ("Researchers at DeepMind trained SAEs.", ["DeepMind"]),
    ("In the post, Bob Smith argues that features drift.", ["Bob", "Smith"]),
])
def test_invented_specifics_are_named(summary, expected):
    assert unsupported_terms(summary, SOURCE) == expected
    assert grounding_problem(summary, SOURCE) is not None


@pytest.mark.parametrize("summary", [
    "Researchers at OpenAI and Anthropic's team trained SAEs on GPT-4 and other LLMs.",
    "Twelve features were safety-relevant, and Christiano commented on the draft.",
    "About a third of the features changed, twelve of them in ways that matter for AI safety.",
    "The post reports 12 safety-relevant features. However, The results are preliminary.",
    "Sparse autoencoders drift. This matters for audits of deployed models.",
])
def test_faithful_paraphrase_passes(summary):
    assert unsupported_terms(summary, SOURCE) == [], summary


def test_on_the_corpus_a_posts_own_lead_passes_and_another_posts_lead_mostly_fails(corpus):
    """Calibration on real posts: the check never refuses text taken from the post itself
    and catches most summaries of a different post (those that name anything specific)."""
    from bench.lw_sample import load_lw_posts, sample

    posts = sample(load_lw_posts(corpus), 120)

    def lead(p):  # type: ignore[no-untyped-def]
        return " ".join(sentences(plain(p.text, max_chars=3000))[:3])

    def src(p):  # type: ignore[no-untyped-def]
        return "\n".join([p.title, *p.authors, p.text])

    own = [p.title for p in posts if unsupported_terms(lead(p), src(p))]
    assert own == []
    swapped = sum(1 for a, b in zip(posts, posts[1:] + posts[:1], strict=True)
                  if unsupported_terms(lead(a), src(b)))
    assert swapped >= 0.5 * len(posts)


@pytest.mark.parametrize(("raw", "expected"), [
    ("} Title: Features drift Authors: Lena Fischer We trained SAEs.", "We trained SAEs."),
    (', "Title: “Features drift” Author: Lena Fischer, Bo Chen. It finds X.', "It finds X."),
    ("By Lena Fischer and Bo Chen, the post argues X.", "the post argues X."),
    ("Titles matter in the post.", "Titles matter in the post."),
    ("By design, models drift.", "By design, models drift."),
])
def test_prompt_echo_is_cut(raw, expected):
    assert strip_data_echo(raw, "Features drift", ["Lena Fischer", "Bo Chen"]) == expected


TEXT = ("We fine-tuned a small model and compared sparse autoencoder features before and after. "
        "About a third of the matched features changed their top activations. ") * 4


def test_an_invented_summary_is_retried_with_the_reason_and_never_stored(store):
    add_post(store, pid(1), "Features drift across fine-tuning", "2025-03-20T10:00:00Z", text=TEXT)
    invented = json.dumps({"summary": "The Global Policy Institute (GPI) published a report on "
                           "compute. It argues for new rules. It proposes audits.",
                           "relevance": "core", "implications": ""})
    grounded = json.dumps({"summary": "} Title: Features drift across fine-tuning. The authors "
                           "fine-tuned a small model. About a third of matched sparse "
                           "autoencoder features changed.", "relevance": "core",
                           "implications": "Audits may need re-validation after fine-tuning."})
    llm = FakeLLM([invented, grounded])
    row, _ = summarize_post(store, llm, pid(1))
    assert row.ok and row.method == "json-retry"
    assert row.summary.startswith("The authors fine-tuned") and "GPI" not in row.summary
    retry = llm.calls[1]["messages"][-1].content
    assert "does not mention" in retry and "GPI" in retry


def test_a_model_that_keeps_inventing_leaves_the_post_pending(store):
    add_post(store, pid(1), "Features drift across fine-tuning", "2025-03-20T10:00:00Z", text=TEXT)
    invented = json.dumps({"summary": "Dr. Alice Zhang at Stanford University shows that "
                           "features drift. She uses a new benchmark. It is promising.",
                           "relevance": "core", "implications": ""})
    row, _ = summarize_post(store, FakeLLM(lambda _m: invented), pid(1))
    assert row.status == "pending" and row.summary == ""
    assert "does not mention" in (row.error or "")


def test_a_cut_off_last_sentence_is_dropped(store):
    add_post(store, pid(1), "Features drift across fine-tuning", "2025-03-20T10:00:00Z", text=TEXT)
    reply = json.dumps({"summary": "The authors fine-tuned a small model. About a third of the "
                        "matched features changed their top activations. It.",
                        "relevance": "related", "implications": ""})
    row, _ = summarize_post(store, FakeLLM([reply]), pid(1))
    assert row.ok and row.summary.endswith("top activations.")
