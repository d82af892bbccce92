"""The command palette (Ctrl+P): every action of the app and of the current screen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

GLOBAL: list[tuple[str, str, str]] = [
    ("Go to Digests", "go('digests')", "the daily digests, newest first"),
    ("Go to Search", "go('search')", "search the archive as you type"),
    ("Go to Ask", "go('ask')", "ask the archive a question, with citations"),
    ("Go to Sources", "go('sources')", "feeds and pages kb follows; run ingest or daily"),
    ("Toggle light/dark theme", "toggle_theme", "switch between your dark and light themes"),
    ("Help for this screen", "help", "what this screen does and its keys"),
    ("Quit", "quit", "leave kb"),
]
# actions that live on one screen: the palette switches there first
ELSEWHERE: list[tuple[str, str, str, str]] = [
    ("Run ingest", "sources", "ingest", "fetch every source now, in the background"),
    ("Run daily", "sources", "daily", "ingest, summarize and write today's digest"),
    ("Add a source", "sources", "add_source", "track a new feed or page"),
    ("New conversation", "ask", "new_conversation", "forget the previous questions"),
    ("Past questions", "ask", "history", "reopen a question asked before, with its answer"),
]


Command = tuple[str, Callable[[], Awaitable[Any]], str]  # name, what it runs, help


class KbCommands(Provider):
    """The screen's own actions (from its bindings), the app's, and those of other screens."""

    def _commands(self) -> list[Command]:
        from tui.app import KbApp  # tui.app imports this module

        app, screen = self.app, self.screen
        out: list[Command] = []
        seen: set[str] = set()
        described = [b for b in screen.BINDINGS if isinstance(b, Binding) and b.description]
        for binding in described:
            if binding.description in seen:
                continue
            seen.add(binding.description)
            out.append((binding.description, partial(screen.run_action, binding.action),
                        f"this screen ({binding.key})"))
        for name, action, help_text in GLOBAL:
            out.append((name, partial(app.run_action, action), help_text))
        if isinstance(app, KbApp):
            for name, mode, action, help_text in ELSEWHERE:
                if name not in seen:
                    out.append((name, partial(app.run_on_screen, mode, action), help_text))
        return out

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
