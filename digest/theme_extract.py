"""The extractive parts of a theme: its name, its bullets and its implications, all taken from
the posts themselves (no model).

- **Name**: the phrases that set the theme's posts apart — a class-based TF-IDF (c-TF-IDF) of
  the members' text (title, summary and post text) against the day's other posts and against
  the archive (phrase document frequency from the store's full-text index).  Candidates are
  1–3-word phrases without stopwords at either end; the name is 2–5 words and is never a
  member post's title, nor its first words when they make up most of it.
- **Bullets**: one per key post, its key sentence (the first sentence of its summary) with its
  ``[n]``.
- **Implications**: sentences of the member posts that state a consequence or a proposal (cue
  phrases such as "this suggests", "we should", "the upshot"), cited; none when no post has one.
"""

from __future__ import annotations

import math
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from digest.extractive import post_sentences
from digest.text import first_sentences
from kb.store.db import Store

MAX_BULLETS = 6
MAX_IMPLICATIONS = 3
TITLE_BONUS = 1.5  # a phrase of a member's title is preferred for the name
TITLE_SHARE = 0.75  # a name that is this much of a title's first words is that title
JOIN_SHARE = 0.6  # a second phrase scoring this much of the first joins the name ...
JOIN_SHARE_LOOSE = 0.3  # ... or this much, when the first is held by under half the posts
ARCHIVE_LOOKUPS = 40  # candidate phrases per theme whose archive frequency is looked up

_STOPWORDS = """
a about above after again against all almost also although always am among an and another any
anyone anything are aren't around as at away back be because been before being below between
both but by can can't cannot could couldn't did didn't do does doesn't doing don't done down
during each either else enough etc even ever every everything few for from further get gets
getting give given go goes going got had hadn't has hasn't have haven't having he her here hers
herself him himself his how however i i'd i'll i'm i've if in into is isn't it it's its itself
just least less let let's like likely lot lots made make makes making many may maybe me might
mine more most much must my myself need needs never new no nor not nothing now of off often on
once one ones only onto or other others otherwise our ours ourselves out over own per perhaps
quite rather really said same say says see seem seems seen several shall she should shouldn't
since so some someone something sometimes still such sure take than that that's the their theirs
them themselves then there there's these they they'd they'll they're they've thing things think
this those though through thus to too toward towards under unless until up upon us use used
using very via want wants was wasn't way ways we we'd we'll we're we've well were weren't what
what's when where whether which while who whom whose why will with within without won't would
wouldn't yet you you'd you'll you're you've your yours yourself yourselves
able actually already anyway basically certainly clearly either especially fairly first
generally good great hard important instead kind large last long lot main mostly next number
often part point post posts probably question questions read real reason right second section
seems simply small sort specific three two true unclear whole work works year years yes
due high low potentially following various overall bad stuff lol okay ok example examples case
cases different similar better best worse worst less least higher lower basically likely unlikely
around across toward someone somewhat related relevant within new old current near recent
future state today central key takeaway takeaways conclusion conclusions introduction background
summary appendix overview note notes footnote footnotes acknowledgements update updates edit tl dr
tldr epistemic status thanks link links
"""
STOPWORDS = frozenset(_STOPWORDS.split())
MIDDLE_WORDS = frozenset({"of", "for", "in", "and", "on", "vs"})  # "theory of mind"

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:['’-][A-Za-z0-9]+)*")
_MARKUP = re.compile(r"\S*[\\_^{}=<>~@#$%&*+]\S*")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"“”|/\n]+|\s[-–—]+\s")


@dataclass
class ThemeText:
    """What the extractive theme is made from: one entry per member post."""
    n: int
    title: str
    summary: str
    text: str  # the post's current text (Markdown as stored)


@dataclass
class Phrase:
    key: str  # lower-case words
    shown: str  # the most common surface form
    score: float
    posts: list[int] = field(default_factory=list)  # member numbers whose text has it
    in_title: bool = False  # in a member's title: names are made of these first
    in_body: bool = True  # in a member's summary or prose, not only in its title
    ends_title_part: bool = False  # ends where a title (or a part of one, at punctuation) ends


def _norm(text: str) -> str:
    return " ".join(w.lower() for w in _TOKEN.findall(text))


