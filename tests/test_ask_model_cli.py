"""`kb ask -m MODEL` / `--preset NAME` (checked against models.lock) and `-k`."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from test_ask import Retriever, WordEmbedder, hits

from digest import ask as ask_mod
from kb.cli import cli
from kb.cli.app import KbError
from kb.cli.ask_extra import choose_model
from kb.models.fake import FakeLLM
from kb.models.spec import llm_spec, llm_specs, load_models_lock

Q = "What is reward hacking in RL agents?"
REPLY = "Reward hacking exploits a flaw in the reward function [1]."


@pytest.fixture
def seen(monkeypatch):
    """The settings each build of the chat model got; the retriever's calls under "retriever"."""
    got: dict[str, object] = {"settings": []}
    retriever = Retriever(hits())
    got["retriever"] = retriever
    monkeypatch.setattr(ask_mod, "hybrid_search", retriever)
    monkeypatch.setattr("kb.embed.factory.build_embedder", lambda settings: WordEmbedder())

    def build(settings):
        got["settings"].append(settings)  # type: ignore[union-attr]
        return FakeLLM([REPLY]), None

    monkeypatch.setattr("kb.models.factory.build_llm", build)
    return got


def _locked(settings):
    specs = llm_specs(load_models_lock(settings))
    default = next(s for s in specs if s.role == "llm")
    fast = next(s for s in specs if s.role == "llm.presets.fast")
    return default, fast


def test_a_locked_preset_is_used_silently(seen, settings):
    r = CliRunner().invoke(cli, ["ask", Q, "--preset", "fast", "--json"])
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
    (used,) = seen["settings"]
    assert (used.llm.preset, used.llm.model) == ("fast", "")
    _, fast = _locked(settings)
    spec = llm_spec(used)
    assert spec.role == "llm.presets.fast" and spec.model == fast.model and not spec.overridden


def test_a_locked_model_by_name_selects_its_lock_entry_silently(seen, settings):
    _, fast = _locked(settings)
    r = CliRunner().invoke(cli, ["ask", Q, "-m", fast.model, "--no-stream"])
    assert r.exit_code == 0, r.output
    assert "notice" not in r.stderr
    (used,) = seen["settings"]
    assert (used.llm.preset, used.llm.model) == ("fast", "")  # so its digest is checked


def test_an_unlocked_model_is_used_with_a_notice(seen):
    r = CliRunner().invoke(cli, ["ask", Q, "--model", "mistral:7b", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["answer"]  # the notice does not spoil the JSON on stdout
    err = " ".join(r.stderr.split())
    assert "mistral:7b is not in models.lock" in err and "cannot be checked" in err
    (used,) = seen["settings"]
    assert used.llm.model == "mistral:7b"
    assert llm_spec(used).overridden


def test_unknown_preset_is_a_usage_error_naming_the_presets(seen):
    r = CliRunner().invoke(cli, ["ask", Q, "--preset", "huge"])
    assert r.exit_code == 2
    assert "--preset 'huge' is not in" in r.stderr and "fast" in r.stderr
    assert seen["settings"] == []  # no model was built


def test_without_flags_the_configured_model_is_kept(seen, monkeypatch):
    monkeypatch.setenv("KB_LLM_PRESET", "fast")
    r = CliRunner().invoke(cli, ["ask", Q, "--json"])
    assert r.exit_code == 0, r.output
    assert seen["settings"][0].llm.preset == "fast"


def test_choose_model_rules(settings):
    default, fast = _locked(settings)
    same, notice = choose_model(settings, None, None)
    assert same is settings and notice is None
    s, notice = choose_model(settings, default.model, None)
    assert (s.llm.preset, s.llm.model, notice) == ("", "", None)
    s, notice = choose_model(settings, fast.model.split(":")[0] + ":" + fast.model.split(":")[1],
                             "fast")
    assert (s.llm.preset, s.llm.model, notice) == ("fast", "", None)
    s, notice = choose_model(settings, default.model, "fast")  # locked, but not as "fast"
    assert (s.llm.preset, s.llm.model) == ("fast", default.model) and notice
    assert "as preset 'fast'" in notice
    from dataclasses import replace

    embedded = replace(settings, llm=replace(settings.llm, backend="embedded"))
    with pytest.raises(KbError, match="llm.backend = embedded"):
        choose_model(embedded, "x:1b", None)
    none = replace(settings, llm=replace(settings.llm, backend="none"))
    with pytest.raises(KbError, match="llm.backend = none"):
        choose_model(none, None, "fast")
    assert choose_model(none, None, None) == (none, None)  # no flags: nothing to refuse


def test_short_k_like_search(seen):
    r = CliRunner().invoke(cli, ["ask", Q, "-k", "3", "--json"])
    assert r.exit_code == 0, r.output
    r2 = CliRunner().invoke(cli, ["ask", Q, "--k", "5", "--json"])
    assert r2.exit_code == 0, r2.output
    calls = seen["retriever"].calls  # type: ignore[union-attr]
    assert [c["k"] for c in calls if "k" in c][:2] == [3, 5]
    assert CliRunner().invoke(cli, ["ask", Q, "-k", "0"]).exit_code == 2
