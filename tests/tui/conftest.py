"""Fixtures for the TUI tests: a small fixed archive in a fresh KB_HOME."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from tui_fixtures import build_archive


@pytest.fixture
def archive(settings, store) -> dict[str, str]:
    """The fixture posts and digests in the test's store; name -> post id."""
    return build_archive(store, settings.digests_dir)


@pytest.fixture
def make_app(settings, store):
    """Build a KbApp on the test's settings/store (fixed theme and size come from the test)."""
    from tui.app import KbApp

    def make(**kw):
        return KbApp(settings, store, **kw)

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests in a fresh event loop (no asyncio plugin needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj):
        names = pyfuncitem._fixtureinfo.argnames
        asyncio.run(pyfuncitem.obj(**{n: pyfuncitem.funcargs[n] for n in names}))
        return True
    return None
