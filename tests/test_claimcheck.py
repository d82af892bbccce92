"""The claim checker's rules, each pinned with a deterministic embedder.

The bag-of-words embedder cannot see "not" or "12%" vs "21%" (stopwords and numbers weigh
little), so a claim that differs from its passage only there looks identical to it: every
verdict other than ``supported`` below comes from an explicit check.  The accuracy with the
real MiniLM embedder is measured by tests/test_eval_claims.py.
"""

from __future__ import annotations

import math

import pytest

from digest.claimcheck import (
    STRONG_SIM,
    ClaimChecker,
    Evidence,
    best,
    is_ordinary,
    name_problems,
    negations,
    novel_run,
    number_problems,
    ordinary_words,
    quantities,
)
from digest.support import terms
from kb.embed.fake import FakeEmbedder


class WordEmbedder(FakeEmbedder):
    """Bag of content words: a crude but deterministic semantic similarity."""

    def __init__(self) -> None:
        super().__init__(512)

    def _vec(self, text: str) -> list[float]:
        return super()._vec(" ".join(sorted(terms(text))))


class ScriptedEmbedder(FakeEmbedder):
    """Vectors set per text (by its first word), for a chosen cosine between two texts."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        super().__init__(2)
        self.vectors = vectors

    def _vec(self, text: str) -> list[float]:
        return self.vectors[text.split()[0]]


@pytest.fixture
def checker() -> ClaimChecker:
    return ClaimChecker(WordEmbedder())


PASSAGE = ("We trained a policy against a learned reward model for three weeks. The policy "
           "exploits the reward model by repeating flattering phrases. Accuracy on the held-out "
           "set rose to 21% after the fix. Most sparse autoencoder features were interpretable. "
           "The survey of labs ran in 2023 and covered 40 teams. Lovelace ran the probe on "
           "layer six of a 7 billion parameter model.")


def test_a_sentence_of_the_passage_is_supported(checker):
    for claim in ("The policy exploits the reward model by repeating flattering phrases.",
                  "Accuracy on the held-out set rose to 21% after the fix.",
                  "Lovelace ran the probe on layer six of a 7 billion parameter model."):
        ev = checker.check(claim, PASSAGE)
        assert ev.verdict == "supported", (claim, ev)
        assert ev.reasons == []


# --- negation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("claim", [
    "The policy never exploits the reward model by repeating flattering phrases.",
    "The policy does not exploit the reward model by repeating flattering phrases.",
    "The policy fails to exploit the reward model by repeating flattering phrases.",
])
def test_an_added_negation_contradicts(checker, claim):
    ev = checker.check(claim, PASSAGE)
    assert ev.verdict == "contradicted", ev
    assert any(r.startswith("negation flipped") for r in ev.reasons), ev.reasons


def test_a_dropped_negation_contradicts(checker):
    passage = "The probe did not detect deception in the larger model. It ran for a day."
    ev = checker.check("The probe did detect deception in the larger model.", passage)
    assert ev.verdict == "contradicted" and "negation flipped" in ev.reasons[0]


def test_negation_parity_catches_a_negation_over_stopwords_only(checker):
    """"what it is not doing": the negation governs only stopwords, so no content word flips;
    the claim restates the passage's sentence with one more negation cue."""
    passage = ("They know what the lab is doing, and they know what they are doing. "
               "Nobody else knows.")
    claim = "They know what the lab is not doing, and they know what they are doing."
    assert negations(claim) == negations(passage.split(". ")[0]) + 1
    ev = checker.check(claim, passage)
    assert ev.verdict == "contradicted", ev
    assert ev.reasons == ["negation flipped: the claim has 1 negation(s) where the passage's "
                          "sentence has 0"]
    # a negation elsewhere in the passage (another sentence) is not a flip
    assert checker.check("They know what the lab is doing, and they know what they are doing.",
                         passage).verdict == "supported"


def test_negation_parity_needs_the_same_sentence(checker):
    """A claim that only shares some words with the sentence is not held to its negations."""
    passage = "Interpretability tools did not scale to frontier models in our tests at all."
    ev = checker.check("Interpretability tools scale well to frontier models.", passage)
    assert not any("negation(s)" in r for r in ev.reasons)


