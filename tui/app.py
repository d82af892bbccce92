"""`kb tui`: read digests and posts offline, search, ask, manage sources.

The app is given the process's :class:`kb.runtime.Runtime` (settings, store and the lazily
built backends) and every screen reads through it.  Start-up stays light: only the Digests
screen is imported at start; the other screens load when first shown, and anything heavy
(retrieval, models, ingest) is imported and built inside thread workers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from kb.search_types import Mode
from kb.store.posts import get_post
from tui.commands import KbCommands

if TYPE_CHECKING:
    from kb.runtime import Runtime

SCREENS: dict[str, tuple[str, str]] = {
    "digests": ("tui.screens.digests", "DigestsScreen"),
    "search": ("tui.screens.search", "SearchScreen"),
    "ask": ("tui.screens.ask", "AskScreen"),
    "sources": ("tui.screens.sources", "SourcesScreen"),
}
LIGHT, DARK = "textual-light", "textual-dark"


def _lazy(mode: str) -> Callable[[], Screen[Any]]:
    module, name = SCREENS[mode]

    def make() -> Screen[Any]:
        screen_class: type[Screen[Any]] = getattr(importlib.import_module(module), name)
        return screen_class()

    return make


class KbApp(App[None]):
    """The kb terminal UI on ``runtime``.  ``start`` is the first screen, ``open_post`` a post
    (id or URL) to open on top of it, ``search_mode`` the Search screen's initial mode."""

    CSS_PATH = Path(__file__).with_name("kb.tcss")
    TITLE = "kb"
    SUB_TITLE = "alignment research, offline"
    MODES = {mode: _lazy(mode) for mode in SCREENS}
    DEFAULT_MODE = "digests"
    COMMANDS = App.COMMANDS | {KbCommands}
    BINDINGS = [
        Binding("d", "go('digests')", "Digests"),
        Binding("s", "go('search')", "Search"),
        Binding("a", "go('ask')", "Ask"),
        Binding("o", "go('sources')", "Sources"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
        Binding("t", "toggle_theme", "Light/dark", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, runtime: Runtime, *, start: str = "digests", theme: str = DARK,
                 open_post: str | None = None, search_mode: Mode | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.search_mode: Mode = search_mode or "hybrid"
        self.start_mode = start if start in SCREENS else "digests"
        self.theme = theme
        self.initial_post = open_post

    async def on_mount(self) -> None:
        await self.switch_mode(self.start_mode)
        if self.initial_post:
            post = get_post(self.runtime.store, self.initial_post, with_text=False)
            if post is None:
                self.notify(f"no post {self.initial_post!r} in the archive", markup=False,
                            severity="warning")
            else:
                self.open_post(post.id)

    # --- actions ----------------------------------------------------------------------------
    def action_go(self, mode: str) -> None:
        if mode not in SCREENS:
            return
        if self.current_mode == mode:
            # leave any post opened from this screen
            while len(self.screen_stack) > 1:
                self.pop_screen()
            return
        self.switch_mode(mode)

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss()
            return
        self.push_screen(HelpScreen(self.screen))

    def open_post(self, post_id: str, *, version: int | None = None, start: int | None = None,
                  end: int | None = None) -> None:
        """Push the post reader, scrolled to ``start:end`` of ``version`` when given."""
        from tui.screens.post import PostScreen

        self.push_screen(PostScreen(post_id, version=version, start=start, end=end))

    async def run_on_screen(self, mode: str, action: str) -> None:
        """Switch to ``mode`` (if needed) and run ``action`` on its screen (for the palette)."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        await self.screen.run_action(action)
