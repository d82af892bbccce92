"""Links a model writes never reach the reader: digest.links, then `kb ask` (CLI and JSON).

The TUI side (the rendered answer has no link) is in tests/tui/test_tui_ask.py."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_ask import Retriever, WordEmbedder, hits

from digest import ask as ask_mod
from digest.links import StreamFilter, strip_links
from kb.cli import cli
from kb.models.fake import FakeLLM

EVIL = "evil.example"


@pytest.mark.parametrize(("text", "kept"), [
    ("See [the post](https://evil.example/x) for more [1].", "See the post for more [1]."),
    ("Look ![a diagram](http://evil.example/i.png) here [2].", "Look a diagram here [2]."),
    ("Angle [words](<https://evil.example/a path>) end.", "Angle words end."),
    ("Wiki [page](https://evil.example/wiki/Foo_(bar)) end.", "Wiki page end."),
    ("Autolink <https://evil.example/auto> ok.", "Autolink ok."),
    ("Mail <mailto:bob@evil.example> or <bob@evil.example> or bob@evil.example.",
     "Mail or or."),
    ("Bare https://evil.example/p?q=1&x=2. Next.", "Bare. Next."),
    ("Also www.evil.example/path, done.", "Also, done."),
    ("Copy arxiv.org/abs/2401.01234 or evil.com now.", "Copy or now."),
    ('HTML <a href="https://evil.example/a">anchor words</a> [3].', "HTML anchor words [3]."),
    ("<img src='https://evil.example/t.gif'>Tracked.", "Tracked."),
    ("Run javascript:alert(1) now.", "Run now."),
])
def test_every_form_of_link_loses_its_target_and_keeps_its_words(text, kept):
    out, removed = strip_links(text)
    assert out == kept
    assert removed and all(r and r in text for r in removed)
    assert EVIL not in out and "http" not in out and "evil.com" not in out


def test_reference_links_and_their_definitions():
    text = "A [reference link][ref] and [another][].\n\n[ref]: https://evil.example/r \"t\"\n" \
           "[another]: <https://evil.example/another>"
    out, removed = strip_links(text)
    assert out == "A reference link and another."
    assert len(removed) == 2 and EVIL not in out


def test_a_definition_cannot_turn_citation_markers_into_links():
    out, removed = strip_links("Reward hacking is common [1].\n\n[1]: https://evil.example/one")
    assert out == "Reward hacking is common [1]." and removed == [
        "[1]: https://evil.example/one"]


@pytest.mark.parametrize("text", [
    "Cited [1] and [2, 5] and [3][4].",
    "Numbers 3.5% and GPT-4.5, e.g. Node.js, a.b and i.e. stay.",
    "- a bullet [1]\n- another [2]\n\n1. numbered",
    "Brackets [like this] and (parentheses) stay.",
])
def test_text_without_links_is_unchanged(text):
    assert strip_links(text) == (text, [])


def test_a_marker_written_as_a_link_stays_a_marker():
    assert strip_links("As shown [2](https://evil.example/2).") == (
        "As shown [2].", ["[2](https://evil.example/2)"])


def test_layout_survives_link_removal():
    out, _ = strip_links("Intro:\n\n- one https://evil.example/1 [1]\n- two [2]\n")
    assert out == "Intro:\n\n- one [1]\n- two [2]"


def _stream(pieces: list[str]) -> str:
    f = StreamFilter()
    return "".join(f.feed(p) for p in pieces) + f.flush()


@pytest.mark.parametrize("pieces", [
    ["See https://ev", "il.example/x", "yz for more [1", "]. Next."],
    ["A [li", "nk](http", "s://evil.example/q) done. ", "More text."],
    ["<a hr", 'ef="https://evil.example/a">wo', "rds</a> then. End"],
    ["Intro\n[ref]: htt", "ps://evil.example/def\nafter"],
    ["w", "w", "w", ".", "evil", ".example/p and more. "],
])
def test_a_link_split_across_stream_pieces_is_still_removed(pieces):
    out = _stream(pieces)
    assert EVIL not in out and "http" not in out


def test_stream_keeps_plain_text_and_its_spacing_exactly():
    text = "Reward hacking exploits a flaw [1]. Debate helps judges [4].\n\n- a bullet\n"
    pieces = [text[i:i + 3] for i in range(0, len(text), 3)]
    assert _stream(pieces) == text


def test_stream_emits_text_as_sentences_end_not_only_at_the_end():
    f = StreamFilter()
    assert f.feed("First sentence. Sec") == "First sentence. "
    assert f.feed("ond") == ""
    assert f.flush() == "Second"


# --- `kb ask`: the CLI and its JSON ----------------------------------------------------------
Q = "What is reward hacking in RL agents?"
REPLY = ("Reward hacking is when an agent exploits a flaw in the reward function "
         "[1](https://evil.example/fake-post). In [debate](http://evil.example/page) two "
         "models argue opposite sides and a human judge picks the winner [4]. Read more at "
         "https://evil.example/more [1].")


@pytest.fixture
def wired(monkeypatch):
    monkeypatch.setattr(ask_mod, "hybrid_search", Retriever(hits()))
    monkeypatch.setattr("kb.embed.factory.build_embedder", lambda settings: WordEmbedder())

    def with_reply(reply: str) -> None:
        monkeypatch.setattr("kb.models.factory.build_llm",
                            lambda settings: (FakeLLM([reply]), None))

    return with_reply


@pytest.mark.parametrize("flags", [[], ["--no-stream"]])
def test_model_links_never_reach_the_terminal(wired, flags):
    wired(REPLY)
    r = CliRunner().invoke(cli, ["ask", Q, *flags])
    assert r.exit_code == 0, r.output
    assert EVIL not in r.output
    assert "https://example.org/p/1" in r.output.split("Sources:")[1]  # the store's link
    assert "Reward hacking is when an agent exploits a flaw" in r.output


def test_model_links_never_reach_the_json_and_are_listed_as_removed(wired):
    wired(REPLY)
    r = CliRunner().invoke(cli, ["ask", Q, "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    removed = data.pop("removed_links")
    assert sorted(removed) == sorted(["[1](https://evil.example/fake-post)",
                                      "https://evil.example/more",
                                      "[debate](http://evil.example/page)"])
    assert EVIL not in json.dumps(data)
    assert [c["url"] for c in data["citations"]] == ["https://example.org/p/1",
                                                     "https://example.org/p/4"]
    assert "In debate two models argue" in data["answer"]


def test_links_are_removed_even_when_kb_abstains(wired):
    wired("See https://evil.example/answer for the answer.")
    r = CliRunner().invoke(cli, ["ask", Q, "--json"])
    data = json.loads(r.output)
    assert data["abstained"] is True
    assert data["removed_links"] == ["https://evil.example/answer"]
    assert EVIL not in json.dumps({k: v for k, v in data.items() if k != "removed_links"})
    r = CliRunner().invoke(cli, ["ask", Q])
    assert EVIL not in r.output
