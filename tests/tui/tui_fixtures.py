"""A tiny archive written for these tests (our own text, fixed dates) and helpers to build it."""

from __future__ import annotations

from pathlib import Path

from digest.support import terms
from kb.embed.fake import FakeEmbedder
from kb.store.db import Store
from kb.store.posts import PostRecord, save_post

GRID_ID = "GridWorldRewardAb"  # 17 characters: a LessWrong-style id
GRID_URL = f"https://www.lesswrong.com/posts/{GRID_ID}/reward-hacking-in-small-gridworlds"
OVERSIGHT_URL = "https://example-alignment.blog/notes-on-scalable-oversight"
TOY_URL = "https://example-alignment.blog/toy-transformers"
EVIL_URL = "https://evil.example/ansi"
EVIL_TITLE = "[bold red]x[/] \x1b[31mred alert\x1b[0m title"

_GRID_PARAS = [
    "# Reward hacking in small gridworlds",
    "We trained a tabular agent in a five by five gridworld where the reward came from a "
    "sensor tile rather than from the goal itself.",
    "In the first run the agent learned to reach the goal tile, which is what we intended.",
    "In the second run we moved the sensor one tile to the left of the goal.",
    "The agent quickly discovered that standing on the sensor paid just as well as reaching "
    "the goal, and it stopped walking any further.",
    "This is a toy, but it shows the shape of the problem: the optimiser finds whatever the "
    "measurement rewards, not what the designer meant.",
    "## What we tried",
    "We added a penalty for staying still. The agent learned to oscillate between two tiles "
    "next to the sensor, collecting most of the reward while technically moving.",
    "We then randomised the sensor position each episode. This worked better, since no fixed "
    "shortcut existed, but training took four times as long.",
    "## A lesson about proxies",
    "The sensor tile is a proxy. Every proxy we tried leaked somewhere, and the leak was "
    "always found by the agent before it was found by us.",
    "Our tentative conclusion is that proxy quality matters less than how hard the proxy is "
    "optimised: a weak optimiser on a leaky proxy behaved acceptably.",
    "## Next steps",
    "We want to measure how the time to discover a shortcut scales with the agent's capacity.",
    "If the scaling is steep, small-scale tests will systematically underestimate the problem.",
]
GRID_TEXT = "\n\n".join(_GRID_PARAS)
GRID_PASSAGE = "Every proxy we tried leaked somewhere"

OVERSIGHT_V1 = (
    "Scalable oversight asks how a weaker overseer can check the work of a stronger system.\n\n"
    "Debate is one proposal: two copies argue and a judge picks the more convincing side.\n\n"
    "We are unsure whether debate helps when the judge is very weak."
)
OVERSIGHT_V2 = (
    "Scalable oversight asks how a weaker overseer can check the work of a stronger system.\n\n"
    "Debate is one proposal: two copies argue and a judge picks the more honest side.\n\n"
    "We are unsure whether debate helps when the judge is very weak.\n\n"
    "Update: a small pilot with human judges suggests it helps a little."
)
TOY_TEXT = (
    "We looked at a two layer attention-only transformer trained on sorted lists.\n\n"
    "One head learned to copy the smallest remaining token, which we could read directly "
    "from its attention pattern.\n\n"
    "Interpretability of toy models is easy; the question is whether the methods scale."
)
EVIL_TEXT = "Body with [bold]markup[/bold] and \x1b[2Jescape codes, shown literally."

DIGEST_DAY = "2025-03-11"
DIGEST_MD = f"""# Digest for {DIGEST_DAY}

## Themes

### Proxies leak
Optimisers find the gap between a measurement and the goal [1].

### Oversight with weak judges
Debate may help weak judges a little [2].

## Key posts

- [Reward hacking in small gridworlds]({GRID_URL}) — a sensor tile shows proxy gaming.
- [Notes on scalable oversight]({OVERSIGHT_URL}) — debate with weak judges.

## Summaries

- [Interpretability of toy transformers]({TOY_URL}): a head that copies the smallest token.
"""
OLDER_DAY = "2025-03-10"
OLDER_MD = f"# Digest for {OLDER_DAY}\n\nA quiet day: one post about [toy models]({TOY_URL}).\n"


def build_archive(store: Store, digests_dir: Path, *, digests: bool = True) -> dict[str, str]:
    """Save the fixture posts (fixed dates) and digest files.  Returns name -> post id."""
    ids: dict[str, str] = {}
    ids["grid"], _ = save_post(store, PostRecord(
        title="Reward hacking in small gridworlds", text=GRID_TEXT, urls=[GRID_URL],
        authors=["Ada Example", "Ben Sample"], published="2025-03-10T09:00:00Z", lw_id=GRID_ID,
        origin="feed:lw"))
    ids["oversight"], _ = save_post(store, PostRecord(
        title="Notes on scalable oversight", text=OVERSIGHT_V1, urls=[OVERSIGHT_URL],
        authors=["Cy Writer"], published="2025-03-11T08:00:00Z", origin="feed:blog"))
    save_post(store, PostRecord(
        title="Notes on scalable oversight", text=OVERSIGHT_V2, urls=[OVERSIGHT_URL],
        authors=["Cy Writer"], published="2025-03-11T08:00:00Z", origin="feed:blog"))
    ids["toy"], _ = save_post(store, PostRecord(
        title="Interpretability of toy transformers", text=TOY_TEXT, urls=[TOY_URL],
        authors=["Dee Author"], published="2025-03-11T07:00:00Z", origin="feed:blog"))
    ids["evil"], _ = save_post(store, PostRecord(
        title=EVIL_TITLE, text=EVIL_TEXT, urls=[EVIL_URL], authors=["[i]Mallory[/i]"],
        published="2025-03-09T10:00:00Z", origin="feed:evil"))
    with store.tx() as conn:  # fixed times, so screens and snapshots never show the clock
        conn.execute("UPDATE post_versions SET fetched_at = '2025-03-1' || version || 'T12:00:00Z'")
        conn.execute("UPDATE posts SET first_seen_at = '2025-03-11T12:00:00Z'")
        conn.execute("UPDATE posts SET changed_at = '2025-03-12T12:00:00Z' "
                     "WHERE changed_at IS NOT NULL")
    if digests:
        digests_dir.mkdir(parents=True, exist_ok=True)
        (digests_dir / f"{DIGEST_DAY}.md").write_text(DIGEST_MD, encoding="utf-8")
        (digests_dir / f"{OLDER_DAY}.md").write_text(OLDER_MD, encoding="utf-8")
    return ids


class WordEmbedder(FakeEmbedder):
    """Bag of content words (digest.support.terms): a deterministic embedder whose cosine
    behaves like a crude similarity on the scale ask's relevance and support checks use."""

    def __init__(self) -> None:
        super().__init__(512)

    def _vec(self, text: str) -> list[float]:
        return super()._vec(" ".join(sorted(terms(text))))
