"""Extractive summaries (digest.extractive): candidate sentences, the author's TL;DR,
centrality under the embedder; and the real MiniLM on a real day of the LW dataset."""

from __future__ import annotations

import json
import re
import time

import pytest

from digest.extractive import (
    MAX_WORDS,
    authored_summary,
    central_sentences,
    extractive_summary,
    implication_sentences,
    post_sentences,
)
from kb.embed.fake import FakeEmbedder

POST = """\
# Why monitors fail

Crossposted from my blog at example.org.

Trusted monitoring is the main defence we have against a scheming model in deployment.
In this post I argue that monitors fail mostly because attacks are rare, not because they
are subtle. See [my earlier post](https://example.org/earlier) for the threat model.[^1]

> Quoting someone else: monitors never work at all, in any setting whatsoever.

```python
def monitor(action): return score(action) > 0.9
```

## Reading list

- [Control evaluations](https://example.org/a)
- [Untrusted monitoring](https://example.org/b)

When attacks are rare, a monitor tuned on ordinary traffic sees almost no attacks to learn
from. This suggests that labs should red-team their monitors with synthetic attacks. We find
that a monitor trained on synthetic attacks catches most real ones in our toy setting.
Short one. A line without an end

Subscribe to get new posts in your inbox, and share this post with friends.

[^1]: A footnote that should never be quoted in a summary of the post.
"""


def test_candidates_exclude_headings_quotes_code_links_footnotes_and_boilerplate():
    sents = post_sentences(POST)
    joined = " ".join(sents)
    assert sents[0] == ("Trusted monitoring is the main defence we have against a scheming "
                        "model in deployment.")
    for gone in ("Why monitors fail", "Crossposted", "Quoting someone", "def monitor",
                 "Reading list", "Control evaluations", "Subscribe", "footnote",
                 "Short one", "A line without an end", "http", "[^1]", "See my earlier"):
        assert gone not in joined, gone
    assert all(re.search(r"[.!?][\"')\]]*$", s) and len(s.split()) >= 4 for s in sents)
    assert "In this post I argue that monitors fail mostly because attacks are rare, not " \
           "because they are subtle." in sents  # line breaks inside a paragraph are joined


def test_summary_is_central_in_order_short_and_deterministic():
    emb = FakeEmbedder()
    ex = extractive_summary(emb, "Why monitors fail", POST)
    assert not ex.authored
    assert 2 <= len(ex.sentences) <= 3
    cands = post_sentences(POST)
    assert all(s in cands for s in ex.sentences)
    assert [cands.index(s) for s in ex.sentences] == sorted(cands.index(s) for s in ex.sentences)
    assert len(ex.text.split()) <= MAX_WORDS
    assert extractive_summary(FakeEmbedder(), "Why monitors fail", POST) == ex
    # the author's "In this post I argue" sentence is favoured
    assert any(s.startswith("In this post I argue") for s in ex.sentences)


def test_an_authored_tldr_is_used_as_is():
    text = ("**TL;DR:** Monitors fail because attacks are rare. Red-teaming them with "
            "synthetic attacks fixes most of it. We tested this in a toy setting.\n\n" + POST)
    emb = FakeEmbedder()
    ex = extractive_summary(emb, "t", text)
    assert ex.authored and emb.calls == 0  # no embedding needed
    assert ex.sentences == ["Monitors fail because attacks are rare.",
                            "Red-teaming them with synthetic attacks fixes most of it.",
                            "We tested this in a toy setting."]


def test_a_summary_heading_and_a_long_abstract_is_cut_to_whole_sentences():
    long_sentence = "This abstract sentence has exactly twelve words in it, no more, ok."
    text = "## Abstract\n\n" + " ".join([long_sentence] * 8) + "\n\nBody text here is long."
    sents = authored_summary(text)
    assert sents and len(" ".join(sents).split()) <= MAX_WORDS
    assert all(s == long_sentence for s in sents)


def test_a_post_without_sentences_has_an_empty_summary():
    assert extractive_summary(FakeEmbedder(), "Link", "[a link](https://x.org)").sentences == []


def test_implication_sentences_find_consequences_and_proposals():
    assert implication_sentences(POST) == [
        "This suggests that labs should red-team their monitors with synthetic attacks."]


