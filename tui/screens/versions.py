"""A post's archived versions and what changed between each and the one before."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from kb.store import posts as posts_repo
from tui import data
from tui.safe import clean, one_line
from tui.screens.base import KbModal


def diff_text(diff: str) -> Text:
    """A unified diff, coloured line by line (the text itself is shown literally)."""
    out = Text()
    for line in clean(diff).splitlines():
        style = ("bold" if line.startswith(("---", "+++")) else "green" if line.startswith("+")
                 else "red" if line.startswith("-") else "cyan" if line.startswith("@@") else "")
        out.append(line + "\n", style=style)
    return out


class VersionsScreen(KbModal[int | None]):
    """The versions kb archived of one post; dismissed with the version chosen (or None)."""

    BINDINGS = [Binding("escape", "dismiss", "Close")]

    def __init__(self, post_id: str, title: str) -> None:
        super().__init__()
        self.post_id = post_id
        self.post_title = title

    def compose(self) -> ComposeResult:
        with Vertical(id="versions-box") as box:
            box.border_title = "Versions"
            yield Label(Text(one_line(self.post_title), style="bold"))
            with Horizontal():
                yield OptionList(id="version-list")
                with VerticalScroll(id="diff-pane"):
                    yield Static(id="diff")

    def on_mount(self) -> None:
        versions = posts_repo.list_versions(self.runtime.store, self.post_id)
        options = self.query_one(OptionList)
        for v in versions:
            label = Text(f"v{v['version']}  ", style="bold")
            label.append(f"{(v['fetched_at'] or '')[:10]}  {v['chars']} chars\n")
            label.append(one_line(v["origin"])[:60], style="dim")
            options.add_option(Option(label, id=str(v["version"])))
        if versions:
            options.highlighted = len(versions) - 1
        options.focus()

    @on(OptionList.OptionHighlighted)
    def _show_diff(self, event: OptionList.OptionHighlighted) -> None:
        version = int(event.option.id or 0)
        diff = data.version_diff(self.runtime.store, self.post_id, version)
        widget = self.query_one("#diff", Static)
        if version == 1:
            widget.update(Text("The first version kb archived: nothing to compare with."))
        elif not diff:
            widget.update(Text("No change in the text (only its metadata changed)."))
        else:
            widget.update(diff_text(diff))

    @on(OptionList.OptionSelected)
    def _choose(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))
