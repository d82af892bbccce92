"""Fixtures for the TUI tests: a small fixed archive in a fresh KB_HOME, and apps built on a
runtime with fakes (a deterministic embedder, an in-memory vector index, a scripted LLM)."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from tui_fixtures import WordEmbedder, build_archive

from kb.index.fake import FakeIndex


@pytest.fixture
def archive(settings, store) -> dict[str, str]:
    """The fixture posts and digests in the test's store; name -> post id."""
    return build_archive(store, settings.digests_dir)


@pytest.fixture
def embedder() -> WordEmbedder:
    return WordEmbedder()


@pytest.fixture
def index(embedder) -> FakeIndex:
    return FakeIndex(embedder.model_id, embedder.dim)


@pytest.fixture
def indexed(store, archive, embedder, index) -> dict[str, str]:
    """The fixture archive, indexed into the test's vector index."""
    from kb.index.indexer import run_index

    run_index(store, embedder, index)
    return archive


@pytest.fixture
def make_app(settings, store, embedder, index):
    """Build a KbApp on a runtime over the test's store, embedder and index:
    ``make_app(llm=FakeLLM([...]), start=..., ...)``; with no ``llm`` the runtime builds the one
    the settings select, on first use.  ``runtime=`` gives the app a runtime of the test's own.
    (The fixed theme and size come from the test.)"""
    from kb.runtime import Runtime
    from tui.app import KbApp

    runtimes: list[Runtime] = []

    def make(*, llm=None, runtime: Runtime | None = None, **kw) -> KbApp:
        if runtime is None:
            runtime = Runtime(settings, store=store, embedder=embedder, index=index, llm=llm)
            runtimes.append(runtime)
        return KbApp(runtime, **kw)

    yield make
    for runtime in runtimes:
        runtime.close()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests in a fresh event loop (no asyncio plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
