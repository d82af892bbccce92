"""`kb eval claims`: its JSON contract over a small archive of our own, the committed claim
spec, and the real measurement (MiniLM + corpus posts) against the issue's targets."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.claims import SPEC, apply, spec_items

KEYS = {"claims", "accuracy", "by_kind", "supported_precision", "supported_recall"}

# Our own claims over tests/index_helpers.POSTS: post_id as an id or as a URL.
REWARD = "aaaaaaaaaaaaaaaa1"
REWARD_URL = "https://www.alignmentforum.org/posts/aaaaaaaaaaaaaaaa1/notes-on-reward-hacking"
INTERP_URL = "https://www.lesswrong.com/posts/cccccccccccccccc3/interp"
CLAIMS = [
    {"claim": "The policy found a loophole: it repeated flattering phrases the reward model "
              "liked.", "post_id": REWARD, "expected": "supported", "kind": "true"},
    {"claim": "We located an induction head circuit in a two-layer attention-only model.",
     "post_id": INTERP_URL, "expected": "supported", "kind": "true"},
    {"claim": "A KL penalty toward the base model never reduced the exploitation.",
     "post_id": REWARD_URL, "expected": "not_supported", "kind": "negation"},
    {"claim": "We located an induction head circuit in a six-layer attention-only model.",
     "post_id": "cccccccccccccccc3", "expected": "not_supported", "kind": "number"},
    {"claim": "Tomatoes need full sun and steady watering.", "post_id": REWARD,
     "expected": "not_supported", "kind": "other_post"},
]


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def small_archive(monkeypatch, kb_home):
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    from index_helpers import fake_archive

    rt = fake_archive()
    yield rt
    rt.close()


def run(*args: str):
    from kb.cli import cli

    return CliRunner().invoke(cli, ["eval", "claims", *args])


def test_json_contract(small_archive, tmp_path):
    f = write_jsonl(tmp_path / "claims.jsonl", CLAIMS)
    res = run(str(f), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == KEYS
    assert data["claims"] == len(CLAIMS)
    want = Counter(c["kind"] for c in CLAIMS)
    assert set(data["by_kind"]) == set(want)
    for kind, row in data["by_kind"].items():
        assert set(row) == {"n", "accuracy"} and row["n"] == want[kind]
        assert 0.0 <= row["accuracy"] <= 1.0
    # the overall share is the claims' share, not the mean of the kinds
    right = sum(r["n"] * r["accuracy"] for r in data["by_kind"].values())
    assert data["accuracy"] == pytest.approx(right / len(CLAIMS), abs=1e-3)
    # these claims are clear-cut even for the fake embedder: the explicit checks decide
    assert data["by_kind"]["negation"]["accuracy"] == 1.0
    assert data["by_kind"]["number"]["accuracy"] == 1.0
    assert data["by_kind"]["other_post"]["accuracy"] == 1.0
    assert data["by_kind"]["true"]["accuracy"] == 1.0
    assert data["supported_precision"] == 1.0 and data["supported_recall"] == 1.0


def test_precision_and_recall_count_supported_only(small_archive, tmp_path):
    """Expecting "supported" for a claim the post does not make lowers precision (the checker
    says not supported: a miss of the expectation, so recall stays at what it got right)."""
    rows = [dict(CLAIMS[0]), dict(CLAIMS[2], expected="supported")]
    data = json.loads(run(str(write_jsonl(tmp_path / "c.jsonl", rows)), "--json").output)
    assert data["claims"] == 2 and data["accuracy"] == 0.5
    assert data["supported_precision"] == 1.0 and data["supported_recall"] == 0.5


def test_table_output(small_archive, tmp_path):
    res = run(str(write_jsonl(tmp_path / "claims.jsonl", CLAIMS)))
    assert res.exit_code == 0, res.output
    for word in ("negation", "number", "other_post", "true", "all", "precision", "recall"):
        assert word in res.output


@pytest.mark.parametrize("line, msg", [
    ("{not json", "not valid JSON"),
    ('{"claim": "", "post_id": "x", "expected": "supported"}', "non-empty"),
    ('{"claim": "c", "expected": "supported"}', "post_id"),
    ('{"claim": "c", "post_id": "x", "expected": "maybe"}', "expected"),
])
def test_a_bad_line_names_file_and_line(small_archive, tmp_path, line, msg):
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(CLAIMS[0]) + "\n" + line + "\n", encoding="utf-8")
    res = run(str(f), "--json")
    out = " ".join(res.output.split())  # the console wraps long lines
    assert res.exit_code != 0
    assert "bad.jsonl:2" in out and msg in out


def test_an_unknown_post_is_an_error(small_archive, tmp_path):
    rows = [dict(CLAIMS[0], post_id="zzzzzzzzzzzzzzzz9")]
    res = run(str(write_jsonl(tmp_path / "c.jsonl", rows)), "--json")
    assert res.exit_code != 0 and "zzzzzzzzzzzzzzzz9" in res.output


# --- the committed spec -----------------------------------------------------------------------
def test_the_spec_holds_ids_and_offsets_not_corpus_text():
    items = spec_items()
    assert len(items) >= 300
    kinds = Counter(it["kind"] for it in items)
    assert set(kinds) == {"true", "paraphrase", "negation", "number", "entity", "other_post",
                          "topic"}
    assert all(n >= 30 for n in kinds.values()), kinds
    for it in items:
        assert set(it) == {"post_id", "source_post", "start", "end", "kind", "edit", "expected"}
        assert it["expected"] == ("supported" if it["kind"] in ("true", "paraphrase")
                                  else "not_supported")
        assert (it["source_post"] != it["post_id"]) == (it["kind"] == "other_post")
        assert it["start"] <= it["end"]
        # the edits name words (a topic template a post's title), never a post's sentences
        assert all(len(str(v)) <= 100 for v in it["edit"].values()), it
    assert SPEC.stat().st_size < 150_000


def test_the_edits():
    s = "The probe is accurate on 12% of inputs. Also, it shows Lovelace was right."
    assert apply(s, {"op": "none"}) == s
    assert apply(s, {"op": "sub", "pattern": r"\bis\b", "repl": "is not"}).startswith(
        "The probe is not accurate")
    assert "21%" in apply(s, {"op": "replace", "old": "12%", "new": "21%"})
    assert "demonstrates" in apply(s, {"op": "paraphrase", "swaps": [["shows", "demonstrates"]]})
    assert apply("The topic", {"op": "template", "template": "{t} is solved.",
                               "topic": "Debate"}) == "Debate is solved."


# --- the real measurement: a fifth of the spec, MiniLM, the corpus posts --------------------
TARGETS = {"true": 0.90, "paraphrase": 0.90, "negation": 0.95, "number": 0.95,
           "entity": 0.95, "other_post": 0.95, "topic": 0.95}


@pytest.mark.corpus
@pytest.mark.model
@pytest.mark.slow
def test_real_embedder_meets_the_targets_on_a_fifth_of_the_spec(corpus, kb_home, tmp_path):
    """Every 5th claim of the spec (97) against an archive of its posts, with the real
    embedder.  Each kind must meet its target but for one claim of slack (a fifth has 7–26
    claims a kind; the full set is measured by `kb eval claims`, README "Claim checks")."""
    from bench.claims import make_archive, materialize

    items = spec_items(every=5)
    make_archive(kb_home, items, corpus, index=False)  # post passages are split on the fly
    f = write_jsonl(tmp_path / "claims.jsonl", materialize(items, corpus))
    res = run(str(f), "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    print(json.dumps(data))
    assert data["claims"] == len(items)
    for kind, target in TARGETS.items():
        row = data["by_kind"][kind]
        right = round(row["accuracy"] * row["n"])
        assert right >= math.ceil(target * row["n"]) - 1, (kind, row, data)
    assert data["supported_precision"] >= 0.9 and data["supported_recall"] >= 0.9, data
