"""The Ask screen reopens a past exchange: Ctrl+R lists the questions asked before (here or by
`kb ask`), and choosing one shows its stored answer and citations without calling a model."""

from __future__ import annotations

from textual.widgets import Input, Markdown, OptionList, Static

from digest.conversations import save_exchange
from kb.models.fake import FakeLLM
from tui.screens.ask import AskScreen
from tui.screens.ask_history import AskHistoryScreen
from tui.screens.post import PostScreen

SIZE = (110, 32)
REPLY = ("Every proxy we tried leaked somewhere, and the agent found the leak first [1]. "
         "Debate may help weak judges a little [2].")
BOTH = "Did every proxy we tried leak somewhere, and does debate help weak judges?"


async def _pause(pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause()


def _prompts(options: OptionList) -> list[str]:
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_reopen_an_exchange_asked_in_the_tui(make_app, indexed, store):
    llm = FakeLLM([REPLY])
    app = make_app(llm=llm, start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        assert isinstance(screen, AskScreen)
        screen.query_one("#question", Input).value = BOTH
        await pilot.press("enter")
        for _ in range(1500):
            await pilot.pause(0.02)
            if screen.turns:
                break
        asked = _prompts(screen.query_one("#ask-sources", OptionList))
        await pilot.press("ctrl+n")
        await _pause(pilot)
        assert not screen.query(".answer")
        calls = len(llm.calls)
        await pilot.press("ctrl+r")
        await _pause(pilot)
        assert isinstance(app.screen, AskHistoryScreen)
        listed = _prompts(app.screen.query_one(OptionList))
        assert len(listed) == 1 and BOTH in listed[0]
        await pilot.press("enter")
        await _pause(pilot, 5)
        assert app.screen is screen
        assert len(llm.calls) == calls  # no model was called
        answer = screen.query(".answer").last(Markdown)
        assert "Every proxy we tried leaked somewhere" in answer.source
        assert BOTH in str(screen.query(".question").last(Static).visual)
        sources = _prompts(screen.query_one("#ask-sources", OptionList))
        # the same citations as when it was asked (the per-sentence checks are not stored)
        assert sources == asked[:len(sources)] and len(sources) == 2
        assert "no model was called" in str(screen.query_one("#ask-status", Static).visual)
        assert screen.turns == 0  # a new question starts a new conversation


async def test_reopen_an_exchange_from_kb_ask_and_open_its_source(make_app, archive, store):
    grid = archive["grid"]
    save_exchange(store, question="What leaked?", standalone="What leaked?",
                  answer="The sensor tile proxy leaked [1]. [a link](https://evil.example/x)",
                  abstained=False, model_id="somemodel@1", parent_id=None, citations=[
                      {"n": 1, "post_id": grid, "title": "[bold]Reward hacking[/bold]",
                       "supported": True, "start": 10, "end": 60, "version": 1,
                       "published": "2025-03-10T09:00:00Z"},
                      {"n": 2, "title": "no post id: skipped"}])
    save_exchange(store, question="Second question?", standalone="Second question?",
                  answer="", abstained=True, citations=[], model_id="m", parent_id=None)
    llm = FakeLLM(["never used"])
    app = make_app(llm=llm, start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        screen = app.screen
        await pilot.press("ctrl+r")
        await _pause(pilot)
        history = app.screen.query_one(OptionList)
        listed = _prompts(history)
        assert "Second question?" in listed[0] and "did not answer" in listed[0]  # newest first
        assert "What leaked?" in listed[1] and "The sensor tile proxy leaked" in listed[1]
        await pilot.press("down", "enter")
        await _pause(pilot, 5)
        assert llm.calls == []
        answer = screen.query(".answer").last(Markdown)
        assert "sensor tile proxy leaked" in answer.source
        assert "evil.example" not in answer.source  # links are removed, as for new answers
        sources = _prompts(screen.query_one("#ask-sources", OptionList))
        assert sources == ["● [1] [bold]Reward hacking[/bold]  ✓\n    2025-03-10"]  # literal
        await pilot.press("ctrl+o", "enter")
        await _pause(pilot, 5)
        assert isinstance(app.screen, PostScreen) and app.screen.post_id == grid
        assert (app.screen.start, app.screen.end) == (10, 60)
        await pilot.press("escape")
        await _pause(pilot)
        # read now: the mark is gone from the reopened sources
        assert _prompts(screen.query_one("#ask-sources", OptionList))[0].startswith("  [1]")
        await pilot.press("ctrl+r")
        await _pause(pilot)
        await pilot.press("escape")
        await _pause(pilot)
        assert app.screen is screen


async def test_history_is_empty_at_first(make_app, archive):
    app = make_app(llm=FakeLLM(["x"]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await _pause(pilot)
        await pilot.press("ctrl+r")
        await _pause(pilot)
        assert isinstance(app.screen, AskHistoryScreen)
        assert "No questions asked yet" in str(app.screen.query_one("#ask-history-hint").visual)