def _grams(text: str) -> tuple[Counter[str], dict[str, Counter[str]]]:
    """(phrase counts, surface forms per phrase) of the 1–3-grams of ``text``.  A phrase that
    is mostly a fragment of a longer one ("state of frontier" of "state of frontier AI") is
    left out: the longer one stands for it."""
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    text = _MARKUP.sub(" | ", text)  # math and code leftovers ("X_i \\subset X_k") break phrases
    for chunk in _BREAK.split(text):
        words = _TOKEN.findall(chunk)
        low = [w.lower().replace("’", "'") for w in words]
        for i in range(len(words)):
            for n in (1, 2, 3, 4):
                if i + n > len(words):
                    break
                g = low[i:i + n]
                if g[0] in STOPWORDS or g[-1] in STOPWORDS or len(g[0]) < 2 or len(g[-1]) < 2:
                    continue
                if n >= 3 and any(w in STOPWORDS and w not in MIDDLE_WORDS for w in g[1:-1]):
                    continue
                if n == 2 and g[0] == g[1]:
                    continue
                if any(w.isdigit() or w.endswith("'s") for w in g):
                    continue
                key = " ".join(g)
                counts[key] += 1
                forms.setdefault(key, Counter())[" ".join(words[i:i + n])] += 1
    longer: Counter[str] = Counter()  # the most frequent one-word extension of each phrase
    for key, c in counts.items():
        words = key.split()
        if 1 < len(words) <= 3:  # (a 4-gram is never a candidate: it cannot stand for one)
            for part in (" ".join(words[1:]), " ".join(words[:-1])):
                longer[part] = max(longer[part], c)
    keep = {k: c for k, c in counts.items() if k.count(" ") < 3 and longer[k] < 0.7 * c}
    return Counter(keep), {k: forms[k] for k in keep}


@lru_cache(maxsize=256)
def prose_sentences(text: str) -> tuple[str, ...]:
    """The post's prose sentences (digest.extractive.post_sentences: no headings, link
    lists, footnotes, code or quotes), cached by text."""
    return tuple(post_sentences(text))


def member_document(m: ThemeText) -> str:
    """The text a member contributes to the c-TF-IDF: the post's prose, and its title (three
    times) and summary (twice) — what the post is about counts for more."""
    return "\n".join([m.title] * 3 + [m.summary] * 2 + list(prose_sentences(m.text)))


def archive_frequency(store: Store | None) -> Callable[[list[str]], tuple[int, dict[str, int]]]:
    """A lookup of (archive size, documents containing each phrase) from the full-text index."""
    def lookup(keys: list[str]) -> tuple[int, dict[str, int]]:
        if store is None:
            return 0, {}
        conn = store.conn
        total = int(conn.execute("SELECT count(*) FROM posts_fts").fetchone()[0])
        out: dict[str, int] = {}
        for k in keys:
            phrase = '"' + k.replace('"', '""').replace("'", " ") + '"'
            try:
                out[k] = int(conn.execute("SELECT count(*) FROM posts_fts WHERE posts_fts "
                                          "MATCH ?", (phrase,)).fetchone()[0])
            except sqlite3.OperationalError:
                out[k] = 0
        return total, out
    return lookup


