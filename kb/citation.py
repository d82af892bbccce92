"""Citations of archived posts, for researchers writing papers: BibTeX, Markdown or plain text.

Every field comes from a feed or page and is untrusted: BibTeX special characters are
escaped (a title cannot close the entry or inject a macro), Markdown link syntax is escaped,
and control characters become spaces.  Keys are ASCII and stable: first author's last name
+ year + first significant word of the title (``christiano2025paths``).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal, Protocol
from urllib.parse import quote

Format = Literal["bibtex", "markdown", "plain"]
FORMATS: tuple[Format, ...] = ("bibtex", "markdown", "plain")

# sites whose proper name is not their host
VENUES = {
    "alignmentforum.org": "AI Alignment Forum",
    "lesswrong.com": "LessWrong",
    "greaterwrong.com": "LessWrong",
    "forum.effectivealtruism.org": "Effective Altruism Forum",
    "arxiv.org": "arXiv",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_STOPWORDS = {"a", "an", "the", "on", "of", "in", "to", "for", "and", "is", "are", "why", "how",
              "what", "some", "my", "our", "we", "i"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_BIBTEX_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "#": r"\#", "$": r"\$", "%": r"\%",
    "&": r"\&", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>()#|!])")


class Citable(Protocol):
    """What a citation needs of a post (kb.store.posts.Post has it)."""

    id: str
    title: str
    authors: list[str]
    published: str | None
    site: str
    canonical_url: str
    is_af: bool


def _clean(text: str) -> str:
    """Control characters and runs of whitespace become one space."""
    return " ".join(_CONTROL.sub(" ", text).split())


def venue(post: Citable) -> str:
    """Where a post was published: the forum's name, else the site's host without www."""
    if post.is_af:
        return "AI Alignment Forum"
    host = post.site.lower().removeprefix("www.")
    return VENUES.get(host, host or "the web")


def _day(post: Citable) -> date | None:
    try:
        return date.fromisoformat((post.published or "")[:10])
    except ValueError:
        return None


# letters NFKD does not split into an ASCII letter and an accent
_TRANSLIT = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae",
                           "Œ": "OE", "œ": "oe", "Đ": "D", "đ": "d", "Þ": "Th", "þ": "th",
                           "ð": "d", "ı": "i"})


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    folded = folded.encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def bibtex_key(post: Citable) -> str:
    """``lastname + year + firstword``: ASCII letters and digits only, the same every time."""
    authors = [a for a in (_clean(x) for x in post.authors) if a]
    last = ""
    if authors:
        parts = authors[0].replace(",", " ").split()
        # "Last, First" names the family first; otherwise the family name is the last word
        last = _ascii_word(parts[0] if "," in authors[0] else parts[-1])
    if not last:
        last = _ascii_word(venue(post).split()[0]) or "anon"
    day = _day(post)
    year = str(day.year) if day else "nd"
    words = [_ascii_word(w) for w in _clean(post.title).split()]
    words = [w for w in words if w]
    first = next((w for w in words if w not in _STOPWORDS), words[0] if words else "post")
    return f"{last}{year}{first}"


def bibtex_escape(text: str) -> str:
    return "".join(_BIBTEX_ESCAPES.get(c, c) for c in _clean(text))


def _bibtex_name(name: str) -> str:
    """One author: a name with a comma or the word "and" inside is braced so BibTeX reads it
    as one name (an organisation, a joint pseudonym) instead of splitting it."""
    escaped = bibtex_escape(name)
    if "," in name or re.search(r"\band\b", name, re.I):
        return "{" + escaped + "}"
    return escaped


def _safe_url(url: str) -> str:
    """The URL with characters that could break a BibTeX field or Markdown link encoded."""
    return quote(_clean(url), safe=":/?&=#+@;,.!~*'-_[]$%")


def to_bibtex(post: Citable) -> str:
    day = _day(post)
    fields: list[tuple[str, str]] = []
    authors = [a for a in (_clean(x) for x in post.authors) if a]
    if authors:
        fields.append(("author", "{" + " and ".join(_bibtex_name(a) for a in authors) + "}"))
    # double braces keep the title's capitals
    fields.append(("title", "{{" + bibtex_escape(post.title or post.canonical_url) + "}}"))
    fields.append(("howpublished", "{" + bibtex_escape(venue(post)) + "}"))
    if day:
        fields.append(("year", "{" + str(day.year) + "}"))
        fields.append(("month", _MONTHS[day.month - 1]))  # BibTeX's month macro, unbraced
    # (biblatex reads the url field verbatim: a percent-encoded URL stays as it is)
    fields.append(("url", "{" + _safe_url(post.canonical_url) + "}"))
    if day:
        fields.append(("note", "{Posted " + day.isoformat() + "}"))
    body = ",\n".join(f"  {name} = {value}" for name, value in fields)
    return f"@misc{{{bibtex_key(post)},\n{body}\n}}\n"


def _names(authors: list[str]) -> str:
    names = [a for a in (_clean(x) for x in authors) if a]
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + ", and " + names[-1]


def to_markdown(post: Citable) -> str:
    day = _day(post)
    title = _MARKDOWN_SPECIAL.sub(r"\\\1", _clean(post.title or post.canonical_url))
    url = _safe_url(post.canonical_url).replace("(", "%28").replace(")", "%29")
    who = _MARKDOWN_SPECIAL.sub(r"\\\1", _names(post.authors))
    head = f"{who} ({day.isoformat() if day else 'n.d.'}). " if who else \
        f"({day.isoformat() if day else 'n.d.'}). "
    where = _MARKDOWN_SPECIAL.sub(r"\\\1", venue(post))
    return f"{head}[{title}]({url}). *{where}*.\n"


def to_plain(post: Citable) -> str:
    day = _day(post)
    when = f"{day.day} {day.strftime('%B')} {day.year}" if day else "n.d."
    who = _names(post.authors)
    title = _clean(post.title or post.canonical_url)
    lead = f"{who}. " if who else ""
    stop = "" if title.endswith((".", "?", "!")) else "."
    where = f"{venue(post)}, {when}"
    return f'{lead}"{title}{stop}" {where.rstrip(".")}. {_clean(post.canonical_url)}\n'


def cite(post: Citable, fmt: Format = "bibtex") -> str:
    if fmt == "bibtex":
        return to_bibtex(post)
    if fmt == "markdown":
        return to_markdown(post)
    if fmt == "plain":
        return to_plain(post)
    raise ValueError(f"unknown citation format {fmt!r} (one of {', '.join(FORMATS)})")
