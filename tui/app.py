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
from textual.theme import Theme

from kb.search_types import Mode
from kb.settings import SettingsError
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

    def __init__(self, runtime: Runtime, *, start: str = "digests", theme: str | None = None,
                 open_post: str | None = None, search_mode: Mode | None = None) -> None:
        """``theme`` None: the theme saved in the settings (``[tui] theme``)."""
        super().__init__()
        self.runtime = runtime
        self.search_mode: Mode = search_mode or "hybrid"
        self.start_mode = start if start in SCREENS else "digests"
        self.theme_warning = ""
        self.theme = self._known(theme or runtime.settings.tui.theme, DARK)
        self.initial_post = open_post

    def _known(self, name: str, fallback: str) -> str:
        """``name`` when it is a theme textual knows, else ``fallback`` (and a warning)."""
        if name in self.available_themes:
            return name
        self.theme_warning = f"unknown theme {name!r} in the settings; using {fallback}"
        return fallback

    async def on_mount(self) -> None:
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self.theme_warning:
            self.notify(self.theme_warning, markup=False, severity="warning")
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
        """The saved light theme when a dark one is shown, else the saved dark theme."""
        tui = self.runtime.settings.tui
        if self.current_theme.dark:
            self.theme = self._known(tui.light_theme, LIGHT)
        else:
            self.theme = self._known(tui.dark_theme, DARK)

    def _theme_changed(self, theme: Theme) -> None:
        """Remember the theme chosen (palette or `t`) in the config file: kb starts with it next
        time, and it becomes the dark or light theme `t` switches to."""
        tui = self.runtime.settings.tui
        values = {"theme": theme.name}
        values["dark_theme" if theme.dark else "light_theme"] = theme.name
        if all(getattr(tui, key) == value for key, value in values.items()):
            return
        for key, value in values.items():
            setattr(tui, key, value)
        settings = self.runtime.settings
        origin = Path(settings.origins.get("tui.theme", ""))
        target = origin if origin in settings.config_files else settings.config_path
        from kb.config_edit import set_config_values

        try:
            set_config_values(target, "tui", values)
        except SettingsError as exc:
            self.notify(f"theme not saved: {exc}", markup=False, severity="warning")

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