def test_a_markdown_quote_between_sentences_is_a_sentence_break(checker):
    passage = ("Drug discovery searches compounds at random, hoping to find a hit. > > But it is "
               "not working as well as it used to.")
    ev = checker.check("Drug discovery searches compounds at random, hoping to find a hit.",
                       passage)
    assert ev.verdict == "supported", ev


# --- quantifiers ------------------------------------------------------------------------------
@pytest.mark.parametrize("claim, word", [
    ("All sparse autoencoder features were interpretable.", "all"),
    ("Few sparse autoencoder features were interpretable.", "few"),
])
def test_a_different_quantifier_contradicts(checker, claim, word):
    ev = checker.check(claim, PASSAGE)
    assert ev.verdict == "contradicted", ev
    assert any(r.startswith("quantifier differs") and word in r for r in ev.reasons), ev.reasons


def test_none_for_most_contradicts(checker):
    ev = checker.check("None of the sparse autoencoder features were interpretable.", PASSAGE)
    assert ev.verdict == "contradicted", ev


def test_all_where_the_passage_has_no_quantifier(checker):
    passage = "Sparse autoencoder features were interpretable in the first layer."
    ev = checker.check("All sparse autoencoder features were interpretable in the first layer.",
                       passage)
    assert ev.verdict == "contradicted"
    assert "quantifier differs: the claim says all, the passage does not" in ev.reasons


def test_the_same_quantifier_is_fine(checker):
    assert checker.check("Most sparse autoencoder features were interpretable.",
                         PASSAGE).verdict == "supported"


# --- numbers ----------------------------------------------------------------------------------
def test_a_swapped_number_says_which(checker):
    ev = checker.check("Accuracy on the held-out set rose to 12% after the fix.", PASSAGE)
    assert ev.verdict == "contradicted"
    assert ev.reasons == ["number differs: 12% vs 21%"]


@pytest.mark.parametrize("claim, missing", [
    ("Lovelace ran the probe on layer six of a 7 million parameter model.", "7 million"),
    ("We trained a policy against a learned reward model for three days.", "three days"),
])
def test_a_different_unit_contradicts(checker, claim, missing):
    ev = checker.check(claim, PASSAGE)
    assert ev.verdict == "contradicted", ev
    assert any(missing in r for r in ev.reasons), ev.reasons


@pytest.mark.parametrize("claim, passage", [
    ("The benchmark improved by 20% last year.", "The benchmark improved in 2023 last year."),
    ("The benchmark improved in 2023 last year.", "The benchmark improved by 20% last year."),
    ("The model solved 3 of the tasks.", "The model solved 13 of the tasks."),
    ("The model solved 13 of the tasks.", "The model solved 3 of the tasks."),
    ("Accuracy rose to 12% after tuning.", "Accuracy rose to 12.5% after tuning."),
])
def test_numbers_compare_as_whole_tokens(checker, claim, passage):
    assert number_problems(claim, passage, passage), (claim, passage)
    assert checker.check(claim, passage).verdict == "contradicted"


def test_the_same_number_written_differently_is_fine():
    assert number_problems("It cost 1,000 dollars.", "It cost 1000 dollars.", "") == []
    assert number_problems("It hit 12 percent.", "It hit 12%.", "") == []
    assert number_problems("Three runs failed.", "3 runs failed.", "") == []
    assert [(q.value, q.unit) for q in quantities("in 2023, 12% of 7B models")] == [
        (2023.0, "year"), (12.0, "%"), (7.0, "b")]


# --- names and acronyms -----------------------------------------------------------------------
@pytest.mark.parametrize("claim, name", [
    ("The probe was run by Hopper on layer six of a 7 billion parameter model.", "Hopper"),
    ("Vetrova ran the probe on layer six of a 7 billion parameter model.", "Vetrova"),
    ("METR ran the probe on layer six of a 7 billion parameter model.", "METR"),
    ("We trained a policy; Upwards ran the probe on layer six.", "Upwards"),
])
def test_an_invented_name_or_acronym_contradicts(checker, claim, name):
    ev = checker.check(claim, PASSAGE)
    assert ev.verdict == "contradicted", ev
    kind = "acronym" if name.isupper() else "name"
    assert f"{kind} not in the passage: {name}" in ev.reasons