# --- the real embedder on a real day -----------------------------------------------------------
@pytest.mark.model
@pytest.mark.corpus
def test_a_real_day_with_minilm(settings):
    from corpus_paths import CORPUS

    from digest.text import plain
    from kb.embed.factory import build_embedder

    root = CORPUS / "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27/posts"
    if not root.is_dir():
        pytest.skip("../shared/corpus is not available")
    posts = [p for f in sorted(root.glob("user_*_posts.json"))
             for p in json.loads(f.read_text(encoding="utf-8"))
             if str(p.get("postedAt", "")).startswith("2025-03-2")
             and (p.get("contents") or {}).get("markdown")]
    posts = list({p["_id"]: p for p in posts}.values())[:15]
    assert len(posts) >= 5
    emb = build_embedder(settings)
    emb.embed_documents(["warm up"])
    t0, embed_s = time.monotonic(), 0.0
    inner = emb.embed_documents

    def timed(texts):
        nonlocal embed_s
        t = time.monotonic()
        try:
            return inner(texts)
        finally:
            embed_s += time.monotonic() - t

    emb.embed_documents = timed  # type: ignore[method-assign]
    for p in posts:
        md = p["contents"]["markdown"]
        ex = extractive_summary(emb, p["title"], md)
        assert ex.sentences, p["title"]
        assert len(ex.text.split()) <= MAX_WORDS + 20
        source = " ".join(plain(md, max_chars=10**7).split())
        for s in ex.sentences:
            assert re.search(r"[.!?][\"'”’)\]]*$", s) and len(s.split()) >= 4
            words = re.findall(r"\w+", s)
            # the sentence is the post's own: its words appear in the post in this order
            assert re.search(r"\W+".join(map(re.escape, words[:8])), source), s
            assert not re.search(r"\b(?:DATA|Title:|Authors:)", s)
    assert time.monotonic() - t0 - embed_s < 10, "extractive work beyond embedding too slow"


def test_title_case_lines_and_short_cue_sentences_do_not_make_the_summary():
    text = ("Goodbye To The Old Core Curriculum And Its Reading List.\n\n"
            "I think so too.\n\n"
            "The university replaced its shared first-year courses with electives last spring. "
            "Students now pick any four seminars, and most choose ones close to their major. "
            "Faculty worry that students no longer share a common set of readings to argue "
            "about. The change saves money because small seminars replace large lectures.")
    sents = post_sentences(text)
    assert not any(s.startswith("Goodbye") for s in sents)
    ex = extractive_summary(FakeEmbedder(), "The end of the core curriculum", text)
    assert "I think so too." not in ex.sentences


def test_inline_latex_is_math_and_tags_do_not_glue_words():
    """Two real cases from the quality check: inline LaTeX turned into words ("Xisubset Xk")
    and named a theme; a removed tag glued a name to the next sentence ("RobbWhen")."""
    from digest.extractive import post_sentences

    sents = post_sentences(r"We show that \(X_i \subset X_k\) holds for every model we tried. "
                           'A note by <a href="https://example.org">Roger Robb</a>When the model '
                           "is trained, it learns.")
    assert not any("subset" in s or "Xk" in s for s in sents)
    assert any("Robb When" in s for s in sents) and not any("RobbWhen" in s for s in sents)


class _SameVector(FakeEmbedder):
    """Every text the same vector: only the bonuses and penalties tell sentences apart."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * (self.dim - 1) for _ in texts]


@pytest.mark.parametrize("dangling", [
    "Of course, the same is true of our universe and of any other one.",
    "The same argument applies to every model trained this way, at any scale.",
    "Still, the result holds for every fine-tuned model that we tried here.",
    "In that case the monitor never sees an attack it could learn from.",
    "As a result, most of the features we matched changed their meaning.",
])
def test_sentences_that_lean_on_the_one_before_are_not_preferred(dangling):
    plain = "A physical multiverse is not needed to explain why physics permits observers."
    for order in ([dangling, plain], [plain, dangling]):
        assert central_sentences(_SameVector(), order, max_sentences=1) == [plain]


def test_roman_numeral_and_letter_list_markers_are_not_part_of_a_sentence():
    # a real AF post's shape ("Consider two broad possibilities: I. In worlds where …"): the
    # digest's theme bullet, cut by a rougher splitter, had been "I [3]."
    text = ("Consider two broad possibilities for how this plays out in practice:\n\n"
            "I. In worlds where we are doing reasonably well on alignment, control has little "
            "impact.\n\nII. In worlds where we are failing at alignment, control shifts the "
            "warning shots.\n\n(b) A lettered item of the same list says something too.\n\n"
            "I think the roman numeral I. stays inside a sentence like this one.")
    assert post_sentences(text) == [  # (the opening ends with a colon: not a sentence)
        "In worlds where we are doing reasonably well on alignment, control has little impact.",
        "In worlds where we are failing at alignment, control shifts the warning shots.",
        "A lettered item of the same list says something too.",
        "I think the roman numeral I. stays inside a sentence like this one."]
