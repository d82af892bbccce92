"""A post's archived text as Markdown, able to highlight the passage at given offsets."""

from __future__ import annotations

from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownBlock

from tui.data import passage_lines
from tui.safe import clean


class PostBody(Markdown):
    """Markdown of untrusted text (escape sequences stripped; Markdown is never Rich markup).

    :meth:`show` renders the text and marks the top-level blocks that hold the characters
    ``start:end`` with the ``passage`` class, returning the first of them to scroll to."""

    DEFAULT_CSS = """
    PostBody > .passage {
        background: $warning 25%;
        border-left: thick $warning;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__("", id=id, classes=classes, open_links=True)
        self.passage_blocks: list[MarkdownBlock] = []

    async def show(self, text: str, start: int | None = None,
                   end: int | None = None) -> MarkdownBlock | None:
        await self.update(clean(text))
        for block in self.passage_blocks:
            block.remove_class("passage")
        self.passage_blocks = []
        if start is None or end is None:
            return None
        first, last = passage_lines(text, start, end)
        for child in self.children:
            if isinstance(child, MarkdownBlock):
                b_start, b_end = child.source_range
                if b_start < last and b_end > first:
                    child.add_class("passage")
                    self.passage_blocks.append(child)
        return self.passage_blocks[0] if self.passage_blocks else None

    @property
    def passage_text(self) -> str:
        """The source of the highlighted blocks (for tests and copying)."""
        return "".join(b.source or "" for b in self.passage_blocks)
