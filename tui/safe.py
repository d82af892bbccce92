"""Untrusted text (titles, authors, post bodies, errors) shown literally.

Text from feeds and pages may contain Rich/Textual markup (``[bold red]x[/]``) or terminal
escape sequences.  Nothing from the archive is ever interpolated into markup: widgets get
:class:`rich.text.Text` objects (never parsed as markup) built from :func:`clean` strings.
"""

from __future__ import annotations

import re

from rich.text import Text

# CSI / OSC / other ESC sequences, then any remaining C0/C1 control character except \n and \t
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """``value`` as a string with terminal escape sequences and control characters removed."""
    s = "" if value is None else str(value)
    s = _ANSI.sub("", s)
    s = s.replace("\r", "")  # never adds or removes a line: passage offsets map to lines
    return _CONTROL.sub("", s)


def one_line(value: object) -> str:
    """:func:`clean`, on one line (newlines and tabs become spaces)."""
    return " ".join(clean(value).split())


def text(value: object, style: str = "") -> Text:
    """A Rich Text that shows ``value`` literally (markup is never parsed)."""
    return Text(one_line(value), style=style)


def join(*parts: tuple[object, str] | str | Text) -> Text:
    """Concatenate literal pieces: each is a plain string (our own, trusted), a Text we built,
    or a ``(untrusted value, style)`` pair."""
    out = Text()
    for part in parts:
        if isinstance(part, tuple):
            out.append(one_line(part[0]), style=part[1])
        elif isinstance(part, Text):
            out.append_text(part)
        else:
            out.append(part)
    return out
