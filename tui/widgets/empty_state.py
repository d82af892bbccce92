"""A helpful message where a list would be: what to do next, not just "nothing here"."""

from __future__ import annotations

from textual.widgets import Markdown


class EmptyState(Markdown):
    """Our own (trusted) Markdown explaining the next step."""

    DEFAULT_CSS = """
    EmptyState {
        border: round $accent;
        padding: 0 1;
        margin: 1 2;
        height: auto;
    }
    """

    NO_POSTS = (
        "## No posts yet\n\n"
        "kb has nothing archived. To get started:\n\n"
        "1. Press **o** (Sources) to see the feeds kb follows; press **n** there to add one "
        "(or run `kb sources add URL`).\n"
        "2. Press **i** on the Sources screen to run ingest (or run `kb ingest`).\n"
        "3. Run `kb daily` (or press **y** on the Sources screen) to write today's digest.\n"
    )
    NO_DIGESTS = (
        "## No digest yet\n\n"
        "Posts are archived but no daily digest has been written. Run `kb daily` "
        "(or press **y** on the Sources screen). Meanwhile, press **s** to search the archive "
        "or **a** to ask it a question.\n"
    )
