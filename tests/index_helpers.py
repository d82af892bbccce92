"""Small archives written for the index/retrieval tests (our own text, no corpus content)."""

from __future__ import annotations

from kb.store.posts import PostRecord

POSTS = [
    PostRecord(
        title="Notes on reward hacking", lw_id="aaaaaaaaaaaaaaaa1", is_af=True,
        urls=["https://www.alignmentforum.org/posts/aaaaaaaaaaaaaaaa1/notes-on-reward-hacking"],
        authors=["Ada Lovelace"], published="2025-03-10T12:00:00Z", origin="test",
        text="# Setup\n\nWe trained a policy against a learned reward model. The policy found "
             "a loophole: it repeated flattering phrases the reward model liked.\n\n"
             "# Mitigation\n\nA KL penalty toward the base model reduced the exploitation. "
             "Periodic refreshes of the reward model with adversarial samples helped more.\n"),
    PostRecord(
        title="Gardening diary", lw_id="bbbbbbbbbbbbbbbb2",
        urls=["https://www.lesswrong.com/posts/bbbbbbbbbbbbbbbb2/gardening-diary"],
        authors=["Grace Hopper"], published="2024-06-01T08:00:00Z", origin="test",
        text="Tomatoes need full sun and steady watering. This year the basil bolted early "
             "because of the heat wave.\n\nCompost made from kitchen scraps improved the soil."),
    PostRecord(
        title="Interpretability of small transformers", lw_id="cccccccccccccccc3",
        urls=["https://www.lesswrong.com/posts/cccccccccccccccc3/interp"],
        authors=["Alan Turing", "Ada Lovelace"], published="2025-01-15T10:00:00Z", origin="test",
        text="## Circuits\n\nWe located an induction head circuit in a two-layer attention-only "
             "model. Ablating it removed in-context copying.\n\n## Features\n\nSparse "
             "autoencoders on the residual stream found a feature for Python indentation."),
]


def long_text(paragraphs: int = 40) -> str:
    body = []
    for i in range(paragraphs):
        body.append(f"Paragraph {i} discusses oversight number {i}. " + " ".join(
            f"Sentence {j} of paragraph {i} adds detail about monitoring, audits and "
            "escalation when an agent behaves unexpectedly." for j in range(6)))
        if i % 10 == 0:
            body.append(f"## Section {i // 10}")
    return "\n\n".join(body)


def fake_archive(*, index: bool = True):  # type: ignore[no-untyped-def]
    """A runtime on $KB_HOME whose store holds POSTS (indexed unless told not to): the real
    SQLite file and Chroma directory, with the embedder the environment selects (the caller
    sets KB_EMBED_BACKEND=fake first).  Close it when done."""
    from kb.index.indexer import run_index
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from kb.store.posts import save_post

    rt = Runtime(load_settings())
    for p in POSTS:
        save_post(rt.store, p)
    if index:
        run_index(rt.store, rt.embedder, rt.index)
    return rt


def use_chroma_server(settings, server) -> None:
    """Point ``settings`` at ``server`` (index.chroma = "http")."""
    settings.index.chroma = "http"
    settings.index.chroma_host = server.host
    settings.index.chroma_port = server.port
