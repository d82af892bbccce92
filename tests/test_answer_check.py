"""digest.answer_check: every sentence of an answer is checked against the sources, cited or
not, with a deterministic bag-of-words embedder (the explicit checks do the real work)."""

from __future__ import annotations

import pytest
from test_ask import WordEmbedder

from digest.answer_check import CheckedAnswer, SentenceCheck, check_answer, is_statement
from digest.claimcheck import ClaimChecker

PASSAGES = {
    1: "Reward hacking happens when an agent exploits a flaw in the reward function and scores "
       "highly without doing the intended task, for example a boat circling to collect points.",
    2: "Sparse autoencoders trained on model activations recover interpretable features such as "
       "a feature for base64 text and a feature for DNA sequences.",
    3: "In our experiments, 12% of the 400 sampled episodes showed reward hacking, and "
       "Anthropic researchers reproduced the result with three seeds.",
}
TRUE_1 = "Reward hacking happens when an agent exploits a flaw in the reward function"
TRUE_2 = "Sparse autoencoders trained on model activations recover interpretable features"
TRUE_3 = "Anthropic researchers reproduced the result with three seeds"


@pytest.fixture(scope="module")
def checker() -> ClaimChecker:
    return ClaimChecker(WordEmbedder())


def check(checker: ClaimChecker, text: str) -> CheckedAnswer:
    return check_answer(checker, text, PASSAGES)


def sentence(answer: CheckedAnswer, start: str) -> SentenceCheck:
    return next(s for s in answer.sentences if s.sentence.startswith(start))


def test_supported_cited_sentences_keep_their_markers(checker):
    a = check(checker, f"{TRUE_1} [1]. {TRUE_2} [2].")
    assert a.text == f"{TRUE_1} [1]. {TRUE_2} [2]."
    assert [s.verdict for s in a.sentences] == ["supported", "supported"]
    assert a.stands() and a.shown_markers == [1, 2]


def test_a_negated_cited_sentence_is_contradicted_and_its_marker_removed(checker):
    negated = "Reward hacking does not happen when an agent exploits a flaw in the reward function"
    a = check(checker, f"{negated} [1]. {TRUE_2} [2]. {TRUE_3} [3].")
    s = sentence(a, "Reward hacking does not")
    assert s.verdict == "contradicted" and not s.kept and s.shown == []
    assert "negation" in s.note
    assert negated not in a.text and "[1]" not in a.text
    assert 1 not in a.shown_markers
    assert a.stands()  # two of three statements are supported


def test_a_swapped_number_is_contradicted_with_the_reason(checker):
    a = check(checker, f"In the experiments, 21% of the 400 sampled episodes showed reward "
                       f"hacking [3]. {TRUE_1} [1].")
    s = sentence(a, "In the experiments")
    assert s.verdict == "contradicted" and not s.kept
    assert "21%" in s.note and "12%" in s.note
    assert "21%" not in a.text and "[3]" not in a.text


def test_the_right_number_is_supported(checker):
    a = check(checker, "In the experiments, 12% of the 400 sampled episodes showed reward "
                       "hacking [3].")
    assert [s.verdict for s in a.sentences] == ["supported"] and a.stands()


def test_an_invented_name_is_not_supported(checker):
    a = check(checker, f"DeepMind researchers reproduced the result with three seeds [3]. "
                       f"{TRUE_1} [1].")
    s = sentence(a, "DeepMind")
    assert s.verdict != "supported" and not s.kept and s.shown == []
    assert "DeepMind" not in a.text


def test_a_citation_that_contradicts_is_removed_while_one_that_supports_stays(checker):
    a = check(checker, f"{TRUE_3} [1][3].")
    s = a.sentences[0]
    assert s.evidence[1].verdict != "supported" and s.evidence[3].verdict == "supported"
    assert s.kept and s.shown == [3]
    assert a.text == f"{TRUE_3} [3]."


def test_an_uncited_supported_sentence_gets_the_marker_of_its_source(checker):
    a = check(checker, f"{TRUE_2}. {TRUE_1} [1].")
    s = sentence(a, "Sparse autoencoders")
    assert s.cites == [] and s.added and s.kept and s.shown == [2]
    assert a.text == f"{TRUE_2} [2]. {TRUE_1} [1]."
    assert a.shown_markers == [2, 1]


