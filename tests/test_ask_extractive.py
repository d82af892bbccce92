"""`kb ask` without a chat model: quoted sentences of the retrieved passages, each with its
[n], grouped by post (digest.ask_extractive)."""

from __future__ import annotations

import re
from typing import Any

from test_ask import Retriever, WordEmbedder

from digest.ask import ask
from digest.conversations import last_exchange
from kb.index.fake import FakeIndex
from kb.search_types import SearchHit

PASSAGES = [
    ("Reward hacking in RL agents",
     "Reward hacking happens when an agent exploits a flaw in the reward function. "
     "A boat in a racing game circled forever to collect points instead of finishing. "
     "Designers can reduce reward hacking by testing the reward function adversarially."),
    ("Sparse autoencoders find features",
     "Sparse autoencoders trained on model activations recover interpretable features. "
     "One feature fires on base64 text and another on DNA sequences."),
    ("More on reward hacking",
     "# Reward hacking\n\nReward hacking is common in agents trained with a learned reward "
     "model.\n\n> A quote from someone else about reward hacking and flaws.\n\n"
     "Subscribe for more posts on reward hacking."),
]


def hits() -> list[SearchHit]:
    return [SearchHit(post_id=f"post{i + 1:014d}", title=t, url=f"https://example.org/p/{i + 1}",
                      published=f"2024-0{i + 1}-15T10:00:00Z", score=1.0 / (i + 1), text=p,
                      start=0, end=len(p), authors=[f"Author {i + 1}"], version=1,
                      chunk_id=f"c{i}")
            for i, (t, p) in enumerate(PASSAGES)]


def run(store: Any, question: str, **kw: Any):
    emb = WordEmbedder()
    return ask(store, None, emb, FakeIndex(emb.model_id, emb.dim), question,
               search=Retriever(hits()), **kw)


def test_the_answer_quotes_the_best_sentences_with_citations_grouped_by_post(store):
    a = run(store, "What is reward hacking and how does an agent exploit the reward function?")
    assert not a.abstained and a.extractive
    assert a.model_id == "extractive:fake-bow-512" and a.to_json()["extractive"] is True
    paras = a.answer.split("\n\n")
    assert len(paras) >= 2  # one paragraph per post
    assert "[1]" in paras[0] and "[3]" in a.answer and "[2]" not in a.answer
    for para in paras:  # one post per paragraph: a single source number in it
        assert len(set(re.findall(r"\[(\d+)\]", para))) == 1
    for sent in re.split(r"(?<=[.!?])\s+", a.answer.replace("\n\n", " ")):
        n = int(re.search(r"\[(\d+)\]", sent).group(1))  # type: ignore[union-attr]
        quoted = re.sub(r"\s*\[\d+\]", "", sent)
        assert quoted in PASSAGES[n - 1][1]  # every sentence is the source's own
    assert "quote from someone else" not in a.answer and "Subscribe" not in a.answer
    assert {c.n for c in a.citations} == {1, 3}
    assert all(c.supported and c.verdict == "supported" for c in a.citations)
    stored = last_exchange(store)
    assert stored is not None and stored.answer == a.answer


def test_sentences_keep_their_order_within_a_post(store):
    a = run(store, "reward hacking reward function agent boat points testing adversarially")
    first = a.answer.split("\n\n")[0]
    sents = [re.sub(r"\s*\[\d+\]", "", s) for s in re.split(r"(?<=[.!?])\s+", first)]
    text = PASSAGES[0][1]
    assert [text.index(s) for s in sents] == sorted(text.index(s) for s in sents)


def test_a_question_no_sentence_answers_abstains(store):
    a = run(store, "What is the capital of Mongolia in the thirteenth century?")
    assert a.abstained and a.extractive and a.citations == []
    assert "does not answer" in a.answer


def test_kb_ask_without_a_chat_model_prints_the_extractive_answer(monkeypatch):
    import json as _json

    from click.testing import CliRunner

    from digest import ask as ask_mod
    from kb.cli import cli

    monkeypatch.setattr(ask_mod, "hybrid_search", Retriever(hits()))
    monkeypatch.setattr("kb.embed.factory.build_embedder", lambda settings: WordEmbedder())
    monkeypatch.setattr("kb.models.factory.build_llm",
                        lambda settings: (None, "Ollama is not available (test)"))
    q = "What is reward hacking and how does an agent exploit the reward function?"
    r = CliRunner().invoke(cli, ["ask", q])
    assert r.exit_code == 0, r.output
    assert "Ollama is not available (test)" in r.output
    assert "Reward hacking happens when an agent exploits a flaw in the reward function [1]." \
        in r.output
    assert "Sources:" in r.output and "Reward hacking in RL agents" in r.output
    r = CliRunner().invoke(cli, ["ask", q, "--json"])
    data = _json.loads(r.output[r.output.index("{"):])
    assert data["extractive"] is True and data["model"].startswith("extractive:")
    assert not data["abstained"] and {c["n"] for c in data["citations"]} == {1, 3}