def test_a_sentence_initial_ordinary_word_is_not_a_name():
    assert "researchers" in ordinary_words() and "vetrova" not in ordinary_words()
    assert name_problems("Researchers ran the probe on layer six.", PASSAGE) == []
    assert name_problems("However, researchers said so. Researchers agree.", PASSAGE) == []
    # derived forms the vocabulary does not list are ordinary too; unknown words are not
    assert name_problems("Adversarial and deceptive runs. Misaligned ones too.", PASSAGE) == []
    assert is_ordinary("interpretable") and not is_ordinary("yudkowsky")
    # the same word in mid-sentence, capitalized, reads as a name
    assert name_problems("The probe of Researchers ran.", PASSAGE) == [
        "name not in the passage: Researchers"]


def test_names_match_whole_words_and_plurals():
    assert name_problems("GPT-4 did it.", "We used GPT-4o.") == [
        "acronym not in the passage: GPT-4"]
    assert name_problems("The SAEs found it.", "An SAE found it.") == []
    assert name_problems("Lovelace's probe worked.", PASSAGE) == []


# --- the embedding signal: supported, weak, unsupported ---------------------------------------
def test_weak_when_related_but_not_shown_to_say_it(checker):
    ev = checker.check("The reward model was trained with human preference comparisons.",
                       PASSAGE)
    assert ev.verdict == "weak", ev
    assert ev.reasons and ev.reasons[0].startswith("related")


def test_unsupported_when_unrelated(checker):
    ev = checker.check("Tomatoes need full sun and steady watering.", PASSAGE)
    assert ev.verdict == "unsupported", ev


def test_a_topic_with_a_predicate_of_its_own_is_not_supported(checker):
    """The passage's words plus a predicate it never states ("widely considered solved by the
    community"): close under the embedder, but not what the passage says."""
    claim = ("The policy exploits the reward model by repeating flattering phrases, which is "
             "widely considered solved by the community.")
    assert novel_run(claim, PASSAGE) == ["widely", "considered", "solved", "community"]
    ev = checker.check(claim, PASSAGE)
    assert ev.verdict == "weak", ev
    assert "widely considered solved community" in ev.reasons[0]


def _unit(angle: float) -> list[float]:
    return [math.cos(angle), math.sin(angle)]


def test_strong_similarity_alone_needs_some_shared_words():
    """Similarity 0.8 (≥ STRONG_SIM) with no content word in common: not supported; a short
    claim sharing one word is."""
    sim = 0.8
    assert sim >= STRONG_SIM
    emb = ScriptedEmbedder({"Sleeper": _unit(0.0), "Deceptive": _unit(math.acos(sim)),
                            "Models": _unit(math.acos(sim))})
    chk = ClaimChecker(emb)
    passage = "Sleeper agents survive adversarial fine-tuning."
    long_claim = "Deceptive backdoored networks persist through subsequent safety training."
    ev = chk.check(long_claim, passage)
    assert ev.similarity == pytest.approx(sim) and ev.overlap == 0.0
    assert ev.verdict == "weak"
    assert chk.check("Models survive retraining quickly.", passage).verdict == "supported"


# --- which passage decides --------------------------------------------------------------------
def test_best_prefers_support_then_contradiction_then_relation():
    sup = Evidence("supported", [], 0.7, 0.8)
    con = Evidence("contradicted", ["negation flipped"], 0.72, 0.9)
    weak = Evidence("weak", ["related"], 0.9, 0.4)
    assert best([weak, con, sup]) is sup
    assert best([weak, con]) is con
    assert best([Evidence("unsupported", [], 0.1), weak]) is weak
    assert best([]) is None


def test_best_a_near_verbatim_contradiction_outweighs_a_looser_support():
    loose = Evidence("supported", [], 0.6, 0.5)
    own_sentence = Evidence("contradicted", ["negation flipped"], 0.97, 1.0)
    assert best([loose, own_sentence]) is own_sentence
    # not when the support is about as close, nor when the contradiction is only related
    close = Evidence("supported", [], 0.95, 1.0)
    assert best([close, own_sentence]) is close
    assert best([loose, Evidence("contradicted", ["x"], 0.97, 0.8)]) is loose


def test_check_many_matches_check(checker):
    claims = ["The policy exploits the reward model by repeating flattering phrases.",
              "Accuracy on the held-out set rose to 12% after the fix.",
              "Tomatoes need full sun and steady watering."]
    many = checker.check_many([(c, PASSAGE) for c in claims])
    assert [e.verdict for e in many] == [checker.check(c, PASSAGE).verdict for c in claims]
    assert [e.verdict for e in many] == ["supported", "contradicted", "unsupported"]
