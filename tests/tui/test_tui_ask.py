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


def _sentence_rows(screen: AskScreen) -> list[str]:
    labels = _sources(screen)
    return labels[labels.index("Sentences") + 1:] if "Sentences" in labels else []


async def test_ask_streams_the_answer_and_opens_the_cited_passage(make_app, indexed, store):
    llm = FakeLLM([REPLY, REWRITTEN, REPLY])
    app = make_app(llm=llm, start="ask")
    drafts: list[str] = []
    orig_update = Static.update

    def spy_update(self, content=""):
        if "draft" in self.classes:
            drafts.append(str(content))
        return orig_update(self, content)

    Static.update = spy_update
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, AskScreen)
            await _ask(pilot, BOTH)
            screen = app.screen
            # streamed in place as plain text, sentence by sentence, then replaced by the
            # checked answer as Markdown
            assert drafts[0] == REPLY[:REPLY.index("Debate")]  # the first sentence, early
            assert not screen.query(".draft")
            answer = screen.query(".answer").last(Markdown)
            assert answer.source == REPLY  # both sentences hold
            labels = _sources(screen)
            first, second = labels[:2]
            assert first.startswith("● [1] Reward hacking in small gridworlds")  # ● unread
            assert second.startswith("● [2] Notes on scalable oversight")
            assert "✓" in first and "✓" in second  # each cited sentence is supported
            assert labels[2] == "Sentences"
            rows = _sentence_rows(screen)
            assert len(rows) == 2 and all(r.startswith("✓ ") for r in rows)
            assert rows[0].endswith("[1]") and "Every proxy we tried" in rows[0]
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
        Static.update = orig_update


async def test_a_sentence_row_opens_the_passage_that_decided_it(make_app, indexed):
    app = make_app(llm=FakeLLM([REPLY]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _ask(pilot, BOTH)
        screen = app.screen
        labels = _sources(screen)
        options = screen.query_one("#ask-sources", OptionList)
        row = labels.index("Sentences") + 2  # the second sentence: debate, source [2]
        assert "Debate may help weak judges" in labels[row]
        options.focus()
        options.highlighted = row
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, PostScreen)
        assert "Debate" in app.screen.query_one(PostBody).passage_text


async def test_a_contradicted_sentence_is_dropped_and_shown_with_its_verdict(make_app, indexed):
    """The added sentence flips what the pilot suggests: it is dropped from the answer, and
    the Sentences list shows it with ✗ and why."""
    flipped = "A small pilot with human judges suggests debate does not help [2]."
    reply = f"{REPLY} {flipped} Every proxy we tried leaked somewhere [1]."
    app = make_app(llm=FakeLLM([reply]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _ask(pilot, BOTH)
        screen = app.screen
        answer = screen.query(".answer").last(Markdown)
        assert "does not help" not in answer.source and "Every proxy we tried" in answer.source
        rows = _sentence_rows(screen)
        wrong = next(r for r in rows if "does not help" in r)
        assert wrong.startswith("✗ ") and "negation" in wrong
        assert "unsupported sentences dropped" in str(
            screen.query_one("#ask-status", Static).visual)


async def test_a_weakly_supported_citation_is_marked(make_app, indexed):
    """About proxies only, the second source retrieved is the toy-transformer post, which does
    not say the sentence citing it: listed with ? and counted as weak."""
    reply = ("Every proxy we tried leaked somewhere, and the agent found the leak first [1]. "
             "The sensor tile is a proxy [1]. Attention-only transformers leak their proxies [2].")
    app = make_app(llm=FakeLLM([reply]), start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await _ask(pilot, "Did every proxy we tried leak somewhere?")
        screen = app.screen
        first, second = _sources(screen)[:2]
        assert first.startswith("● [1] Reward hacking in small gridworlds") and "✓" in first
        assert second.startswith("● [2] Interpretability of toy transformers") and "?" in second
        assert "2 sources cited, 1 weakly" in str(screen.query_one("#ask-status", Static).visual)
        assert any(r.startswith("? ") for r in _sentence_rows(screen))


EVIL_LINKS = ("Every proxy we tried leaked somewhere, and the agent found the leak first "
              "[1](https://evil.example/one). Debate may help weak judges a little "
              "[2]. See [the proof](https://evil.example/proof) or https://evil.example/raw "
              "or evil.example.com.")


async def test_the_answer_never_renders_a_model_link(make_app, indexed):
    from textual.widgets._markdown import MarkdownBlock

    app = make_app(llm=FakeLLM([EVIL_LINKS]), start="ask")
    drafts: list[str] = []
    orig_update = Static.update

    def spy_update(self, content=""):
        if "draft" in self.classes:
            drafts.append(str(content))
        return orig_update(self, content)

    Static.update = spy_update
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await _ask(pilot, BOTH)
            screen = app.screen
            assert drafts and not any("evil" in d for d in drafts)  # nor in the draft
            answer = screen.query(".answer").last(Markdown)
            assert "evil" not in answer.source and "Every proxy" in answer.source
            blocks = list(answer.query(MarkdownBlock))
            assert blocks
            for block in blocks:
                content = block._content
                assert "evil" not in content.plain
                assert not any("link(" in str(span.style) for span in content.spans)
            assert all("evil" not in label for label in _sources(screen))
    finally:
        Static.update = orig_update


def test_the_answer_parser_makes_no_link_of_any_kind():
    """Even text that still held a link would render without one."""
    from tui.screens.ask import no_link_parser

    md = ("[a](https://evil.example/a) ![i](https://evil.example/i.png) <https://evil.example/b> "
          "https://evil.example/c www.evil.example evil.com train.py [r]\n\n"
          "[r]: https://evil.example/r\n\n<a href='https://evil.example/h'>h</a>")
    tokens = no_link_parser().parse(md)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in (t.children or [])}
    assert not kinds & {"link_open", "image", "html_inline", "html_block"}


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
        draft = screen.query(".answer").last(Static)
        assert "draft" in draft.classes  # the unchecked words stay plain text
        assert "(stopped: not a checked answer)" in str(draft.visual)
        assert not screen.query(".answer").filter("Markdown")
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
        assert nearest and all(label.startswith("● · ") for label in nearest)
        assert nearest[0] == "● · Interpretability of toy transformers"
        # Enter opens the nearest post at its best passage
        await pilot.press("ctrl+o", "enter")
        await pilot.pause()
        await pilot.pause()
        assert isinstance(app.screen, PostScreen)
        assert "sorted lists" in app.screen.query_one(PostBody).passage_text
