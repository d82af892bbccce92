"""The adversarial claim set: true sentences of real posts, paraphrases, and claims that must
not pass (negations, swapped numbers, swapped names, another post's sentence, topic-only).

The committed file, tests/eval/claims_spec.jsonl, holds only post ids, character offsets into
the post's text (as bench.lw_sample reads it from ../shared/corpus) and the edit to make —
never the corpus text, which stays where it is.  ``build`` turns it into the JSONL that
`kb eval claims` reads.

    python -m bench.claims make-spec            # regenerate tests/eval/claims_spec.jsonl
    python -m bench.claims build OUT.jsonl      # materialize the claims from the corpus
    python -m bench.claims archive KB_HOME      # an archive of the spec's posts, indexed
    KB_HOME=... kb eval claims OUT.jsonl --json # the measurement (README "Claim checks")

The archive holds the spec's posts in full (the offsets are into the full text); ``archive``
indexes them with the embedder the settings select (the real MiniLM by default), though `kb eval
claims` needs only the store: a post that is not indexed is split the same way on the fly.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench.lw_sample import load_lw_posts, sample
from kb.store.posts import PostRecord

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "tests" / "eval" / "claims_spec.jsonl"
CORPUS = REPO.parent / "shared" / "corpus"

# paraphrase edits: (word, replacement) — meaning kept, wording changed
SYNONYMS = {
    "shows": "demonstrates", "show": "demonstrate", "uses": "employs", "use": "employ",
    "important": "crucial", "big": "large", "large": "big", "method": "approach",
    "methods": "approaches", "find": "discover", "found": "discovered", "think": "believe",
    "believe": "think", "hard": "difficult", "difficult": "hard", "easy": "simple",
    "help": "assist", "helps": "assists", "often": "frequently", "quickly": "rapidly",
    "get": "obtain", "gets": "obtains", "make": "create", "makes": "creates",
    "problem": "issue", "problems": "issues", "idea": "notion", "ideas": "notions",
    "also": "additionally", "however": "nevertheless", "main": "primary", "start": "begin",
    "begin": "start", "seems": "appears", "seem": "appear", "need": "require",
    "needs": "requires", "try": "attempt", "tries": "attempts", "about": "regarding",
    "maybe": "perhaps", "perhaps": "maybe", "answer": "response", "goal": "aim",
    "goals": "aims", "result": "outcome", "results": "outcomes", "example": "instance",
}
NEGATE = [(r"\bis\b", "is not"), (r"\bare\b", "are not"), (r"\bcan\b", "cannot"),
          (r"\bwill\b", "will not"), (r"\bwas\b", "was not"), (r"\bwere\b", "were not"),
          (r"\bdoes\b", "does not"), (r"\bdo\b", "do not"), (r"\bhas\b", "does not have"),
          (r"\bshould\b", "should not"), (r"\bwould\b", "would not"),
          (r"\bcould\b", "could not")]
UNNEGATE = [(r"\bis not\b", "is"), (r"\bare not\b", "are"), (r"\bcannot\b", "can"),
            (r"\bdon't\b", "do"), (r"\bdoesn't\b", "does"), (r"\bisn't\b", "is"),
            (r"\baren't\b", "are"), (r"\bwon't\b", "will"), (r"\bnever\b", "always"),
            (r"\bdo not\b", "do"), (r"\bdoes not\b", "does"), (r"\bnot\b", "")]
NUMBER = re.compile(r"(?<![\w.$])\d+(?:\.\d+)?(?:%| ?percent)?")
MIDNAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?:[A-Z][a-z]+)?\b|\b[A-Z]{2,6}s?\b")
SENT = re.compile(r"[^.!?\n]{40,260}[.!?](?=\s|$)")
TOPIC = ["{t} is widely considered solved by the alignment community.",
         "The post shows that {t} will be fully automated within two years.",
         "According to the post, {t} was first proposed by a government committee.",
         "The author concludes that {t} makes every other safety measure unnecessary."]


def _sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of prose sentences in a post (no headings, lists, links or code)."""
    out = []
    for m in SENT.finditer(text):
        s = m.group().strip()
        a = m.start() + m.group().index(s[:10])
        if any(c in s for c in "[]()`*#|>_=\\<") or "http" in s or len(s.split()) < 8:
            continue
        if not s[0].isupper() or s.endswith("?"):
            continue
        out.append((a, a + len(s)))
    return out


