"""Citations of posts (kb/citation.py): keys, venues, escaping of untrusted fields."""

from __future__ import annotations

import re

import pytest

from kb import citation
from kb.store.posts import Post


def post(**kw) -> Post:
    base = dict(id="p1", title="Paths and Waystations", authors=["Paul Christiano"],
                published="2025-03-12T10:00:00Z", site="www.alignmentforum.org",
                canonical_url="https://www.alignmentforum.org/posts/abcdefghijkmnopqr/paths",
                is_af=True, source_id=None, first_seen_at="2025-03-12T11:00:00Z", changed_at=None)
    base.update(kw)
    return Post(**base)


def fields(bib: str) -> dict[str, str]:
    return dict(re.findall(r"^  (\w+) = (.*?),?$", bib, re.M))


def test_af_post_is_misc_with_the_forum_named():
    bib = citation.cite(post())
    assert bib.startswith("@misc{christiano2025paths,\n") and bib.endswith("\n}\n")
    f = fields(bib)
    assert f["howpublished"] == "{AI Alignment Forum}"
    assert f["title"] == "{{Paths and Waystations}}"
    assert (f["year"], f["month"], f["note"]) == ("{2025}", "mar", "{Posted 2025-03-12}")
    assert f["url"] == "{https://www.alignmentforum.org/posts/abcdefghijkmnopqr/paths}"


@pytest.mark.parametrize(("site", "is_af", "venue"), [
    ("www.lesswrong.com", False, "LessWrong"),
    ("www.alignmentforum.org", True, "AI Alignment Forum"),
    ("www.lesswrong.com", True, "AI Alignment Forum"),  # an AF post is cited as AF
    ("forum.effectivealtruism.org", False, "Effective Altruism Forum"),
    ("www.cold-takes.com", False, "cold-takes.com"),
])
def test_venue(site, is_af, venue):
    assert citation.venue(post(site=site, is_af=is_af)) == venue


def test_keys_are_stable_ascii_and_skip_leading_articles():
    assert citation.bibtex_key(post(title="The Łukasz Problem", authors=["Łukasz Kaiser"])) == \
        "kaiser2025lukasz"
    assert citation.bibtex_key(post(authors=["Doe, Jane"], title="A Österreich plan")) == \
        "doe2025osterreich"
    assert citation.bibtex_key(post(authors=[], published=None, site="www.lesswrong.com",
                                    is_af=False, title="!!!")) == "lesswrongndpost"
    assert citation.bibtex_key(post(authors=["李"], title="中文")) == "ai2025post"
    for key in (citation.bibtex_key(post(title=t)) for t in ["x{y}", "é%", "\\end"]):
        assert re.fullmatch(r"[a-z0-9]+", key)
    assert citation.bibtex_key(post()) == citation.bibtex_key(post())


def test_untrusted_title_cannot_break_the_entry():
    hostile = 'Evil}, note = {pwned} @misc{x, title={\\input{/etc/passwd}} 100% #1 $x$ a_b ~^&\n\x1b[2J'
    bib = citation.cite(post(title=hostile, authors=["Tom and Jerry", "Doe, Jane", "A{B"]))
    # braces stay balanced per line and the entry keeps exactly its own fields
    assert list(fields(bib)) == ["author", "title", "howpublished", "year", "month", "url", "note"]
    title = fields(bib)["title"]
    unescaped = re.sub(r"\\[{}]|\\text\w+\{\}", "", title)
    assert unescaped.count("{") == unescaped.count("}") == 2  # the two outer pairs only
    for raw, escaped in [("%", r"\%"), ("#", r"\#"), ("$", r"\$"), ("_", r"\_"), ("&", r"\&")]:
        assert escaped in title and raw not in title.replace(escaped, "")
    assert r"\textbackslash{}input" in title and "\x1b" not in bib and "\n " not in title
    assert fields(bib)["author"] == r"{{Tom and Jerry} and {Doe, Jane} and A\{B}"


def test_markdown_and_plain():
    p = post(title="Why [not] *this*?", authors=["A One", "B Two", "C Three"],
             canonical_url="https://example.org/a (b)", is_af=False, site="example.org")
    md = citation.cite(p, "markdown")
    assert md == ("A One, B Two, and C Three (2025-03-12). [Why \\[not\\] \\*this\\*?]"
                  "(https://example.org/a%20%28b%29). *example.org*.\n")
    assert citation.cite(p, "plain") == ('A One, B Two, and C Three. "Why [not] *this*?" '
                                         "example.org, 12 March 2025. https://example.org/a (b)\n")
    undated = citation.cite(post(published=None, authors=[]), "plain")
    assert undated.startswith('"Paths and Waystations." AI Alignment Forum, n.d. ')
    with pytest.raises(ValueError, match="unknown citation format"):
        citation.cite(post(), "apa")  # type: ignore[arg-type]
