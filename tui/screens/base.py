"""The base classes of kb's screens: typed access to the app and to its runtime.

Every screen reads the archive and runs its backends through ``self.runtime`` (the one
:class:`kb.runtime.Runtime` the app was given); nothing in the TUI builds a backend itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

from tui.app import KbApp

if TYPE_CHECKING:
    from kb.runtime import Runtime

ResultT = TypeVar("ResultT")


def kb_app_of(node: DOMNode) -> KbApp:
    """The :class:`KbApp` ``node`` runs in (a TypeError in any other app)."""
    app = node.app
    if not isinstance(app, KbApp):
        raise TypeError(f"kb's screens run in a KbApp, not in {type(app).__name__}")
    return app


class KbScreen(Screen[None]):
    """A full kb screen (Digests, Search, Ask, Sources, a post)."""

    TITLE_TEXT = ""  # the screen's name in its help
    HELP = ""  # what the screen does (Markdown, ours), shown by `?`

    @property
    def kb_app(self) -> KbApp:
        return kb_app_of(self)

    @property
    def runtime(self) -> Runtime:
        return self.kb_app.runtime

    def toggle_saved(self, post_id: str) -> bool | None:
        """`s`: save the post, or unsave it; says which.  Its new state (None: no such post)."""
        from tui import data

        saved = data.toggle_saved(self.runtime.store, post_id)
        if saved is None:
            self.notify(f"no post {post_id!r} in the archive", markup=False, severity="warning")
        else:
            self.notify("saved the post (kb posts list --saved)" if saved
                        else "removed the post from the saved posts", markup=False)
        return saved

    def copy(self, text: str, what: str) -> None:
        """`c`: put ``text`` on the clipboard (OSC 52, so it works over ssh) and say what."""
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {what} ({len(text)} characters)", markup=False)

    def copy_citation(self, post_id: str) -> None:
        from tui import data

        cite = data.citation(self.runtime.store, post_id)
        if cite is None:
            self.notify(f"no post {post_id!r} in the archive", markup=False, severity="warning")
        else:
            self.copy(cite, "the citation")


class KbModal(ModalScreen[ResultT]):
    """A kb dialog over another screen, returning a ``ResultT`` when dismissed."""

    @property
    def kb_app(self) -> KbApp:
        return kb_app_of(self)

    @property
    def runtime(self) -> Runtime:
        return self.kb_app.runtime
