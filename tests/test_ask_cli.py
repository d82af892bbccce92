"""`kb ask` on the command line, with a scripted retriever, fake LLM and word embedder."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_ask import Retriever, WordEmbedder, hits

from digest import ask as ask_mod
from kb.cli import cli
from kb.models.fake import FakeLLM

Q = "What is reward hacking in RL agents?"


@pytest.fixture
def wired(monkeypatch):
    """Point `kb ask` at a scripted retriever, the word embedder and a given reply."""
    retriever = Retriever(hits())
    monkeypatch.setattr(ask_mod, "hybrid_search", retriever)
    monkeypatch.setattr("kb.embed.factory.build_embedder", lambda settings: WordEmbedder())

    def with_reply(*replies: str) -> Retriever:
        llm = FakeLLM(list(replies))
        monkeypatch.setattr("kb.models.factory.build_llm", lambda settings: (llm, None))
        return retriever

    return with_reply


REPLY = ("Reward hacking is when an agent exploits a flaw in the reward function [1]. "
         "In debate two models argue opposite sides and a human judge picks the winner [4]. "
         "A corrigible agent does not resist shutdown [3]. "  # related to [3]: weak
         "Reward hacking was first seen in boats collecting points [2]. "  # not [2]: dropped
         "Sparse autoencoders recover features from model activations. "  # uncited: [2] added
         "Bogus [7].")


def test_streams_the_draft_then_the_checked_answer_and_its_sources(wired):
    wired(REPLY)
    r = CliRunner().invoke(cli, ["ask", Q])
    assert r.exit_code == 0, r.output
    out = r.output
    draft, rest = out.split("Checked answer (", 1)
    assert draft.strip() == REPLY  # the model's draft, streamed as written
    head, checked = rest.split("):\n", 1)
    assert head == ("1 sentence no source supports dropped; 1 uncited sentence given the "
                    "source that supports it")
    answer = checked.split("\n")[0]
    assert answer == (
        "Reward hacking is when an agent exploits a flaw in the reward function [1]. "
        "In debate two models argue opposite sides and a human judge picks the winner [4]. "
        "A corrigible agent does not resist shutdown [3]. "
        "Sparse autoencoders recover features from model activations [2]. Bogus.")
    assert "boats" not in checked
    assert "(1 sentence only weakly supported" in checked
    assert "removed citation [7]" in checked
    sources = checked.split("Sources:")[1]
    assert "[1] Reward hacking in RL agents — Author 1 — 2024-01-15 — https://example.org/p/1" \
        in sources
    lines = sources.splitlines()
    assert [x[:3] for x in lines if x.startswith("[")] == ["[1]", "[4]", "[3]", "[2]"]

    def location(n: int) -> str:
        return lines[lines.index(next(x for x in lines if x.startswith(f"[{n}]"))) + 1]

    assert "passage: chars 0–" in location(1) and "of version 1" in location(1)
    assert "weak" not in location(1) and "weak" not in location(2)
    assert "weak" in location(3)


def test_a_checked_answer_equal_to_the_draft_is_printed_once(wired):
    reply = "Reward hacking is when an agent exploits a flaw in the reward function [1]."
    wired(reply)
    r = CliRunner().invoke(cli, ["ask", Q])
    assert r.exit_code == 0, r.output
    assert r.output.count(reply) == 1 and "Checked answer" not in r.output
    assert r.output.startswith(reply)


def test_no_stream_prints_only_the_checked_answer(wired):
    wired(REPLY)
    r = CliRunner().invoke(cli, ["ask", Q, "--no-stream"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Reward hacking is when") and "boats" not in r.output
    assert "Checked answer" not in r.output


def test_json_lists_every_sentence_with_its_verdict(wired):
    wired(REPLY)
    r = CliRunner().invoke(cli, ["ask", Q, "--json"])
    data = json.loads(r.output)
    claims = [(c["verdict"], c["kept"], c["citation_added"]) for c in data["claims"]]
    assert claims == [("supported", True, False), ("supported", True, False),
                      ("weak", True, False), ("unsupported", False, False),
                      ("supported", True, True), (None, True, False)]
    assert [(c["n"], c["verdict"]) for c in data["citations"]] == [
        (1, "supported"), (4, "supported"), (3, "weak"), (2, "supported")]


def test_json_output_and_filters(wired):
    retriever = wired("Reward hacking exploits a flaw in the reward function [1].")
    r = CliRunner().invoke(cli, ["ask", Q, "--json", "--since", "2024-01-01", "--author", "Au",
                                 "--k", "4"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["abstained"] is False and [c["n"] for c in data["citations"]] == [1]
    assert set(data["citations"][0]) >= {"n", "post_id", "title", "url", "supported", "start",
                                         "end"}
    assert len(data["retrieved"]) == 4
    call = retriever.calls[0]
    assert call["k"] == 4 and call["filters"].since == "2024-01-01"
    assert call["filters"].author == "Au"


def test_abstention_lists_the_nearest_posts(wired):
    wired("I don't know.")
    r = CliRunner().invoke(cli, ["ask", Q, "--no-stream"])
    assert r.exit_code == 0, r.output
    assert "The archive does not answer this" in r.output
    assert "Nearest posts:" in r.output and "https://example.org/p/1" in r.output
    assert "Sources:" not in r.output


def test_fallback_notice_goes_to_stderr_and_model_errors_are_one_clear_line(wired, monkeypatch):
    wired("Reward hacking exploits a flaw in the reward function [1].")
    monkeypatch.setattr("kb.models.factory.build_llm",
                        lambda s: (FakeLLM(["Reward hacking exploits a flaw in the reward "
                                            "function [1]."]), "quality is limited (test)"))
    r = CliRunner().invoke(cli, ["ask", Q, "--no-stream"])
    assert r.exit_code == 0 and "quality is limited (test)" in r.output

    from kb.models.base import ModelUnavailable

    def down(settings):
        raise ModelUnavailable("Ollama is not running at http://127.0.0.1:1; start it")

    monkeypatch.setattr("kb.models.factory.build_llm", down)
    r = CliRunner().invoke(cli, ["ask", Q])
    assert r.exit_code == 1 and "Ollama is not running" in r.output


def test_empty_archive_abstains_plainly(monkeypatch):
    monkeypatch.setattr("kb.models.factory.build_llm", lambda s: (FakeLLM(["x [1]"]), None))
    monkeypatch.setattr("kb.embed.factory.build_embedder", lambda settings: WordEmbedder())
    r = CliRunner().invoke(cli, ["ask", Q, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["abstained"] is True and data["retrieved"] == [] and data["citations"] == []


def test_bad_date_is_a_usage_error(wired):
    wired("x")
    r = CliRunner().invoke(cli, ["ask", Q, "--since", "last week"])
    assert r.exit_code == 2 and "--since" in r.output


def test_continue_rewrites_using_the_stored_exchange(wired):
    wired("Reward hacking exploits a flaw in the reward function [1].")
    assert CliRunner().invoke(cli, ["ask", Q, "--no-stream"]).exit_code == 0
    retriever = wired("How do RL agents exploit a flaw in the reward function?",
                      "They exploit a flaw in the reward function [1].")
    r = CliRunner().invoke(cli, ["ask", "--continue", "--json", "how", "do", "they?"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["standalone_question"] == "How do RL agents exploit a flaw in the reward function?"
    assert retriever.calls[-1]["query"] == data["standalone_question"]