def _paraphrase(s: str) -> dict[str, Any] | None:
    words = re.findall(r"[A-Za-z]+", s)
    swaps = [(w, SYNONYMS[w]) for w in dict.fromkeys(words) if w in SYNONYMS][:2]
    lead = re.match(r"^(However|Also|So|In particular|In fact|Of course|Still|Thus|Indeed),\s+", s)
    if not swaps and not lead:
        return None
    return {"op": "paraphrase", "swaps": swaps, "drop_lead": bool(lead)}


def _negate(s: str) -> dict[str, Any] | None:
    for pat, rep in UNNEGATE:
        if re.search(pat, s):
            return {"op": "sub", "pattern": pat, "repl": rep}
    for pat, rep in NEGATE:
        if re.search(pat, s):
            return {"op": "sub", "pattern": pat, "repl": rep}
    return None


def _renumber(s: str, post_text: str, rng: random.Random) -> dict[str, Any] | None:
    nums = [m.group() for m in NUMBER.finditer(s)]
    if not nums:
        return None
    old = nums[0]
    base = old.rstrip("%").replace(" percent", "").strip()
    suffix = old[len(base):]
    for _ in range(20):
        v = float(base)
        if 1900 <= v <= 2100 and "." not in base:  # a year: a nearby one
            new_v = v + rng.choice([-3, -2, -1, 1, 2, 3])
        elif v <= 31:  # small counts, days, months: a close but different one
            new_v = v + rng.choice([1, 2, 3, 5])
        else:
            new_v = v * rng.choice([2, 3, 0.5]) + rng.choice([0, 1, 7])
        new = (f"{new_v:.1f}" if "." in base else str(int(round(new_v)))) + suffix
        if new != old and new.rstrip("%") not in post_text:
            return {"op": "replace", "old": old, "new": new}
    return None


def _rename(s: str, post_text: str, names: list[str], rng: random.Random) -> dict[str, Any] | None:
    found = [m.group() for m in MIDNAME.finditer(s) if len(m.group()) > 2]
    if not found:
        return None
    old = found[0]
    pool = [n for n in names if n.lower() not in post_text.lower() and n != old]
    if not pool:
        return None
    return {"op": "replace", "old": old, "new": rng.choice(pool)}


def apply(text: str, edit: dict[str, Any]) -> str:
    op = edit["op"]
    if op == "none":
        return text
    if op == "paraphrase":
        out = text
        if edit.get("drop_lead"):
            out = re.sub(r"^\w+(?: \w+)?,\s+", "", out)
            out = out[0].upper() + out[1:]
        for old, new in edit["swaps"]:
            out = re.sub(rf"\b{old}\b", new, out, count=1)
        return out
    if op == "sub":
        return re.sub(r"\s{2,}", " ", re.sub(edit["pattern"], edit["repl"], text, count=1))
    if op == "replace":
        return text.replace(edit["old"], edit["new"], 1)
    if op == "template":
        return str(edit["template"]).format(t=edit["topic"])
    raise ValueError(f"unknown edit {op!r}")


