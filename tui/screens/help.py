"""`?`/F1: what the screen underneath does and its keys."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Markdown, Static

from tui.screens.base import KbScreen

GLOBAL_KEYS = (
    "**Everywhere:** `d` Digests · `s` Search · `a` Ask · `o` Sources · `Ctrl+P` command "
    "palette (every action; *Theme* picks any theme) · `?`/`F1` this help · `t` switches "
    "between your dark and light themes (the theme you pick is kept for next time) · "
    "`Tab`/`Shift+Tab` move focus · `Esc` back · `q` quit (when no text box has focus).\n\n"
    "**On a post** (open, or under the cursor in a list of posts): `s` saves or unsaves it "
    "(★), `c` copies its passage or citation; `●` marks posts you have not opened yet."
)


class HelpScreen(ModalScreen[None]):
    """Help for ``screen``: its text (a :class:`KbScreen`'s ``HELP``), its keys, the global
    keys."""

    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, screen: Screen[Any]) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        target = self.target
        name, body = ((target.TITLE_TEXT, target.HELP) if isinstance(target, KbScreen)
                      else (type(target).__name__, ""))
        keys = Text()
        for binding in target.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                key = binding.key_display or binding.key
                keys.append(f"{key:>10}", style="bold")
                keys.append(f"  {binding.description}\n")
        with VerticalScroll(id="help-box") as box:
            box.border_title = f"Help: {name}"
            yield Markdown(body)
            yield Static(keys, id="help-keys")
            yield Markdown(GLOBAL_KEYS)

