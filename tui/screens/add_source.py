"""A modal form to add a source: URL or path, optional name, kind."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from kb.store import sources as sources_repo

KINDS = [("guess from the URL", "auto"), ("feed (RSS/Atom)", "feed"), ("page (no feed)", "page")]


class AddSourceScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="add-source-box") as box:
            box.border_title = "Add a source"
            yield Label("Feed URL, page URL, or a local path")
            yield Input(placeholder="https://example.org/feed.xml", id="add-url")
            yield Label("Name (optional)")
            yield Input(placeholder="from the host", id="add-name")
            yield Select(KINDS, value="auto", allow_blank=False, id="add-kind")
            yield Static("", id="add-source-error")
            with Horizontal():
                yield Button("Add", variant="primary", id="add-ok")
                yield Button("Cancel", id="add-cancel")

    def on_mount(self) -> None:
        self.query_one("#add-url", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#add-ok")
    def _add(self) -> None:
        url = self.query_one("#add-url", Input).value
        name = self.query_one("#add-name", Input).value.strip() or None
        kind = str(self.query_one("#add-kind", Select).value)
        store: Any = self.app.store  # type: ignore[attr-defined]
        try:
            src = sources_repo.add_source(store, url, name=name,
                                          kind=None if kind == "auto" else kind)  # type: ignore[arg-type]
        except sources_repo.SourceError as exc:
            self.query_one("#add-source-error", Static).update(Text(str(exc)))
            return
        self.dismiss(src.name)

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
