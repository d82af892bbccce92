"""The Ask screen: streamed answer, sources, citation → highlighted passage, follow-ups, Esc."""

from __future__ import annotations

import threading

from textual.widgets import Input, Markdown, OptionList, Static
from tui_fixtures import OVERSIGHT_V2, Retriever, hit_for

from digest.support import terms
from kb.embed.fake import FakeEmbedder
from kb.models.fake import FakeLLM
from tui.screens.ask import AskScreen
from tui.screens.post import PostScreen
from tui.widgets.post_body import PostBody

SIZE = (110, 32)
REPLY = ("Every proxy we tried leaked somewhere, and the agent found the leak first [1]. "
         "Debate may help weak judges a little [2].")


class WordEmbedder(FakeEmbedder):
    """Bag of content words: cosine behaves like a crude similarity on the calibrated scale."""

    def __init__(self) -> None:
        super().__init__(512)

    def _vec(self, text: str) -> list[float]:
        return super()._vec(" ".join(sorted(terms(text))))


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


async def test_ask_streams_the_answer_and_opens_the_cited_passage(make_app, archive, store):
    llm = FakeLLM([REPLY, "Rewritten follow-up about debate and weak judges", REPLY])
    hits = [hit_for(store, archive["grid"], "Every proxy we tried leaked somewhere, and the "
                    "leak was always found by the agent before it was found by us."),
            hit_for(store, archive["oversight"], "Update: a small pilot with human judges "
                    "suggests it helps a little.")]
    retriever = Retriever(hits)
    app = make_app(llm=llm, start="ask",
                   ask_options={"search": retriever, "embedder": WordEmbedder()})
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
            await _ask(pilot, "Did every proxy we tried leak somewhere?")
            screen = app.screen
            answer = screen.query(".answer").last(Markdown)
            assert "Every proxy we tried leaked somewhere" in answer.source
            assert "[1]" in answer.source and "[2]" in answer.source
            # streamed in place: pieces were appended, the document was never rebuilt per token
            assert "".join(appends) == REPLY and len(updates) <= 1
            sources = screen.query_one("#ask-sources", OptionList)
            assert sources.option_count == 2
            first = str(sources.get_option_at_index(0).prompt)
            assert first.startswith("[1] Reward hacking in small gridworlds")
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
            assert retriever.calls[-1]["query"] == "Rewritten follow-up about debate and weak judges"
            # Ctrl+N: a new conversation
            await pilot.press("ctrl+n")
            await pilot.pause()
            assert screen.turns == 0 and not screen.query(".answer")
    finally:
        Markdown.append, Markdown.update = orig_append, orig_update


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


async def test_escape_stops_generation(make_app, archive, store):
    llm = SlowLLM()
    hits = [hit_for(store, archive["oversight"], OVERSIGHT_V2.split("\n\n")[1])]
    app = make_app(llm=llm, start="ask",
                   ask_options={"search": Retriever(hits), "embedder": WordEmbedder()})
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


async def test_unanswerable_question_lists_the_nearest_posts(make_app, archive, store):
    hits = [hit_for(store, archive["toy"], "We looked at a two layer attention-only "
                    "transformer trained on sorted lists.")]
    app = make_app(llm=FakeLLM(["I cannot answer from these sources."]), start="ask",
                   ask_options={"search": Retriever(hits), "embedder": WordEmbedder()})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _ask(pilot, "How do sorted lists interact with attention-only transformers?")
        screen = app.screen
        answer = screen.query(".answer").last(Markdown)
        assert "does not answer" in answer.source
        sources = screen.query_one("#ask-sources", OptionList)
        assert sources.option_count == 1
        assert "Interpretability of toy transformers" in str(sources.get_option_at_index(0).prompt)
