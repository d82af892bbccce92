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


class KbModal(ModalScreen[ResultT]):
    """A kb dialog over another screen, returning a ``ResultT`` when dismissed."""

    @property
    def kb_app(self) -> KbApp:
        return kb_app_of(self)

    @property
    def runtime(self) -> Runtime:
        return self.kb_app.runtime
