"""Settings precedence: defaults < $KB_HOME/config.toml < KB_* env; KB_HOME relocates files."""

from __future__ import annotations

import pytest

from kb.settings import SettingsError, load_settings


def test_defaults_and_home_relocation(kb_home):
    s = load_settings()
    assert s.home == kb_home
    for p in (s.db_path, s.chroma_path, s.digests_dir, s.logs_dir, s.lock_path, s.config_path):
        assert kb_home in p.parents
    assert s.llm.backend == "auto"
    assert dict((k, o) for k, _, o in s.as_rows())["llm.backend"] == "default"


def test_config_file_then_env_override(kb_home, monkeypatch):
    kb_home.mkdir(parents=True)
    (kb_home / "config.toml").write_text(
        '[llm]\nbackend = "embedded"\ntemperature = 0.3\n[ingest]\ntimeout = 5\n')
    monkeypatch.setenv("KB_INGEST_TIMEOUT", "7.5")
    monkeypatch.setenv("KB_INGEST_MAX_BYTES", "1000")
    s = load_settings()
    rows = {k: (v, o) for k, v, o in s.as_rows()}
    assert rows["llm.backend"] == ("embedded", "config.toml")
    assert rows["llm.temperature"] == (0.3, "config.toml")
    assert rows["ingest.timeout"] == (7.5, "env KB_INGEST_TIMEOUT")
    assert rows["ingest.max_bytes"] == (1000, "env KB_INGEST_MAX_BYTES")


def test_ollama_host_env(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:9999")
    s = load_settings()
    assert s.ollama.host == "http://127.0.0.1:9999"


@pytest.mark.parametrize("env,msg", [
    ({"KB_LLM_BACKEND": "gpt"}, "KB_LLM_BACKEND"),
    ({"KB_INGEST_TIMEOUT": "soon"}, "KB_INGEST_TIMEOUT"),
    ({"KB_LLM_NOPE": "1"}, "llm.nope"),
])
def test_bad_values_name_their_origin(monkeypatch, env, msg):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(SettingsError, match=msg):
        load_settings()


def test_bad_config_file_is_named(kb_home):
    kb_home.mkdir(parents=True)
    (kb_home / "config.toml").write_text("[llm\nbackend=")
    with pytest.raises(SettingsError, match="config.toml"):
        load_settings()
