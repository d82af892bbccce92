"""`kb check CLAIM [--post ID] [--k N] [--json]` on a small archive written for these tests.

The contract tests use the bag-of-words embedder and the real Chroma index; one test runs
the real ONNX embedder (marker ``model``)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_ask import WordEmbedder

from kb.cli import cli
from kb.store.posts import PostRecord, get_post, save_post

GRID = PostRecord(
    title="Reward hacking in a small gridworld", lw_id="gridgridgridgrid1",
    urls=["https://www.lesswrong.com/posts/gridgridgridgrid1/reward-hacking-gridworld"],
    authors=["Ada Tester"], published="2025-03-10T12:00:00Z", origin="test",
    text="We trained a tabular agent in a five by five gridworld whose reward came from a "
         "sensor tile. In our runs, 12% of the 400 episodes ended with the agent standing on "
         "the sensor tile instead of reaching the goal. The agent found the sensor exploit "
         "within ten minutes of training.\n\nA penalty for standing still did not remove the "
         "exploit: the agent learned to step back and forth between two tiles next to the "
         "sensor.")
GARDEN = PostRecord(
    title="Gardening diary", lw_id="gardengardengard2",
    urls=["https://www.lesswrong.com/posts/gardengardengard2/gardening-diary"],
    authors=["Grace Hopper"], published="2024-06-01T08:00:00Z", origin="test",
    text="Tomatoes need full sun and steady watering. This year the basil bolted early "
         "because of the heat wave.\n\nCompost made from kitchen scraps improved the soil.")
SAE = PostRecord(
    title="Sparse autoencoders on a small transformer", lw_id="saesaesaesaesaes3",
    urls=["https://www.lesswrong.com/posts/saesaesaesaesaes3/sae"],
    authors=["Alan Turing"], published="2025-01-15T10:00:00Z", origin="test",
    text="Sparse autoencoders trained on the residual stream of a two-layer transformer found "
         "a feature for Python indentation and a feature for base64 text.")

TOP_KEYS = {"claim", "verdict", "evidence"}
EVIDENCE_KEYS = {"post_id", "title", "url", "published", "text", "start", "end", "verdict",
                 "reasons"}
VERDICTS = {"supported", "weak", "contradicted", "unsupported"}
TRUE_CLAIM = ("In our runs, 12% of the 400 episodes ended with the agent standing on the "
              "sensor tile instead of reaching the goal.")
NUMBER_SWAP = TRUE_CLAIM.replace("12%", "21%")


@pytest.fixture
def archive(monkeypatch, settings, store) -> dict[str, str]:
    """GRID, GARDEN and SAE saved and indexed (word embedder, Chroma under KB_HOME); the CLI
    builds the same embedder.  Name -> post id."""
    from kb.index.indexer import run_index
    from kb.runtime import Runtime

    monkeypatch.setattr("kb.embed.factory.build_embedder", lambda s: WordEmbedder())
    ids = {name: save_post(store, rec)[0]
           for name, rec in (("grid", GRID), ("garden", GARDEN), ("sae", SAE))}
    rt = Runtime(settings, store=store)
    run_index(store, rt.embedder, rt.index)
    rt.close()
    return ids


def kb_check(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(cli, ["check", *args])
    return r.exit_code, r.output


def as_json(*args: str) -> dict:
    code, out = kb_check(*args, "--json")
    assert code == 0, out
    return json.loads(out)


def test_json_is_exactly_the_contract(archive, store):
    data = as_json(TRUE_CLAIM)
    assert set(data) == TOP_KEYS
    assert data["claim"] == TRUE_CLAIM and data["verdict"] == "supported"
    assert data["evidence"]
    grid = get_post(store, archive["grid"])
    for ev in data["evidence"]:
        assert set(ev) == EVIDENCE_KEYS
        assert ev["verdict"] in VERDICTS and isinstance(ev["reasons"], list)
        assert isinstance(ev["start"], int) and isinstance(ev["end"], int)
        post = get_post(store, ev["post_id"])
        assert post is not None
        assert (ev["title"], ev["url"], ev["published"]) == (
            post.title, post.canonical_url, post.published)
        assert post.text[ev["start"]:ev["end"]] == ev["text"]  # the offsets locate the passage
    first = data["evidence"][0]
    assert first["post_id"] == grid.id and first["verdict"] == "supported"


def test_a_swapped_number_is_contradicted_and_says_why(archive):
    data = as_json(NUMBER_SWAP)
    assert data["verdict"] == "contradicted"
    grid = next(e for e in data["evidence"] if e["post_id"] == archive["grid"])
    assert grid["verdict"] == "contradicted"
    assert any("21%" in r and "12%" in r for r in grid["reasons"])


def test_the_text_output_shows_verdict_passages_links_offsets_and_why(archive):
    code, out = kb_check(NUMBER_SWAP)
    assert code == 0, out
    assert out.splitlines()[0] == "contradicted"
    assert "Reward hacking in a small gridworld — 2025-03-10" in out
    assert "https://www.lesswrong.com/posts/gridgridgridgrid1/reward-hacking-gridworld" in out
    assert "chars 0–" in out
    assert "why:" in out and "21%" in out and "12%" in out


def test_post_restricts_the_check_to_that_post(archive):
    data = as_json(TRUE_CLAIM, "--post", archive["sae"])
    assert data["evidence"] and {e["post_id"] for e in data["evidence"]} == {archive["sae"]}
    assert data["verdict"] != "supported"  # the SAE post does not say it
    data = as_json(TRUE_CLAIM, "--post", archive["grid"])
    assert {e["post_id"] for e in data["evidence"]} == {archive["grid"]}
    assert data["verdict"] == "supported"


def test_post_accepts_a_url(archive):
    data = as_json(TRUE_CLAIM, "--post", GRID.urls[0])
    assert {e["post_id"] for e in data["evidence"]} == {archive["grid"]}


def test_k_limits_the_passages(archive):
    assert len(as_json("agent reward sensor gridworld tomatoes autoencoders", "--k", "1")
               ["evidence"]) == 1
    assert len(as_json("agent reward sensor gridworld tomatoes autoencoders", "--k", "3")
               ["evidence"]) == 3


def test_k_limits_the_passages_of_one_post(archive, store, settings):
    from kb.index.chunking import chunk_text

    emb = WordEmbedder()
    long = PostRecord(
        title="Many passages", lw_id="manymanymanymany4", urls=["https://example.org/many"],
        authors=["A"], published="2025-02-01T00:00:00Z", origin="test",
        text="\n\n".join(f"Paragraph {i} says the sensor tile paid reward {i} times. " * 12
                         for i in range(8)))
    pid, _ = save_post(store, long)
    assert len(chunk_text(long.title, get_post(store, pid).text, emb.count_tokens,
                          emb.max_tokens)) > 3  # not indexed: the post is split the same way
    assert len(as_json("the sensor tile paid reward", "--post", pid)["evidence"]) == 3
    assert len(as_json("the sensor tile paid reward", "--post", pid, "--k", "2")
               ["evidence"]) == 2
    assert len(as_json("the sensor tile paid reward", "--post", pid, "--k", "5")
               ["evidence"]) == 5


def test_unknown_post_is_a_clear_error(archive):
    code, out = kb_check(TRUE_CLAIM, "--post", "nosuchpostatall00")
    assert code == 2  # a usage error
    assert "nosuchpostatall00" in out and "no post" in out
    code, out = kb_check(TRUE_CLAIM, "--post", "nosuchpostatall00", "--json")
    assert code != 0 and "no post" in out


def test_empty_claim_and_bad_k_are_usage_errors(archive):
    assert kb_check("   ")[0] != 0
    assert kb_check(TRUE_CLAIM, "--k", "0")[0] == 2


def test_an_unrelated_claim_is_not_supported(archive):
    data = as_json("The French Revolution began in 1789 with the storming of the Bastille.")
    assert data["verdict"] != "supported"
    assert all(e["verdict"] != "supported" for e in data["evidence"])


@pytest.mark.model
def test_real_embedder_negation_is_not_supported_while_the_sentence_is(settings, store):
    """With the real ONNX embedder (no fakes): a post's own sentence is supported; the same
    sentence negated, or with its number changed, is not."""
    pid, _ = save_post(store, GRID)
    sentence = ("The agent found the sensor exploit within ten minutes of training.")
    negated = "The agent did not find the sensor exploit within ten minutes of training."
    assert as_json(sentence, "--post", pid)["verdict"] == "supported"
    data = as_json(negated, "--post", pid)
    assert data["verdict"] != "supported"
    assert all(e["verdict"] != "supported" for e in data["evidence"])
    assert as_json(TRUE_CLAIM, "--post", pid)["verdict"] == "supported"
    assert as_json(NUMBER_SWAP, "--post", pid)["verdict"] != "supported"