def make_spec(corpus: Path, posts: int = 70, seed: int = 5) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    recs = [r for r in sample(load_lw_posts(corpus), posts * 2) if len(r.text) > 1500][:posts]
    names = sorted({m.group() for r in recs for m in MIDNAME.finditer(r.text[:20000])
                    if m.group().istitle() and len(m.group()) > 3})
    out: list[dict[str, Any]] = []
    for i, r in enumerate(recs):
        spans = _sentences(r.text)
        if len(spans) < 6:
            continue
        rng.shuffle(spans)
        pid = str(r.lw_id)

        def add(kind: str, span: tuple[int, int], edit: dict[str, Any], expected: str,
                src: str = pid, p: str = pid) -> None:
            out.append({"post_id": p, "source_post": src, "start": span[0], "end": span[1],
                        "kind": kind, "edit": edit, "expected": expected})

        used = 0
        for span in spans:
            s = r.text[span[0]:span[1]]
            if used < 1:
                add("true", span, {"op": "none"}, "supported")
                used += 1
                continue
            para = _paraphrase(s)
            if para and sum(1 for x in out if x["post_id"] == pid and x["kind"] == "paraphrase") < 2:
                add("paraphrase", span, para, "supported")
                continue
            for kind, edit in (("negation", _negate(s)), ("number", _renumber(s, r.text, rng)),
                               ("entity", _rename(s, r.text, names, rng))):
                if edit and sum(1 for x in out if x["post_id"] == pid and x["kind"] == kind) < 1:
                    add(kind, span, edit, "not_supported")
                    break
        other = recs[(i + 7) % len(recs)]
        ospans = _sentences(other.text)
        if ospans:
            add("other_post", rng.choice(ospans), {"op": "none"}, "not_supported",
                src=str(other.lw_id))
        topic = re.sub(r"[^\w\s-]", "", r.title).strip()
        if topic:
            out.append({"post_id": pid, "source_post": pid, "start": 0, "end": 0,
                        "kind": "topic", "expected": "not_supported",
                        "edit": {"op": "template", "template": rng.choice(TOPIC),
                                 "topic": topic[:80]}})
    return out


def build(spec: Path, corpus: Path) -> list[dict[str, str]]:
    """The claims of ``spec``, materialized from the corpus (the lines `kb eval claims`
    reads)."""
    return materialize(spec_items(spec), corpus)


def spec_items(spec: Path = SPEC, every: int = 1) -> list[dict[str, Any]]:
    """The spec's lines (every ``every``-th, for a quicker subset)."""
    items = [json.loads(line) for line in spec.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    return items[::every]


def materialize(items: list[dict[str, Any]], corpus: Path) -> list[dict[str, str]]:
    """The claims of spec ``items`` with their text from the corpus."""
    texts = {r.lw_id: r.text for r in load_lw_posts(corpus)}
    return [{"claim": apply(texts[it["source_post"]][it["start"]:it["end"]], it["edit"]),
             "post_id": it["post_id"], "expected": it["expected"], "kind": it["kind"]}
            for it in items]


def spec_posts(items: list[dict[str, Any]], corpus: Path) -> list[PostRecord]:
    """The corpus posts the claims of ``items`` are checked against."""
    wanted = {it["post_id"] for it in items}
    return [r for r in load_lw_posts(corpus) if r.lw_id in wanted]


def make_archive(home: Path, items: list[dict[str, Any]], corpus: Path, *,
                 index: bool = True) -> int:
    """Save the posts of ``items`` into the archive at ``home`` (and index them); returns
    the number of posts."""
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    rt = Runtime(load_settings(env={}, home=home))
    try:
        posts = spec_posts(items, corpus)
        for r in posts:
            save_post(rt.store, r)
        if index:
            run_index(rt.store, rt.embedder, rt.index)
        return len(posts)
    finally:
        rt.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.claims", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("make-spec")
    b = sub.add_parser("build")
    b.add_argument("out", type=Path)
    a = sub.add_parser("archive", help="save (and index) the spec's posts into KB_HOME")
    a.add_argument("home", type=Path)
    a.add_argument("--no-index", action="store_true")
    ap.add_argument("--corpus", type=Path, default=CORPUS)
    args = ap.parse_args(argv)
    if args.cmd == "make-spec":
        items = make_spec(args.corpus)
        SPEC.write_text("".join(json.dumps(x, sort_keys=True) + "\n" for x in items),
                        encoding="utf-8")
        print(f"{len(items)} claims: {dict(Counter(x['kind'] for x in items))}", file=sys.stderr)
        return 0
    if args.cmd == "archive":
        n = make_archive(args.home, spec_items(), args.corpus, index=not args.no_index)
        print(f"{n} posts saved to {args.home}", file=sys.stderr)
        return 0
    claims = build(SPEC, args.corpus)
    args.out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in claims),
                        encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
