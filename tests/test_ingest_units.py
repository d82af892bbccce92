"""Logic of the ingest helpers: LW/AF wrappers, dates, HTML → Markdown, entity defusing."""

from __future__ import annotations

import time

import pytest

from ingest import lw
from ingest.safexml import defuse
from ingest.text import decode_text, html_to_markdown, iso_utc

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY a "ha">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
 <!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">
 <!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">
 <!ENTITY j "&i;&i;&i;&i;&i;&i;&i;&i;&i;&i;">
]>
<rss version="2.0"><channel><title>Laughs &j;</title>
<item><title>An &a; item</title><link>https://example.org/laugh</link>
<description>body &j;</description></item></channel></rss>
"""


def test_published_line_is_the_posting_date_in_utc():
    assert lw.parse_published_line("March 11, 2025 6:52 PM GMT") == "2025-03-11T18:52:00Z"
    assert lw.parse_published_line("December 1, 2024 12:05 AM GMT") == "2024-12-01T00:05:00Z"
    assert lw.parse_published_line("March 11, 2025 6:52 PM XYZ") is None  # unknown zone: no guess


def test_strip_wrapper_html_and_html2text_forms():
    html = ('Published on March 11, 2025 6:52 PM GMT<br/><br/><p>Body.</p><br/><br/>'
            '<a href="https://www.lesswrong.com/posts/x/y#comments">Discuss</a>')
    assert lw.strip_wrapper(html) == ("<p>Body.</p>", "2025-03-11T18:52:00Z")
    md = "Published on March 12, 2025 2:25 PM GMT  \n  \n\n\nHello.\n\n  \n  \nDiscuss"
    assert lw.strip_wrapper(md) == ("Hello.", "2025-03-12T14:25:00Z")
    empty = "Published on March 12, 2025 2:25 PM GMT  \n  \n  \n  \nDiscuss"
    assert lw.strip_wrapper(empty)[0] == ""
    # a body that merely mentions "Discuss" in the middle keeps it
    assert "Discuss this" in lw.strip_wrapper("<p>Discuss this</p><p>end</p>")[0]


def test_lw_item_detection_and_nonlinear_guids():
    link = "https://www.alignmentforum.org/posts/kBgySGcASWa4FWdD9/paths"
    assert lw.is_lw_item(link, "kBgySGcASWa4FWdD9", None) == "kBgySGcASWa4FWdD9"
    assert lw.is_lw_item("https://example.org/post", "kBgySGcASWa4FWdD9", None) is None
    assert lw.nonlinear_guid("smDeWfgeYDg9eGq5G_NL_AF") == ("smDeWfgeYDg9eGq5G", "AF")
    assert lw.nonlinear_guid("smDeWfgeYDg9eGq5G") is None
    title, text, author, posted = lw.strip_nonlinear(
        "AF - Some Title by Someone",
        "Welcome to The Nonlinear Library, where we use Text-to-Speech software to convert the "
        "best writing from the Rationalist and EA communities into audio. This is: Some Title, "
        "published by Someone on March 12, 2023 on The AI Alignment Forum.\nFirst line...",
        "Someone")
    assert (title, text, author, posted) == ("Some Title", "First line...", "Someone",
                                             "2023-03-12T00:00:00Z")


def test_html_to_markdown_keeps_links_absolute_and_never_doubles_them():
    md = html_to_markdown(
        '<p><a href="/posts/abc/x">rel</a> <a href="https://a.org/https://a.org/b">dbl</a> '
        '<img src="pic.png" alt="p"></p><script>alert(1)</script><h2>Head</h2>',
        "https://www.lesswrong.com/posts/zzz/slug")
    assert "[rel](https://www.lesswrong.com/posts/abc/x)" in md
    assert "[dbl](https://a.org/b)" in md
    assert "![p](https://www.lesswrong.com/posts/zzz/pic.png)" in md
    assert "## Head" in md and "alert" not in md


def test_iso_utc_handles_the_date_shapes_we_meet():
    assert iso_utc("2025-06-14 18:00 -0700") == "2025-06-15T01:00:00Z"
    assert iso_utc("2025-03-12T07:37:57.123Z") == "2025-03-12T07:37:57Z"
    assert iso_utc("Tue, 11 Apr 2023 10:17:06 GMT") == "2023-04-11T10:17:06Z"
    assert iso_utc(time.gmtime(0)) == "1970-01-01T00:00:00Z"
    assert iso_utc("None") is None and iso_utc("not a date") is None


def test_decode_text_reports_non_utf8():
    text, note = decode_text("caf\xe9 na\xefve".encode("latin-1"), "text/html")
    assert "café" in text or "caf" in text
    assert note and "not valid UTF-8" in note
    assert decode_text("café".encode(), "text/html; charset=utf-8") == ("café", None)


def test_defuse_drops_nested_and_huge_entities_but_keeps_small_literal_ones():
    body, note = defuse(LAUGHS)
    assert note and "entity" in note
    assert b'<!ENTITY a "ha">' in body and b"<!ENTITY j" not in body
    huge = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "' + b"x" * 100_000 +
            b'">]><rss version="2.0"><channel><title>&big;&big;&big;</title></channel></rss>')
    body, note = defuse(huge)
    assert note and b"<!ENTITY big" not in body
    plain = b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>'
    assert defuse(plain) == (plain, None)


@pytest.mark.timeout(30)
def test_entity_expansion_does_not_hang_feed_parsing():
    from ingest.feeds import parse_feed

    parsed = parse_feed(LAUGHS, url="https://example.org/laughs.xml")
    assert any("entity" in n for n in parsed.notes)
    assert [r.urls for r in parsed.records] == [["https://example.org/laugh"]]
    assert len(parsed.records[0].text) < 1000  # nothing was expanded
    huge = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "' + b"x" * 50_000 +
            b'">]><rss version="2.0"><channel><title>t</title><item><title>i</title>'
            b"<link>https://example.org/i</link><description>" + b"&big;" * 20_000 +
            b"</description></item></channel></rss>")
    parsed = parse_feed(huge, url="https://example.org/huge.xml")
    assert all(len(r.text) < 200_000 for r in parsed.records)


def test_feedparser_never_sees_our_body_as_a_path():
    """A body that looks like a file path must be parsed as data, not opened."""
    from ingest.feeds import FeedError, parse_feed

    with pytest.raises(FeedError, match="not a readable"):
        parse_feed(b"/etc/passwd", url="https://example.org/x")
