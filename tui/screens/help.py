"""`?`/F1: what the screen underneath does and its keys."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static

GLOBAL_KEYS = (
    "**Everywhere:** `d` Digests · `s` Search · `a` Ask · `o` Sources · `Ctrl+P` command "
    "palette (every action) · `?`/`F1` this help · `t` light/dark theme · `Tab`/`Shift+Tab` "
    "move focus · `Esc` back · `q` quit (when no text box has focus)."
)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        name = getattr(self.target, "TITLE_TEXT", type(self.target).__name__)
        body = getattr(self.target, "HELP", "") or ""
        keys = Text()
        for binding in getattr(self.target, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.description:
                key = binding.key_display or binding.key
                keys.append(f"{key:>10}", style="bold")
                keys.append(f"  {binding.description}\n")
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"Help: {name}"
            yield Markdown(body)
            yield Static(keys, id="help-keys")
            yield Markdown(GLOBAL_KEYS)

