"""The Ask screen: streamed answer, sources, citation → highlighted passage, follow-ups, Esc.

The fixture archive is indexed into an in-memory vector index with a deterministic embedder,
so the real hybrid search and relevance/support checks run; only the model is scripted."""

from __future__ import annotations

import threading

from textual.widgets import Input, Markdown, OptionList, Static

from digest.conversations import last_exchange
from kb.models.fake import FakeLLM
from tui.screens.ask import AskScreen
from tui.screens.post import PostScreen
from tui.widgets.post_body import PostBody

SIZE = (110, 32)
REPLY = ("Every proxy we tried leaked somewhere, and the agent found the leak first [1]. "
         "Debate may help weak judges a little [2].")
# retrieves the gridworld post first and the oversight post second: both citations hold
BOTH = "Did every proxy we tried leak somewhere, and does debate help weak judges?"
REWRITTEN = "Rewritten follow-up about debate and weak judges"


async def _ask(pilot, question: str) -> None:
    app = pilot.app
    box = app.screen.query_one("#question", Input)
    box.focus()
    box.value = question
    await pilot.press("enter")
    for _ in range(1500):
        await pilot.pause(0.02)
        if not app.screen.generating:
            break
    await pilot.pause()


def _sources(screen: AskScreen) -> list[str]:
    options = screen.query_one("#ask-sources", OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_ask_streams_the_answer_and_opens_the_cited_passage(make_app, indexed, store):
    llm = FakeLLM([REPLY, REWRITTEN, REPLY])
    app = make_app(llm=llm, start="ask")
    appends: list[str] = []
    updates: list[str] = []
    orig_append, orig_update = Markdown.append, Markdown.update

    def spy_append(self, markdown):
        if "answer" in self.classes:
            appends.append(markdown)
        return orig_append(self, markdown)

    def spy_update(self, markdown):
        if "answer" in self.classes:
            updates.append(markdown)
        return orig_update(self, markdown)

    Markdown.append, Markdown.update = spy_append, spy_update
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, AskScreen)
            await _ask(pilot, BOTH)
            screen = app.screen
            answer = screen.query(".answer").last(Markdown)
            assert "Every proxy we tried leaked somewhere" in answer.source
            assert "[1]" in answer.source and "[2]" in answer.source
            # streamed in place: pieces were appended, the document was never rebuilt per token
            assert "".join(appends) == REPLY and len(updates) <= 1
            first, second = _sources(screen)
            assert first.startswith("[1] Reward hacking in small gridworlds")
            assert second.startswith("[2] Notes on scalable oversight")
            assert "✓" in first and "✓" in second  # each cited sentence is supported
            assert "2 sources cited —" in str(screen.query_one("#ask-status", Static).visual)
            # keyboard: focus the sources, Enter on [1] opens the post at the cited passage
            await pilot.press("ctrl+o", "enter")
            await pilot.pause()
            await pilot.pause()
            assert isinstance(app.screen, PostScreen)
            body = app.screen.query_one(PostBody)
            assert "Every proxy we tried leaked somewhere" in body.passage_text
            assert app.screen.query_one("#post-scroll").scroll_y > 0
            await pilot.press("escape")
            await pilot.pause()
            # a follow-up continues the conversation (the question is rewritten from history)
            await _ask(pilot, "And what about debate?")
            assert screen.turns == 2
            assert len(screen.query(".answer")) == 2
            assert "what about debate" in llm.calls[1]["messages"][-1].content
            follow_up = last_exchange(store)
            assert follow_up is not None and follow_up.standalone == REWRITTEN
            # Ctrl+N: a new conversation
            await pilot.press("ctrl+n")
            await pilot.pause()
            assert screen.turns == 0 and not screen.query(".answer")
    finally:
        Markdown.append, Markdown.update = orig_append, orig_update


async def test_a_weakly_supported_citation_is_marked(make_app, indexed):
    """About proxies only, the second source retrieved is the toy-transformer post, which does
    not support the sentence citing it: listed with ? and counted as weak."""
    app = make_app(llm=FakeLLM([REPLY]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _ask(pilot, "Did every proxy we tried leak somewhere?")
        screen = app.screen
        first, second = _sources(screen)
        assert first.startswith("[1] Reward hacking in small gridworlds") and "✓" in first
        assert second.startswith("[2] Interpretability of toy transformers") and "?" in second
        assert "2 sources cited, 1 weakly" in str(screen.query_one("#ask-status", Static).visual)


class SlowLLM(FakeLLM):
    """Streams many small pieces slowly, so the test can stop it midway."""

    def __init__(self) -> None:
        super().__init__(["word " * 400])
        self.yielded = 0
        self.started = threading.Event()

    def stream(self, messages, **kw):
        import time

        for piece in super().stream(messages, **kw):
            self.yielded += 1
            self.started.set()
            time.sleep(0.01)
            yield piece


async def test_escape_stops_generation(make_app, indexed):
    llm = SlowLLM()
    app = make_app(llm=llm, start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#question", Input).value = "Is debate a proposal where two copies argue and a judge picks?"
        await pilot.press("enter")
        for _ in range(1500):
            await pilot.pause(0.02)
            if llm.yielded > 3:
                break
        await pilot.press("escape")
        for _ in range(1500):
            await pilot.pause(0.02)
            if not screen.generating:
                break
        assert not screen.generating
        total = len("word " * 400) // 7
        assert llm.yielded < total  # the model stopped before the end
        answer = screen.query(".answer").last(Markdown)
        assert "(stopped)" in answer.source
        assert "stopped" in str(screen.query_one("#ask-status", Static).visual)


async def test_unanswerable_question_lists_the_nearest_posts(make_app, indexed):
    app = make_app(llm=FakeLLM(["I cannot answer from these sources."]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _ask(pilot, "How do sorted lists interact with attention-only transformers?")
        screen = app.screen
        answer = screen.query(".answer").last(Markdown)
        assert "does not answer" in answer.source
        nearest = _sources(screen)
        assert nearest and all(label.startswith("· ") for label in nearest)
        assert nearest[0] == "· Interpretability of toy transformers"
        # Enter opens the nearest post at its best passage
        await pilot.press("ctrl+o", "enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, PostScreen)
        assert "sorted lists" in app.screen.query_one(PostBody).passage_text