def key_phrases(groups: Sequence[Sequence[ThemeText]], *, store: Store | None = None,
                top: int = 12) -> list[list[Phrase]]:
    """For each group (a theme's members), its most distinctive phrases, best first.

    score = (1 + log tf_c) · spread_c² · share_c · idf_archive · (1 + (words - 1) / 4), where
    tf_c is the phrase's count in the group's text, spread_c the fraction of the group's posts
    that use it, share_c its count in the group over its count in the whole day, and
    idf_archive the inverse document frequency of the phrase in the archive."""
    docs = [[(m.n, *_grams(member_document(m))) for m in g] for g in groups]
    heads_of = [" | ".join(f" {_norm(m.title)} " for m in g) for g in groups]
    bodies_of = [" | ".join(f" {_norm(m.summary)} | {_norm(' '.join(prose_sentences(m.text)))} "
                            for m in g) for g in groups]
    ends_of = [[f" {_norm(part)}" for m in g for part in _BREAK.split(m.title) if _norm(part)]
               for g in groups]
    day: Counter[str] = Counter()
    for g in docs:
        for _, counts, _ in g:
            day.update(counts)
    lookup = archive_frequency(store)
    out: list[list[Phrase]] = []
    for g, heads, bodies, ends in zip(docs, heads_of, bodies_of, ends_of, strict=True):
        tf: Counter[str] = Counter()
        holders: dict[str, list[int]] = {}
        forms: dict[str, Counter[str]] = {}
        for n, counts, fm in g:
            tf.update(counts)
            for k in counts:
                holders.setdefault(k, []).append(n)
                forms.setdefault(k, Counter()).update(fm[k])
        local = {k: (1 + math.log(c)) * (len(holders[k]) / len(g)) ** 2 * (c / day[k])
                 * (1 + k.count(" ") / 4) * (TITLE_BONUS if f" {k} " in heads else 1.0)
                 for k, c in tf.items()}
        best = sorted(local, key=lambda k: (-local[k], k))
        best = ([k for k in best if " " in k][:ARCHIVE_LOOKUPS // 2]
                + [k for k in best if " " not in k][:ARCHIVE_LOOKUPS // 2])
        total, df = lookup(best)
        phrases = []
        for k in best:
            idf = math.log((total + 1) / (df.get(k, 0) + 1)) + 1 if total else 1.0
            shown = max(forms[k].items(), key=lambda f: (f[1], f[0] != f[0].lower(), f[0]))[0]
            phrases.append(Phrase(k, shown, round(local[k] * idf, 4), sorted(holders[k]),
                                  f" {k} " in heads, f" {k} " in bodies,
                                  any(e.endswith(f" {k}") for e in ends)))
        phrases.sort(key=lambda p: (-p.score, p.key))
        multi = [p for p in phrases if " " in p.key][:top]  # names are made of these
        out.append(sorted(multi + [p for p in phrases if " " not in p.key][:top],
                          key=lambda p: (-p.score, p.key)))
    return out


def title_clash(name: str, titles: Sequence[str]) -> bool:
    """True when ``name`` is a title or nearly all of one: equal to it, or its first words
    covering at least three quarters of it (word-wise, case-insensitive).  A shorter part of a
    title ("Sparse autoencoder features" of "Sparse autoencoder features drift across
    fine-tuning") names the topic, not the post, and may stay."""
    key = _norm(name)
    if not key:
        return True
    for t in titles:
        tk = _norm(t)
        if tk == key or (tk.startswith(key + " ")
                         and len(key.split()) >= TITLE_SHARE * len(tk.split())):
            return True
    return False


def theme_name(phrases: Sequence[Phrase], titles: Sequence[str], size: int = 1) -> str:
    """2–5 words from the theme's key phrases, never a member's title (see
    :func:`title_clash`): its best multi-word phrase (a phrase of a member's title counts 1.5
    times), or a longer one containing it that scores nearly as well, joined with the next
    distinct multi-word phrase that several posts share or that another post uses, when the
    theme has several posts (a looser bar when the first phrase speaks for under half of
    them: the name should not speak for one post of several).  A theme of one post is named by
    a phrase its text uses or one that ends where its title (or a part of it) ends, when there
    is one: another piece of the title is mostly a broken one ("Testing in Brazilian" of "Field
    Testing in Brazilian Almost Military Training")."""
    def ok(name: str) -> bool:
        return 2 <= len(name.split()) <= 5 and not title_clash(name, titles)

    def cap(name: str) -> str:
        return name[0].upper() + name[1:] if name else name

    def lower(name: str) -> str:  # "Specification gaming" inside a name; "RLHF" stays
        return name[0].lower() + name[1:] if name[1:2].islower() else name

    multi = sorted([p for p in phrases if " " in p.key and not p.key.split()[0].endswith("ly")],
                   key=lambda p: -p.score)
    if size < 2:
        multi = [p for p in multi if p.in_body or p.ends_title_part] or multi
    loose = False
    for first in multi[:4]:
        longer = [p for p in multi if p.score >= 0.75 * first.score and p.key != first.key
                  and f" {first.key} " in f" {p.key} "]
        if longer and ok(longer[0].shown):
            first = longer[0]
        words = set(first.key.split())
        loose = 2 * len(first.posts) < size
        share = JOIN_SHARE_LOOSE if loose else JOIN_SHARE
        for second in multi:
            if size < 2 or second.score < share * first.score:
                break
            if words & set(second.key.split()) or (len(second.posts) < 2 and
                                                   set(second.posts) <= set(first.posts)):
                continue  # joined: a phrase several posts share, or another post's phrase
            name = f"{first.shown} and {lower(second.shown)}"
            if ok(name):
                return cap(name)
        if not loose and ok(first.shown):
            return cap(first.shown)
    for first in multi[:4]:  # a phrase of one post of several: the best that fits, alone
        if ok(first.shown):
            return cap(first.shown)
    singles = [p for p in phrases if " " not in p.key]
    if len(singles) >= 2 and ok(f"{singles[0].shown} and {singles[1].shown}"):
        return cap(f"{singles[0].shown} and {singles[1].shown}")
    if singles and ok(f"Posts on {singles[0].shown}"):
        return f"Posts on {singles[0].shown}"
    return "Other posts of the day"


def with_marker(sentence: str, n: int) -> str:
    """``sentence`` with ``[n]`` before its closing punctuation."""
    s = sentence.rstrip()
    m = re.match(r"^(.*?)([.!?]+[\"”’)]*)?$", s, re.S)
    body, end = (m.group(1), m.group(2) or ".") if m else (s, ".")
    return f"{body.rstrip()} [{n}]{end}"


def key_bullets(members: Sequence[ThemeText]) -> list[tuple[int, str]]:
    """(n, bullet): each key post's key sentence — the first sentence of its summary — cited."""
    out = []
    for m in members[:MAX_BULLETS]:
        first = first_sentences(m.summary, 1).strip()
        if first:
            out.append((m.n, with_marker(first, m.n)))
    return out


# --- implications ------------------------------------------------------------------------------
CUES: tuple[tuple[str, float], ...] = (
    ("the upshot", 3.0), ("matters because", 3.0), ("if this is right", 3.0),
    ("the implication", 3.0), ("i think we should", 3.0), ("we should", 2.5),
    ("it follows", 2.5), ("the lesson", 2.5), ("i recommend", 2.5), ("is important because", 2.5),
    ("we need to", 2.0), ("this is important", 2.0), ("therefore", 1.5), ("as a result", 1.5),
    ("implies", 1.0), ("suggests that", 1.0), ("should", 1.0), ("it would be", 1.0),
)
_CUE_RE = [(re.compile(rf"\b{re.escape(c)}\b", re.I), w) for c, w in CUES]
# "This suggests / implies / means …" draws a consequence from what came before; "the model's
# reasoning implies that it believes …" only reports what the data showed (weight 1 above)
_CONSEQUENCE = re.compile(r"^(?:this|that|it|which|these|those|all this|taken together)\b"
                          r"[^.;]{0,40}?\b(?:suggests?|impl(?:y|ies)|means?)\b", re.I)


def cue_weight(sentence: str) -> float:
    if _CONSEQUENCE.search(sentence):
        return 3.0
    return max((w for r, w in _CUE_RE if r.search(sentence)), default=0.0)


def usable_sentence(s: str) -> bool:
    """A sentence fit to quote on its own: 6–45 words, a capital start, a final full stop, no
    question, link, marker or leftover markup."""
    words = s.split()
    return (6 <= len(words) <= 45 and s[:1].isupper() and s.endswith(".")
            and not s.endswith("..") and "?" not in s and "http" not in s
            and not re.search(r"[\[\]{}<>|*_#`^]|\b(?:e\.g|i\.e|etc)\.$", s))


def implications(members: Sequence[ThemeText], phrases: Sequence[Phrase],
                 sentences_of: Callable[[str], Sequence[str]] = prose_sentences
                 ) -> list[tuple[int, str]]:
    """(n, sentence [n]): at most one consequence or proposal per post, strongest cue first,
    ties to the sentence that uses more of the theme's key phrases; none without a cue, and
    never the post's key sentence (the theme's bullet already says it)."""
    keys = [p.key for p in phrases[:10]]
    found: list[tuple[float, int, str]] = []
    for m in members:
        best: tuple[float, int, str] | None = None
        bullet = _norm(first_sentences(m.summary, 1))
        for i, s in enumerate(sentences_of(m.text)):
            s = s.strip()
            w = cue_weight(s)
            if w <= 0 or not usable_sentence(s) or (bullet and _norm(s) == bullet):
                continue
            low = _norm(s)
            score = w + 0.5 * sum(1 for k in keys if f" {k} " in f" {low} ") - 0.001 * i
            if best is None or score > best[0]:
                best = (score, m.n, s)
        if best is not None:
            found.append(best)
    found.sort(key=lambda f: (-f[0], f[1]))
    chosen = sorted(found[:MAX_IMPLICATIONS], key=lambda f: f[1])
    return [(n, with_marker(s, n)) for _, n, s in chosen]