def test_an_uncited_sentence_no_source_supports_is_dropped(checker):
    invented = "Quantum chromodynamics explains the confinement of quarks inside protons"
    a = check(checker, f"{invented}. {TRUE_1} [1]. {TRUE_2} [2].")
    s = sentence(a, "Quantum")
    assert s.factual and not s.kept and s.shown == [] and not s.added
    assert "dropped" in s.note
    assert "Quantum" not in a.text
    assert a.text == f"{TRUE_1} [1]. {TRUE_2} [2]."


def test_a_lead_in_that_states_nothing_stays_and_does_not_count(checker):
    a = check(checker, f"Here is what the sources say:\n\n- {TRUE_1} [1].")
    lead = a.sentences[0]
    assert not lead.factual and lead.kept
    assert a.text.startswith("Here is what the sources say:\n\n- ")
    assert len(a.factual) == 1 and a.stands()


@pytest.mark.parametrize(("supported", "unsupported", "stands"), [
    (1, 0, True), (2, 1, True), (1, 1, False), (2, 2, False), (1, 2, False), (0, 1, False),
])
def test_the_answer_stands_only_when_strictly_more_than_half_is_supported(
        checker, supported, unsupported, stands):
    good = [f"{TRUE_1} [1].", f"{TRUE_2} [2].", f"{TRUE_3} [3]."][:supported]
    bad = ["Quantum chromodynamics explains the confinement of quarks inside protons [1].",
           "Volcanic eruptions in Iceland disrupted European flights for several weeks [2]."
           ][:unsupported]
    a = check(checker, " ".join(good + bad))
    assert len(a.factual) == supported + unsupported
    assert sum(s.verdict == "supported" for s in a.factual) == supported
    assert a.stands() is stands


def test_an_answer_that_states_nothing_does_not_stand(checker):
    a = check(checker, "Here is what I found:")
    assert a.factual == [] and not a.stands() and a.supported_share == 0.0


def test_bullets_numbering_headings_and_paragraphs_survive(checker):
    invented = "Quantum chromodynamics explains the confinement of quarks inside protons"
    text = (f"## Findings\n\nThe sources say:\n\n- {TRUE_1} [1].\n- {invented} [2].\n"
            f"* {TRUE_2} [2].\n\n1. {TRUE_3} [3].")
    a = check(checker, text)
    assert a.text == (f"## Findings\n\nThe sources say:\n\n- {TRUE_1} [1].\n"
                      f"* {TRUE_2} [2].\n\n1. {TRUE_3} [3].")


def test_a_marker_after_the_full_stop_belongs_to_the_sentence(checker):
    a = check(checker, f"{TRUE_1}. [1] {TRUE_2}. [2]")
    assert [s.cites for s in a.sentences] == [[1], [2]]
    assert a.text == f"{TRUE_1} [1]. {TRUE_2} [2]."


def test_markers_of_sources_not_given_are_ignored(checker):
    a = check(checker, f"{TRUE_1} [1][9].")
    assert a.sentences[0].cites == [1] and a.text == f"{TRUE_1} [1]."


def test_json_of_a_sentence(checker):
    a = check(checker, f"{TRUE_2}. In the experiments, 21% of the 400 sampled episodes showed "
                       f"reward hacking [3].")
    added, wrong = (s.to_json() for s in a.sentences)
    assert added["citation_added"] is True and added["shown"] == [2] and added["kept"] is True
    assert wrong["verdict"] == "contradicted" and wrong["kept"] is False
    assert wrong["supported"] == {"3": False}
    assert wrong["evidence"]["3"]["verdict"] == "contradicted"
    assert any("21%" in r for r in wrong["evidence"]["3"]["reasons"])


@pytest.mark.parametrize(("text", "stating"), [
    ("Here is what the sources say:", False),
    ("In short:", False),
    ("Thanks for asking.", False),
    ("Reward hacking exploits flaws in reward functions.", True),
    ("It rose by 12%.", True),
    ("Bogus.", False),
    ("Anthropic did it.", True),  # a name: something to check
])
def test_what_counts_as_a_statement(text, stating):
    assert is_statement(text) is stating
