"""The reading-state marks every list of posts shows before a title: ``●`` unread, ``★`` saved."""

from __future__ import annotations

from rich.text import Text

from tui.data import Marks

UNREAD, SAVED = "●", "★"


def marks(post_id: str, state: Marks) -> Text:
    """Two cells for the unread dot, two for the saved star (blank when not)."""
    out = Text()
    out.append(f"{UNREAD} " if post_id in state.unread else "  ", style="bold")
    out.append(f"{SAVED} " if post_id in state.saved else "", style="yellow")
    return out
