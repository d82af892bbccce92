"""The questions asked before (stored in ``ask_exchanges``): pick one to reopen its answer."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from digest.conversations import list_exchanges
from tui.safe import one_line
from tui.screens.base import KbModal

LIMIT = 200  # the newest exchanges listed


class AskHistoryScreen(KbModal[int | None]):
    """Past questions, newest first; dismissed with the exchange id chosen (or None)."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="ask-history-box") as box:
            box.border_title = "Past questions"
            yield Label("Enter reopens the stored answer and its sources (no model is called).",
                        id="ask-history-hint")
            yield OptionList(id="ask-history")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        exchanges = list_exchanges(self.runtime.store, limit=LIMIT)
        for ex in exchanges:
            label = Text(f"#{ex.id} ", style="bold")
            label.append(ex.asked_at[:16].replace("T", " ") + "  ", style="dim")
            label.append(one_line(ex.question)[:200])
            summary = ("(the archive did not answer)" if ex.abstained
                       else one_line(ex.summary)[:200])
            label.append("\n    " + summary, style="dim")
            options.add_option(Option(label, id=str(ex.id)))
        if not exchanges:
            self.query_one("#ask-history-hint", Label).update(
                "No questions asked yet: ask one, and it is kept here.")
        else:
            options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected)
    def _choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))
