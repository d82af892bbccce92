"""Extractive summaries in the store: without a chat model, as the fallback of a failed model
summary, and sentence by sentence after a failed claim check."""

from __future__ import annotations

import json

import pytest
from digest_fakes import add_post, fake_llm, pid

from digest.claimcheck import ClaimChecker
from digest.extractive_store import EXTRACTIVE_VERSION, extractive_model_id
from digest.repo import list_summaries
from digest.summarize import cached_summary, summarize_posts
from kb.embed.fake import FakeEmbedder
from kb.models.base import LLMError
from kb.models.fake import FakeLLM

DAY = "2025-03-20T10:00:00Z"
BODY = ("Trusted monitoring is the main defence against a scheming model in deployment. "
        "In this post I argue that monitors fail mostly because attacks are rare. "
        "A monitor tuned on ordinary traffic sees almost no attacks to learn from. "
        "This suggests that labs should red-team their monitors with synthetic attacks. "
        "We find that a monitor trained on synthetic attacks catches most real ones. "
        "The cost of auditing flagged actions stays small in every setting we tried.")


def test_without_a_chat_model_every_post_gets_a_cached_extractive_summary(store):
    add_post(store, pid(1), "Why monitors fail", DAY, text=BODY)
    add_post(store, pid(2), "Link only", DAY, text="[a link](https://example.org/x)")
    emb = FakeEmbedder()
    shown: dict[str, str] = {}
    report = summarize_posts(store, None, [pid(1), pid(2)], embedder=emb,
                             on_done=lambda p, row: shown.__setitem__(p, row.summary))
    assert (report.made, report.cached, report.extractive, report.calls) == (2, 0, 2, 0)
    row = cached_summary(store, pid(1), extractive_model_id(emb))
    assert row is not None and row.ok and row.model_id == "extractive:fake-bow-64"
    assert row.method == "extractive" and row.prompt_version == EXTRACTIVE_VERSION
    assert row.relevance in ("core", "related") and shown[pid(1)] == row.summary
    assert all(s.strip() in BODY for s in row.summary.split(". ") if s)
    assert row.implications == ("This suggests that labs should red-team their monitors "
                                "with synthetic attacks.") or row.implications == ""
    link = cached_summary(store, pid(2), extractive_model_id(emb))
    assert link is not None and link.method == "extractive-short"
    assert "little or no text" in link.summary
    calls = emb.calls
    again = summarize_posts(store, None, [pid(1), pid(2)], embedder=emb)
    assert (again.made, again.cached) == (0, 2) and emb.calls == calls  # nothing embedded


def test_a_failed_model_summary_shows_the_extractive_one(store):
    add_post(store, pid(1), "Monitors crash", DAY, text=BODY)
    add_post(store, pid(2), "Reward models", DAY, text=BODY.replace("monitor", "reward model"))
    llm = fake_llm(fail_titles=("Monitors crash",))
    shown = {}
    report = summarize_posts(store, llm, [pid(1), pid(2)], embedder=FakeEmbedder(),
                             on_done=lambda p, row: shown.__setitem__(p, row))
    assert (report.pending, report.extractive) == (1, 1)
    assert shown[pid(1)].model_id.startswith("extractive:") and shown[pid(1)].ok
    assert shown[pid(2)].model_id == llm.model_id
    # what the digest reads: the model's summary when good, else the extractive one
    row = cached_summary(store, pid(1), llm.model_id)
    assert row is not None and row.ok and row.method == "extractive"
    assert cached_summary(store, pid(2), llm.model_id).model_id == llm.model_id  # type: ignore[union-attr]
    assert any(not r.ok for r in list_summaries(store, pid(1)))  # the model's try is recorded


def test_a_sentence_that_fails_falls_back_to_the_post_sentence_it_came_from(store):
    add_post(store, pid(1), "Why monitors fail", DAY, text=BODY)
    bad = json.dumps({
        "summary": ("Monitors fail mostly because attacks are rare, the post argues. "
                    "Monitors trained on synthetic attacks catch 97% of real ones in OpenAI's "
                    "production systems. The cost of auditing stays small, and it's."),
        "relevance": "core", "implications": ""})
    llm = FakeLLM([bad])
    report = summarize_posts(store, llm, [pid(1)], checker=ClaimChecker(FakeEmbedder()))
    assert report.made == 1, report.failures
    row = cached_summary(store, pid(1), llm.model_id)
    assert row is not None and row.model_id == llm.model_id
    assert row.method.endswith("+extractive")
    assert "97%" not in row.summary and "and it's" not in row.summary
    assert "Monitors fail mostly because attacks are rare" in row.summary  # the model's own
    # the invented and the cut-off sentences became the post's own sentences
    assert sum(s in row.summary for s in BODY.split(". ")) >= 1


@pytest.mark.model
def test_relevance_without_a_chat_model_comes_from_the_embedder(store, settings):
    from kb.embed.factory import build_embedder

    add_post(store, pid(1), "Bread", DAY, text="Knead the dough for ten minutes until it is "
             "smooth. Let it rise overnight in a cool kitchen. Bake it at high heat for forty "
             "minutes. Cool the loaf on a rack before slicing it.")
    add_post(store, pid(2), "Why monitors fail", DAY, text=BODY)
    emb = build_embedder(settings)
    summarize_posts(store, None, [pid(1), pid(2)], embedder=emb)
    row = cached_summary(store, pid(1), extractive_model_id(emb))
    assert row is not None and row.relevance == "off-topic"
    row = cached_summary(store, pid(2), extractive_model_id(emb))
    assert row is not None and row.relevance in ("core", "related")


def test_model_errors_never_leave_a_post_without_a_summary(store):
    add_post(store, pid(1), "Why monitors fail", DAY, text=BODY)

    def down(_messages):
        raise LLMError("the model crashed")

    report = summarize_posts(store, FakeLLM(down), [pid(1)], embedder=FakeEmbedder())
    assert report.pending == 1 and report.extractive == 1
    row = cached_summary(store, pid(1), "fake@fake")
    assert row is not None and row.ok and row.model_id.startswith("extractive:")


def test_a_long_post_is_rewritten_from_its_key_sentences_in_one_call(store):
    from digest_fakes import data_of, good_summary, kind_of

    paras = [f"Section {i} of the report measures how monitor number {i} handles rare "
             f"attacks across many deployment settings." for i in range(300)]
    paras[1] = "This suggests that labs should red-team every monitor with synthetic attacks."
    add_post(store, pid(1), "A very long report", DAY, text="\n\n".join(paras))
    llm = FakeLLM(lambda m: good_summary("A very long report", False), context_window=1500)
    report = summarize_posts(store, llm, [pid(1)], embedder=FakeEmbedder())
    assert report.made == 1 and report.calls == 1  # no map-reduce over parts
    assert [kind_of(c["messages"]) for c in llm.calls] == ["summary"]
    shown = data_of(llm.calls[0]["messages"])
    assert "Section 0 of the report" in shown and "red-team every monitor" in shown
    assert "Section 250 of" not in shown or shown.count("Section") <= 8
    row = cached_summary(store, pid(1), llm.model_id)
    assert row is not None and row.method == "key-sentences+json"
