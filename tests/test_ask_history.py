"""Past `kb ask` exchanges: list_exchanges/get_exchange (shared with the TUI) and
`kb ask --history` / `kb ask --show N`."""

from __future__ import annotations

import json

from click.testing import CliRunner

from digest.conversations import get_exchange, list_exchanges, save_exchange
from kb.cli import cli


def _save(store, question: str, answer: str, *, model: str = "m1", abstained: bool = False,
          citations=None, parent: int | None = None) -> int:
    return save_exchange(store, question=question, standalone=question, answer=answer,
                         abstained=abstained, citations=citations or [], model_id=model,
                         parent_id=parent)


def test_list_exchanges_is_newest_first_and_limited(store):
    ids = [_save(store, f"question {i}", f"answer {i}\nmore") for i in range(5)]
    got = list_exchanges(store)
    assert [e.id for e in got] == ids[::-1]
    assert [e.question for e in list_exchanges(store, limit=2)] == ["question 4", "question 3"]
    assert len(list_exchanges(store, limit=0)) == 5
    assert got[0].summary == "answer 4"


def test_get_exchange_returns_the_stored_fields_or_none(store):
    cites = [{"n": 1, "title": "A post", "url": "https://example.org/a"}]
    first = _save(store, "what is x?", "x is y [1].", citations=cites, model="qwen")
    second = _save(store, "and z?", "Not covered.", abstained=True, parent=first)
    ex = get_exchange(store, second)
    assert ex is not None and ex.abstained and ex.parent_id == first
    one = get_exchange(store, first)
    assert one is not None and one.citations == cites and one.model_id == "qwen"
    assert get_exchange(store, second + 100) is None


def test_empty_history(store):
    assert list_exchanges(store) == []


# --- kb ask --history / --show N ----------------------------------------------------------
CITES = [{"n": 1, "post_id": "p1", "title": "Reward hacking in RL agents",
          "url": "https://example.org/p/1", "supported": True, "start": 10, "end": 90,
          "authors": ["Author One"], "published": "2024-01-15T10:00:00Z", "version": 2},
         {"n": 2, "post_id": "p2", "title": "Weak one", "url": "https://example.org/p/2",
          "supported": False, "start": 0, "end": 5, "authors": [], "published": None,
          "version": 1}]


def _seed(store) -> tuple[int, int]:
    first = _save(store, "What is reward hacking?",
                  "Reward hacking exploits a flaw in the reward [1].\nMore detail [2].",
                  model="qwen2.5:7b-instruct", citations=CITES)
    second = _save(store, "and \x1b[31mwho\x1b[0m coined it?", "The archive does not say.",
                   model="smollm2", abstained=True, parent=first)
    return first, second


def test_history_lists_newest_first_with_first_lines(store):
    first, second = _seed(store)
    r = CliRunner().invoke(cli, ["ask", "--history"])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.index(f"#{second} ") < out.index(f"#{first} ")
    assert "  Q: What is reward hacking?\n" in out
    assert "  A: Reward hacking exploits a flaw in the reward [1].\n" in out
    assert "A: (abstained) The archive does not say." in out
    assert "More detail" not in out  # only the first line of the answer
    assert "\x1b[31m" not in out and "\\x1b" in out  # a stored escape code cannot act
    assert "qwen2.5:7b-instruct" in out and "2 exchanges" in out


def test_history_json_fields(store):
    first, second = _seed(store)
    r = CliRunner().invoke(cli, ["ask", "--history", "--json"])
    data = json.loads(r.stdout)
    assert [d["id"] for d in data] == [second, first]
    assert data[1] == {"id": first, "asked_at": data[1]["asked_at"],
                       "question": "What is reward hacking?",
                       "first_line": "Reward hacking exploits a flaw in the reward [1].",
                       "abstained": False, "model": "qwen2.5:7b-instruct", "parent_id": None}
    assert data[0]["abstained"] is True and data[0]["parent_id"] == first
    limited = json.loads(CliRunner().invoke(cli, ["ask", "--history", "--json", "--limit",
                                                  "1"]).stdout)
    assert [d["id"] for d in limited] == [second]


def test_history_when_empty():
    r = CliRunner().invoke(cli, ["ask", "--history"])
    assert r.exit_code == 0 and "no questions asked yet" in r.stdout
    assert json.loads(CliRunner().invoke(cli, ["ask", "--history", "--json"]).stdout) == []


def test_show_prints_answer_and_stored_citations(store):
    first, second = _seed(store)
    r = CliRunner().invoke(cli, ["ask", "--show", str(first)])
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert "Q: What is reward hacking?" in out
    assert "Reward hacking exploits a flaw in the reward [1].\nMore detail [2]." in out
    assert ("[1] Reward hacking in RL agents — Author One — 2024-01-15 — "
            "https://example.org/p/1") in out
    assert "passage: chars 10–90 of version 2" in out
    assert "[2] Weak one — unknown author — undated" in out and "(weak:" in out
    follow = CliRunner().invoke(cli, ["ask", "--show", str(second)]).stdout
    assert f"(a follow-up to #{first})" in follow and "Sources:" not in follow
    data = json.loads(CliRunner().invoke(cli, ["ask", "--show", str(first), "--json"]).stdout)
    assert data["citations"] == CITES and data["model"] == "qwen2.5:7b-instruct"
    assert data["answer"].endswith("More detail [2].") and data["id"] == first


def test_show_unknown_exchange_is_a_clear_error(store):
    _seed(store)
    r = CliRunner().invoke(cli, ["ask", "--show", "999"])
    assert r.exit_code == 1
    assert "no exchange #999" in r.stderr and "kb ask --history" in r.stderr and not r.stdout


def test_history_and_show_take_no_question():
    r = CliRunner().invoke(cli, ["ask", "--history", "what?"])
    assert r.exit_code == 2 and "take no question" in r.stderr
    r = CliRunner().invoke(cli, ["ask"])
    assert r.exit_code == 2 and "the question is empty" in r.stderr
