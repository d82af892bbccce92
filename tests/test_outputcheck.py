"""The validator of model text (digest.outputcheck), on the real bad outputs of issue #17."""

from __future__ import annotations

import pytest

from digest.outputcheck import good_sentences, output_problem, sentence_problem
from digest.summarize import PostText, validate

# Quoted from issue #17: what the embedded 135M model wrote into real digests.
REAL_BAD = [
    # post 5's summary: the prompt echoed back
    "DATA Title: An overview of control measures Authors: unknown Notes on the parts of a long "
    "post (the post itself was too long to show): Part 1: …",
    # theme 2's implication: a cut-off sentence
    "The AI scene is going to be a global scene, and it's.",
    # post 4's implication: one word
    "Implementation.",
    # a theme name / summary cut off mid-sentence
    "The AI model is capable of adapting to the environment and making",
]


@pytest.mark.parametrize("text", REAL_BAD)
def test_the_real_bad_outputs_of_issue_17_are_rejected(text):
    assert output_problem(text) is not None


def test_a_title_repeated_as_a_bullet_is_rejected():
    title = "An overview of control measures"
    assert output_problem("An overview of control measures.", title=title) == \
        "only repeats the title"


@pytest.mark.parametrize("text,why", [
    ("Title: Sandbagging evals Authors: someone. It studies sandbagging in depth.",
     "data header"),
    ("You summarize posts for a research digest and reply with one JSON object.", "echoes"),
    ("Models can sandbag evaluations when", "no final punctuation"),
    ("Models can sandbag evaluations of the.", "ends mid-phrase"),
    ("Too short.", "fewer than four words"),
])
def test_each_rule_names_its_reason(text, why):
    problem = output_problem(text)
    assert problem is not None and why in problem


@pytest.mark.parametrize("text", [
    "The post argues that control measures reduce risk from scheming models.",
    "Monitoring catches most attacks [2]. Auditing the rest is expensive, the authors say.",
    "Is exploration hacking hard for a model to sustain? The post thinks so.",
    "Labs should test their monitors against red-team policies (as the post proposes).",
])
def test_good_prose_passes(text):
    assert output_problem(text) is None
    assert good_sentences(text) == [s for s in good_sentences(text)]
    assert all(sentence_problem(s) is None for s in good_sentences(text))


def test_good_sentences_keeps_the_good_and_drops_the_bad():
    text = ("Control evaluations estimate how often a scheming model gets away with an attack. "
            "Implementation. The AI scene is going to be a global scene, and it's.")
    assert good_sentences(text) == ["Control evaluations estimate how often a scheming model "
                                    "gets away with an attack."]


def test_a_model_summary_with_the_prompt_echo_never_validates():
    post = PostText("An overview of control measures", (), "Control measures reduce risk. " * 10)
    obj = {"summary": REAL_BAD[0], "relevance": "core", "implications": REAL_BAD[2]}
    parsed, why = validate(obj, post)
    assert parsed is None and why


def test_a_cut_off_implication_is_left_out_and_a_cut_off_tail_dropped():
    body = ("Control measures reduce the risk from scheming models. Monitoring catches most "
            "attacks before they succeed. The scene will keep changing quickly. ") * 3
    post = PostText("An overview of control measures", (), body)
    obj = {"summary": "Control measures reduce the risk from scheming models. Monitoring "
                      "catches most attacks before they succeed. The scene will keep changing and",
           "relevance": "core", "implications": "The AI scene is going to be a global scene, "
                                                "and it's."}
    parsed, why = validate(obj, post)
    assert parsed is not None, why
    assert parsed.summary == ("Control measures reduce the risk from scheming models. Monitoring "
                              "catches most attacks before they succeed.")
    assert parsed.implications == ""
