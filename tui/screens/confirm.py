"""A yes/no question over the current screen (e.g. before removing a source)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from tui.screens.base import KbModal


class ConfirmScreen(KbModal[bool]):
    """Dismissed with True when confirmed (``y`` or the button), False otherwise (``n``,
    ``Esc`` or Cancel).  ``question`` is a Text, so untrusted parts stay literal."""

    BINDINGS = [
        Binding("y", "confirm", "Yes"),
        Binding("n", "cancel", "No"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, question: Text, *, yes: str = "Yes", title: str = "Confirm") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.box_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box") as box:
            box.border_title = self.box_title
            yield Static(self.question, id="confirm-question")
            with Horizontal(id="confirm-buttons"):
                yield Button(self.yes, variant="error", id="confirm-yes")
                yield Button("Cancel", id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()  # Enter alone never confirms

    @on(Button.Pressed, "#confirm-yes")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def action_cancel(self) -> None:
        self.dismiss(False)
