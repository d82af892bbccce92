"""Extractive summaries: a post's own sentences, chosen with the embedder alone.

Always available (no chat model) and faithful by construction: every sentence of an
extractive summary is a sentence of the post, cleaned of Markdown.  A TL;DR, abstract or
"Summary:" paragraph the author wrote is used as is (cut to whole sentences); otherwise the
2–3 most central sentences (mean cosine to the post's other candidate sentences under the
embedder) are taken, with the opening and the author's own "in summary / I think / we find /
this post argues" sentences favoured, and returned in document order (≤ ~70 words).
Deterministic: same text and embedder, same summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kb.embed.base import Embedder

MAX_WORDS = 70
MAX_SENTENCES = 3
MAX_CANDIDATES = 60  # sentences embedded per post (plus up to MAX_CUE_EXTRA cue sentences)
MAX_CUE_EXTRA = 20
MIN_WORDS = 4
MAX_SENTENCE_WORDS = 55  # longer "sentences" are run-ons or lists flattened into one line
CUE_BONUS, OPENING_BONUS, TITLE_WEIGHT = 0.08, 0.06, 0.15
DANGLING_PENALTY, SHORT_PENALTY = 0.06, 0.04  # "This includes …", "Some of them …": need context
DUPLICATE_SIMILARITY = 0.9

_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", re.M | re.S)
_MATH_BLOCK = re.compile(r"\$\$.*?\$\$", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\((?:[^()\s]|\([^()\s]*\))*\)")
_LINK = re.compile(r"\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*\)")
_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]*\]|\^\[\d{1,3}\]|\[\d{1,3}\](?!\()|(?<=\w)\^\d{1,3}\b|↩︎?")
_FOOTNOTE_DEF = re.compile(r"^\s*(?:\[\^[^\]]*\]:|\^\s|\d{1,3}\.\s*\^|\*\*\[\^\]\(#)")
_HTML = re.compile(r"</?[a-zA-Z][^>]*>")
_URL = re.compile(r"(?:https?|ftp)://\S+|\bwww\.\S+", re.I)
_EMPH = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
# a list item's marker: a bullet, "1." / "1)", or a letter or Roman numeral ("I.", "(b)",
# "iv)") before a capital — else "I. In worlds where …" stays one sentence that a rougher
# splitter later cuts to "I."
_LIST = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)]|\(?(?:[IVX]{1,4}|[ivx]{1,4}|[A-Za-z])[.)]"
                   r"(?=\s+[A-Z\"“(]))\s+")
_HEADING = re.compile(r"^\s*(?:#{1,6}\s|\*\*[^*]+\*\*\s*:?\s*$|__[^_]+__\s*$)")
_SETEXT = re.compile(r"^\s*(?:=+|-+)\s*$")
_RULE = re.compile(r"^\s*(?:[-*_]\s*){3,}$")
_SPLIT = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[A-Z0-9\"“‘'(\[])")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|al|Mr|Mrs|Ms|Dr|Prof|St|No|Fig|Sec|approx|"
                     r"resp|Jr|Sr|Inc|Ltd|U\.S|U\.K)\.|\b[A-Z]\.)$")
_END = re.compile(r"[.!?][\"'”’)\]]*$")
_BOILERPLATE = re.compile(
    r"\b(?:subscribe|subscribers?|newsletter|sign up|share this|leave a comment|comments? "
    r"(?:below|section)|cross-?posted|originally (?:posted|published)|this post (?:was|is) "
    r"(?:also )?(?:posted|published)|audio version|podcast version|listen to|click here|"
    r"read more|thanks (?:to|for)\b.*\b(?:feedback|comments|reading|discussion|helpful)|"
    r"epistemic status|content warning|acknowledg(?:e)?ments?|patreon|substack|link ?post|"
    r"for more (?:posts|updates)|follow me|my twitter|discord|table of contents|see also)",
    re.I)
_CUE = re.compile(
    r"\b(?:in summary|to summari[sz]e|in short|tl;?dr|the upshot|in conclusion|overall|"
    r"i think|i believe|i argue|i claim|i propose|i expect|i suggest|my (?:claim|view|guess)|"
    r"we find|we found|we show|we argue|we propose|we present|we introduce|we demonstrate|"
    r"our results?|the (?:main|key|central) (?:point|claim|idea|result|finding|argument)|"
    r"this (?:post|paper|essay|piece|report|sequence) (?:argues|shows|describes|explains|"
    r"presents|proposes|introduces|is about|discusses|explores|makes)|in this (?:post|paper|"
    r"essay|piece)|(?:this|which) (?:suggests|implies|means)|matters because)\b", re.I)
_DANGLING = re.compile(r"^(?:this|that|these|those|it|its|they|their|them|he|she|his|her|such|"
                       r"some of|both|but|and|so|also|here|there|see|then|thus|hence|"
                       r"of course|the same|still,|even so|in (?:that|this|which) case|"
                       r"as a result|on the other hand)(?:\b|(?<=,))", re.I)
_SUMMARY_LABEL = re.compile(
    r"^\s*(?:\*\*|__|\*|_)?\s*(?:tl;?\s*dr|tldr|summary|abstract|executive summary|"
    r"short version|the short version|bottom line)\s*(?:\*\*|__|\*|_)?\s*[:.\-–—]\s*"
    r"(?:\*\*|__)?\s*", re.I)
_SUMMARY_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s*|\*\*|__)?\s*(?:tl;?\s*dr|tldr|summary|abstract|executive summary|"
    r"short version)\s*(?:\*\*|__)?\s*:?\s*$", re.I)
_SUMMARY_BLOCKS = 40  # an author's summary sits near the top (or under its own heading)


@dataclass(frozen=True)
class ExtractiveSummary:
    """The chosen sentences (in document order) and their text; ``authored`` when the author's
    own TL;DR / abstract / summary paragraph was used."""

    sentences: list[str]
    authored: bool = False

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


# --- cleaning -------------------------------------------------------------------------------
_TEX = re.compile(r"\\\(.*?\\\)|\\\[.*?\\\]|\\[a-zA-Z]+\{")


def clean_inline(text: str) -> str:
    """One line of Markdown as plain prose: images, footnote markers, URLs, HTML and emphasis
    removed, links reduced to their text."""
    t = _IMAGE.sub("", text)
    t = _LINK.sub(lambda m: m.group(1), t)
    t = _REF_LINK.sub(lambda m: m.group(1), t)
    t = _FOOTNOTE_REF.sub("", t)
    t = _HTML.sub(" ", t)  # a tag between words separates them ("Robb</a>When")
    t = _URL.sub("", t)
    t = _TEX.sub(" $ ", t)  # inline LaTeX is math: good_sentence() refuses the sentence
    t = t.replace("\\", "").replace("`", "")
    for _ in range(2):
        t = _EMPH.sub(lambda m: m.group(2), t)
    t = t.replace("\u00a0", " ").replace("\u200b", "")
    t = re.sub(r"\(\s*\)", "", t)
    t = re.sub(r"\s+", " ", t).strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", t)


def _is_link_list_item(raw: str) -> bool:
    """A list item or line that is mostly link(s): a reading list, a table of contents."""
    body = _LIST.sub("", raw).strip()
    if not body:
        return True
    link_chars = sum(len(m.group(0)) for m in _LINK.finditer(body)) + \
        sum(len(m.group(0)) for m in _URL.finditer(body))
    rest = clean_inline(_LINK.sub("", _URL.sub("", body)))
    return link_chars > 0 and len(rest.split()) < MIN_WORDS + 2


def _blocks(text: str) -> list[str]:
    t = text.replace("\r\n", "\n").replace("\r", "\n")
    t = _HTML_COMMENT.sub("", t)
    t = _FENCE.sub("\n\n", t)
    t = _MATH_BLOCK.sub("\n\n", t)
    return [b for b in re.split(r"\n\s*\n", t) if b.strip()]


def _footnotes_heading(block: str) -> bool:
    return bool(re.match(r"^\s*(?:#{1,6}\s*|\*\*)?\s*(?:footnotes|notes|references|"
                         r"bibliography|endnotes)\s*(?:\*\*)?\s*:?\s*$", block, re.I))


def _prose_lines(block: str) -> list[str] | None:
    """The prose of one block as lines to split into sentences (a list item each), or None
    when the block is not prose: a heading, quote, code, table, rule or footnote."""
    lines = [ln for ln in block.split("\n") if ln.strip()]
    if not lines:
        return None
    first = lines[0]
    if _HEADING.match(first) and len(lines) == 1:
        return None
    if len(lines) == 2 and _SETEXT.match(lines[1]):
        return None
    if all(ln.lstrip().startswith(">") for ln in lines):
        return None  # a quote of someone else
    if all(ln.startswith(("    ", "\t")) for ln in lines) and not _LIST.match(first):
        return None  # indented code
    if first.lstrip().startswith("|") or _RULE.match(first) and len(lines) == 1:
        return None
    if _FOOTNOTE_DEF.match(first):
        return None
    out: list[str] = []
    cur: list[str] = []
    for ln in lines:
        if ln.lstrip().startswith(">") or _FOOTNOTE_DEF.match(ln) or _HEADING.match(ln):
            continue
        if _LIST.match(ln):
            if cur:
                out.append(" ".join(cur))
            cur = [] if _is_link_list_item(ln) else [_LIST.sub("", ln)]
            if not cur:
                out.append("")
            continue
        cur.append(ln.strip())
    if cur:
        out.append(" ".join(cur))
    return [x for x in out if x]


def split_sentences(line: str) -> list[str]:
    """Sentences of one line of prose (abbreviations like "e.g." do not end a sentence)."""
    parts = _SPLIT.split(line.strip())
    out: list[str] = []
    for p in parts:
        p = p.strip()
        if not p:
            continue
        if out and _ABBREV.search(out[-1]):
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return out


def good_sentence(s: str) -> bool:
    """A sentence a summary may quote: ≥ 4 words, a final period/?/!, no math, URL leftovers
    or boilerplate (subscribe, share, comments, "crossposted from")."""
    words = s.split()
    if not MIN_WORDS <= len(words) <= MAX_SENTENCE_WORDS or not _END.search(s):
        return False
    if not re.match(r"^[\"“‘'(\[]?[A-Z0-9]", s):
        return False  # a fragment ("…and so on.") or a lower-case continuation
    if "$" in s or "http" in s or "](" in s or "[" in s and "]" not in s:
        return False
    if re.search(r"(?:\band|\bthe|\bit's|\bof|\bto|,)\s*[.!?]$", s, re.I):
        return False
    if re.match(r"^(?:see|cf\.|for (?:more|details)|more on)\b", s, re.I):
        return False  # a pointer elsewhere ("See my earlier post …"), not a claim
    caps = [w for w in words if w[:1].isalpha()]
    if len(caps) >= 4 and sum(w[0].isupper() for w in caps) / len(caps) > 0.6:
        return False  # Title Case: a heading or a list of names, not a sentence
    return not _BOILERPLATE.search(s)


def _paragraphs(text: str) -> list[tuple[int, list[str]]]:
    """(block number, prose lines) of the post's prose blocks, stopping at a footnotes
    section."""
    out: list[tuple[int, list[str]]] = []
    for i, block in enumerate(_blocks(text)):
        if _footnotes_heading(block):
            break
        lines = _prose_lines(block)
        if lines:
            out.append((i, lines))
    return out


def post_sentences(text: str) -> list[str]:
    """The candidate sentences of a post body, cleaned, in order: no headings, link lists,
    footnotes, code, block quotes, boilerplate, sentences under 4 words or without final
    punctuation."""
    out: list[str] = []
    seen: set[str] = set()
    for _i, lines in _paragraphs(text):
        for line in lines:
            for s in split_sentences(clean_inline(line)):
                key = s.lower()
                if good_sentence(s) and key not in seen:
                    seen.add(key)
                    out.append(s)
    return out


# --- the author's own summary -----------------------------------------------------------------
def _fit(sents: list[str], max_words: int = MAX_WORDS) -> list[str]:
    out: list[str] = []
    n = 0
    for s in sents:
        w = len(s.split())
        if n + w > max_words:
            break
        out.append(s)
        n += w
    return out


def authored_summary(text: str) -> list[str]:
    """The sentences of a TL;DR / abstract / "Summary:" paragraph the author wrote (cleaned,
    cut to whole sentences within ~70 words), or [] when there is none."""
    blocks = _blocks(text)[:_SUMMARY_BLOCKS]
    for i, block in enumerate(blocks):
        body = ""
        m = _SUMMARY_LABEL.match(block)
        if m and block[m.end():].strip():
            body = block[m.end():]
        elif _SUMMARY_HEADING.match(block) and i + 1 < len(blocks):
            body = blocks[i + 1]
        if not body:
            continue
        lines = _prose_lines(body) or []
        sents = [s for ln in lines for s in split_sentences(clean_inline(ln))]
        sents = [s for s in sents if good_sentence(s)]
        fitted = _fit(sents)
        if fitted and len(" ".join(fitted).split()) >= 8:
            return fitted
    return []


# --- centrality -----------------------------------------------------------------------------
def _candidates(text: str) -> tuple[list[str], set[int]]:
    """(sentences to embed, indices of opening sentences): the first MAX_CANDIDATES candidate
    sentences plus up to MAX_CUE_EXTRA later cue sentences."""
    all_sents = post_sentences(text)
    head = all_sents[:MAX_CANDIDATES]
    extra = [s for s in all_sents[MAX_CANDIDATES:] if _CUE.search(s)][:MAX_CUE_EXTRA]
    opening: set[int] = set()
    paras = _paragraphs(text)
    if paras and head:  # the sentences of the first prose paragraph (at most two)
        first = [s for ln in paras[0][1] for s in split_sentences(clean_inline(ln))]
        opening = {i for i, s in enumerate(head[:2]) if s in first}
        if not opening:
            opening = {0}
    return head + extra, opening


def _scores(vecs: np.ndarray) -> np.ndarray:
    n = len(vecs)
    if n == 1:
        return np.ones(1)
    sims = vecs @ vecs.T
    result: np.ndarray = (sims.sum(axis=1) - np.diag(sims)) / (n - 1)
    return result


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: np.ndarray = a / norms
    return out


def central_sentences(embedder: Embedder, sents: list[str], opening: set[int] | None = None,
                      *, title: str = "", max_words: int = MAX_WORDS,
                      max_sentences: int = MAX_SENTENCES) -> list[str]:
    """The most central of ``sents`` (cue and opening sentences, and those close to the
    title, favoured; sentences that lean on the one before disfavoured), in their order."""
    if not sents:
        return []
    rows = embedder.embed_documents([*sents, title] if title.strip() else sents)
    vecs = _unit(rows[:len(sents)])
    score = _scores(vecs)
    if title.strip():
        score = score + TITLE_WEIGHT * (vecs @ _unit(rows[len(sents):])[0])
    for i, s in enumerate(sents):
        if _CUE.search(s) and len(s.split()) >= 10:  # "I think so." says nothing
            score[i] += CUE_BONUS
        if opening and i in opening:
            score[i] += OPENING_BONUS
        if _DANGLING.match(s):
            score[i] -= DANGLING_PENALTY
        if len(s.split()) < 8:
            score[i] -= SHORT_PENALTY
    order = sorted(range(len(sents)), key=lambda i: (-round(float(score[i]), 9), i))
    chosen: list[int] = []
    words = 0
    for i in order:
        w = len(sents[i].split())
        if words + w > max_words:
            continue
        if any(float(vecs[i] @ vecs[j]) > DUPLICATE_SIMILARITY for j in chosen):
            continue
        chosen.append(i)
        words += w
        if len(chosen) >= max_sentences:
            break
    return [sents[i] for i in sorted(chosen)]


def extractive_summary(embedder: Embedder, title: str, text: str) -> ExtractiveSummary:
    """The post's summary in its own words (see the module doc).  Empty when the post has no
    usable sentence (a link post, a question with no body)."""
    own = authored_summary(text)
    if own:
        return ExtractiveSummary(own, authored=True)
    sents, opening = _candidates(text)
    return ExtractiveSummary(central_sentences(embedder, sents, opening, title=title))


_IMPLICATION = re.compile(
    r"\b(?:this suggests|(?:which|this|that|it) (?:implies|means)|implies that|suggests that|"
    r"we should|labs should|(?:people|researchers|you) should|we need to|matters because|"
    r"the upshot|it follows that|therefore|consequently|i recommend|we recommend|i propose|"
    r"we propose|should (?:be|focus|prioriti[sz]e|invest))\b", re.I)


def implication_sentences(text: str, limit: int = 5) -> list[str]:
    """Candidate sentences of the post that state a consequence or a proposal ("this
    suggests", "implies", "we should", "matters because", "the upshot"), in order."""
    return [s for s in post_sentences(text) if _IMPLICATION.search(s)][:limit]
