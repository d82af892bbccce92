"""A modal form to add a source: URL or path, optional name, kind."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Select, Static

from kb.store import sources as sources_repo
from tui.safe import one_line
from tui.screens.base import KbModal

KINDS = [("guess from the URL", "auto"), ("feed (RSS/Atom)", "feed"), ("page (no feed)", "page"),
         ("forum (ForumMagnum GraphQL endpoint)", "forum")]
KIND_OF: dict[str, sources_repo.Kind | None] = {"auto": None, "feed": "feed", "page": "page",
                                                "forum": "forum"}


class AddSourceScreen(KbModal[str | None]):
    """Dismissed with the new source's name, or None when cancelled."""

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
        kind = KIND_OF.get(str(self.query_one("#add-kind", Select).value))
        try:
            src = sources_repo.add_source(self.runtime.store, url, name=name, kind=kind)
        except sources_repo.SourceError as exc:
            self.query_one("#add-source-error", Static).update(Text(one_line(exc)))
            return
        self.dismiss(src.name)

    @on(Button.Pressed, "#add-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
