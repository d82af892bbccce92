"""The Ask and Search screens end to end with real components: the fixture archive indexed
with the real ONNX embedder into Chroma on disk, and the real SmolLM2 answering over the
Ollama HTTP protocol (tests/ollama_server.py).  Asserts structure, never wording."""

from __future__ import annotations

import pytest
from textual.widgets import Input, Markdown, OptionList

from tui.screens.ask import AskScreen
from tui.screens.post import PostScreen
from tui.widgets.post_body import PostBody

pytestmark = [pytest.mark.model, pytest.mark.slow]
SIZE = (110, 32)


@pytest.fixture
def real_runtime(settings, store, archive, ollama_server):
    """A runtime whose backends are the ones the settings select (the ONNX embedder, Chroma
    under KB_HOME, Ollama at the test server), with the fixture archive indexed."""
    from kb.index.indexer import run_index
    from kb.runtime import Runtime

    settings.llm.backend = "ollama"
    settings.ollama.host = ollama_server.url
    runtime = Runtime(settings, store=store)
    run_index(store, runtime.embedder, runtime.index)
    yield runtime
    runtime.close()


async def test_ask_with_the_real_small_model_and_open_a_source(make_app, real_runtime):
    app = make_app(runtime=real_runtime, start="ask")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, AskScreen)
        box = screen.query_one("#question", Input)
        box.value = "What did the agent do when the sensor tile was moved next to the goal?"
        await pilot.press("enter")
        for _ in range(3000):  # the real model on 2 shared cores: up to a minute
            await pilot.pause(0.05)
            if not screen.generating:
                break
        assert not screen.generating
        answer = screen.query(".answer").last(Markdown)
        assert answer.source.strip()
        assert "Could not answer" not in answer.source, answer.source
        assert screen.turns == 1  # the answer, checked, and its sources are shown
        sources = screen.query_one("#ask-sources", OptionList)
        first = str(sources.get_option_at_index(0).prompt)
        status = str(screen.query_one("#ask-status").visual)
        if "does not answer" in answer.source:  # the tiny model is often not supported
            assert first.startswith("● · ") and "nearest posts are listed" in status
        else:
            assert first.startswith("● [") and "sources cited" in status
        await pilot.press("ctrl+o", "enter")
        for _ in range(600):
            await pilot.pause(0.05)
            if isinstance(app.screen, PostScreen) and app.screen.query_one(PostBody).passage_blocks:
                break
        assert isinstance(app.screen, PostScreen)
        assert app.screen.query_one(PostBody).passage_blocks  # the passage is highlighted


async def test_hybrid_search_with_the_real_embedder(make_app, real_runtime):
    app = make_app(runtime=real_runtime, start="search")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        screen.query_one("#search-box", Input).value = "agent exploiting a flawed measurement"
        for _ in range(600):
            await pilot.pause(0.05)
            if screen.hits:
                break
        assert screen.hits[0].title == "Reward hacking in small gridworlds"
        assert "unavailable" not in str(screen.query_one("#search-status").visual)
