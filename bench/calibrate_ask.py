"""Calibrate the `kb ask` thresholds of digest/support.py on corpus posts with the real embedder.

Run: ``.venv/bin/python -m bench.calibrate_ask [--posts 60]`` (about a minute on 2 cores).

Support check.  From each sampled post we take paragraphs (300–1500 chars) and one sentence
(60–300 chars) of each.  Pairs:

- *true, verbatim*: the sentence against its own paragraph (a claim quoted from the passage);
- *true, context*: the sentence against its paragraph with that sentence removed (a claim the
  passage supports without repeating it word for word — closer to a model's paraphrase);
- *random*: the sentence against a paragraph of another post.

Relevance (abstention).  On-topic queries are post titles against the best of their own
paragraphs; off-topic queries are everyday questions written here (cooking, sport, travel…)
against the best paragraph of the whole sample, i.e. what a retriever would return.

The numbers of the last run and the thresholds chosen from them are recorded in the comment
above the constants in digest/support.py.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from bench.lw_sample import markdown_of

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CORPUS = REPO.parent / "shared" / "corpus"
DATASET = "datasets/lw-top20-users-posts_aisafetyconnect_2025-09-27/posts"

OFF_TOPIC = [
    "What is the best recipe for sourdough bread?",
    "How do I change the oil in a 2012 Honda Civic?",
    "Who won the 1998 football World Cup?",
    "What are good hiking trails near Lake Tahoe?",
    "How long should I boil an egg for a soft yolk?",
    "What is the capital of Australia?",
    "How do I knit a scarf for beginners?",
    "Which houseplants survive with little sunlight?",
    "What is the plot of the opera Carmen?",
    "How do I remove red wine stains from a carpet?",
    "What are the rules of cricket?",
    "When is the best season to visit Japan for cherry blossoms?",
    "How much water does a cactus need?",
    "What is a good warm-up routine before running a marathon?",
    "How do I make a cappuccino without a machine?",
    "Which paint colours go well with a grey sofa?",
    "How do tides work on the Atlantic coast of France?",
    "What should I pack for a week of skiing?",
    "How do I train a puppy to sit?",
    "What is the history of the Eiffel Tower?",
]




def sample_posts(n: int, seed: int = 7) -> list[tuple[str, str]]:
    """(title, markdown) of ``n`` posts spread over the dataset's authors."""
    files = sorted((CORPUS / DATASET).glob("*.json"))
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    per = max(1, n // max(1, len(files)) + 1)
    for f in files:
        posts = [p for p in json.loads(f.read_text(encoding="utf-8"))
                 if len(markdown_of(p)) > 1500]
        for p in rng.sample(posts, min(per, len(posts))):
            out.append((p["title"], markdown_of(p)))
    rng.shuffle(out)
    return out[:n]


_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def paragraphs(md: str) -> list[str]:
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", md)]
    return [p for p in paras if 300 <= len(p) <= 1500 and not p.startswith(("#", "|", "!["))]


def pct(xs: list[float]) -> str:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=20)
    return f"p5={q[0]:.3f} p50={statistics.median(xs):.3f} p95={q[-1]:.3f} (n={len(xs)})"


def rate(xs: list[float], t: float) -> float:
    return sum(x >= t for x in xs) / len(xs)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--posts", type=int, default=60)
    args = ap.parse_args(argv)

    from digest.support import cosine, is_supported, overlap
    from kb.runtime import Runtime
    from kb.settings import load_settings

    emb = Runtime(load_settings()).embedder
    rng = random.Random(11)
    items = []  # (post index, title, paragraph, sentence, paragraph without sentence)
    posts = sample_posts(args.posts)
    for i, (title, md) in enumerate(posts):
        for para in rng.sample(paragraphs(md), min(3, len(paragraphs(md)))):
            sents = [s for s in _SENT.split(para) if 60 <= len(s) <= 300]
            if len(sents) < 1 or len(_SENT.split(para)) < 2:
                continue
            s = rng.choice(sents)
            items.append((i, title, para, s, para.replace(s, " ").strip()))
    sents = [x[3] for x in items]
    vec = emb.embed_documents(sents + [x[2] for x in items] + [x[4] for x in items])
    n = len(items)
    sv, pv, cv = vec[:n], vec[n:2 * n], vec[2 * n:]
    others = [rng.choice([j for j in range(n) if items[j][0] != items[i][0]]) for i in range(n)]
    pairs = {
        "true_verbatim": [(cosine(sv[i], pv[i]), overlap(sents[i], items[i][2])) for i in range(n)],
        "true_context": [(cosine(sv[i], cv[i]), overlap(sents[i], items[i][4])) for i in range(n)],
        "random": [(cosine(sv[i], pv[j]), overlap(sents[i], items[j][2]))
                   for i, j in enumerate(others)],
    }
    report: dict[str, Any] = {"posts": len(posts), "pairs": n}
    for name, vals in pairs.items():
        print(f"{name:14s} sim {pct([v[0] for v in vals])}")
        print(f"{'':14s} ovl {pct([v[1] for v in vals])}")
        report[name] = {"supported": sum(is_supported(*v) for v in vals) / n}
        print(f"{'':14s} marked supported with the current thresholds: "
              f"{report[name]['supported']:.1%}")

    print("grid (sim >= a and (ovl >= b or sim >= c)): context-supported / random-supported")
    for a in (0.25, 0.3, 0.35):
        for b in (0.15, 0.2, 0.3):
            for c in (0.45, 0.5, 0.55):
                ok = [sum(v[0] >= a and (v[1] >= b or v[0] >= c) for v in pairs[k]) / n
                      for k in ("true_verbatim", "true_context", "random")]
                print(f"  a={a} b={b} c={c}: verbatim {ok[0]:.1%} context {ok[1]:.1%} "
                      f"random {ok[2]:.1%}")

    # relevance: titles vs their own paragraphs, off-topic questions vs the best paragraph
    titles = sorted({x[1] for x in items})
    tv = [emb.embed_query(t) for t in titles]
    on = [max(cosine(tv[k], pv[i]) for i in range(n) if items[i][1] == t)
          for k, t in enumerate(titles)]
    off = [max(cosine(emb.embed_query(q), p) for p in pv) for q in OFF_TOPIC]
    print(f"{'on-topic':14s} best sim {pct(on)}")
    print(f"{'off-topic':14s} best sim {pct(off)}")
    from digest.support import RELEVANCE_SIM

    report["relevance"] = {"on_topic_kept": rate(on, RELEVANCE_SIM),
                           "off_topic_kept": rate(off, RELEVANCE_SIM)}
    print(f"RELEVANCE_SIM={RELEVANCE_SIM}: on-topic kept {rate(on, RELEVANCE_SIM):.1%}, "
          f"off-topic kept {rate(off, RELEVANCE_SIM):.1%}")
    for t in (0.2, 0.25, 0.3, 0.35, 0.4):
        print(f"  t={t}: on-topic kept {rate(on, t):.1%}, off-topic kept {rate(off, t):.1%}")
    return report


if __name__ == "__main__":
    main()
