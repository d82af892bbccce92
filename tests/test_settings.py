"""Settings precedence: defaults < ~/.config/kb/config.toml < $KB_HOME/config.toml < KB_* env;
KB_HOME relocates every file kb writes; OLLAMA_HOST is read as Ollama reads it."""

from __future__ import annotations

import pytest

from kb.settings import SettingsError, load_settings, parse_ollama_host


def test_defaults_and_home_relocation(kb_home, tmp_path):
    s = load_settings()
    assert s.home == kb_home
    for p in (s.db_path, s.chroma_path, s.digests_dir, s.logs_dir, s.lock_path,
              s.legacy_config_path):
        assert kb_home in p.parents
    assert s.config_path == tmp_path / "xdg-config" / "kb" / "config.toml"
    assert s.llm.backend == "auto"
    assert s.daily.keep_logs_days == 30
    assert dict((k, o) for k, _, o in s.as_rows())["llm.backend"] == "default"


def test_config_file_then_env_override(kb_home, monkeypatch):
    kb_home.mkdir(parents=True)
    cfg = kb_home / "config.toml"
    cfg.write_text('[llm]\nbackend = "embedded"\ntemperature = 0.3\n[ingest]\ntimeout = 5\n')
    monkeypatch.setenv("KB_INGEST_TIMEOUT", "7.5")
    monkeypatch.setenv("KB_INGEST_MAX_BYTES", "1000")
    s = load_settings()
    rows = {k: (v, o) for k, v, o in s.as_rows()}
    assert rows["llm.backend"] == ("embedded", str(cfg))
    assert rows["llm.temperature"] == (0.3, str(cfg))
    assert rows["ingest.timeout"] == (7.5, "env KB_INGEST_TIMEOUT")
    assert rows["ingest.max_bytes"] == (1000, "env KB_INGEST_MAX_BYTES")


def test_user_config_then_home_config(kb_home, monkeypatch):
    """The user's file applies to every archive; an archive's own file overrides it."""
    s0 = load_settings()
    s0.config_path.parent.mkdir(parents=True)
    s0.config_path.write_text('[digest]\ntimezone = "Europe/Berlin"\nmax_themes = 3\n'
                              '[daily]\nkeep_logs_days = 7\n')
    kb_home.mkdir(parents=True)
    (kb_home / "config.toml").write_text("[digest]\nmax_themes = 2\n")
    s = load_settings()
    assert s.config_files == [s0.config_path, kb_home / "config.toml"]
    assert (s.digest.timezone, s.digest.max_themes, s.daily.keep_logs_days) == \
        ("Europe/Berlin", 2, 7)
    rows = {k: o for k, _, o in s.as_rows()}
    assert rows["digest.timezone"] == str(s0.config_path)
    assert rows["digest.max_themes"] == str(kb_home / "config.toml")


def test_kb_config_names_another_file(tmp_path, monkeypatch):
    other = tmp_path / "elsewhere.toml"
    other.write_text("[ingest]\nconcurrency = 2\n")
    monkeypatch.setenv("KB_CONFIG", str(other))
    s = load_settings()
    assert s.config_path == other and s.ingest.concurrency == 2


@pytest.mark.parametrize("value,url", [
    ("0.0.0.0", "http://0.0.0.0:11434"),
    (":11434", "http://127.0.0.1:11434"),
    (":9999", "http://127.0.0.1:9999"),
    ("localhost", "http://localhost:11434"),
    ("127.0.0.1:9999", "http://127.0.0.1:9999"),
    ("example.com:8080", "http://example.com:8080"),
    ("http://example.com", "http://example.com:80"),
    ("https://example.com", "https://example.com:443"),
    ("https://example.com:8443", "https://example.com:8443"),
    ("http://10.0.0.5:11434/ollama", "http://10.0.0.5:11434/ollama"),
    ("https://gpu.lab.example/api/ollama/", "https://gpu.lab.example:443/api/ollama"),
    ("[::1]:4000", "http://[::1]:4000"),
    ("::1", "http://[::1]:11434"),
    ("  host:notaport ", "http://host:11434"),
    ("host:70000", "http://host:11434"),
    ("", "http://127.0.0.1:11434"),
])
def test_ollama_host_forms(value, url):
    """Every form Ollama's own envconfig.Host accepts resolves to the same URL here."""
    assert parse_ollama_host(value) == url


def test_ollama_host_env_and_config(kb_home, monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")
    s = load_settings()
    assert s.ollama.host == "http://0.0.0.0:11434"
    assert dict((k, o) for k, _, o in s.as_rows())["ollama.host"] == "env OLLAMA_HOST"
    monkeypatch.delenv("OLLAMA_HOST")
    kb_home.mkdir(parents=True)
    (kb_home / "config.toml").write_text('[ollama]\nhost = "gpu-box:11500"\n')
    assert load_settings().ollama.host == "http://gpu-box:11500"


def test_ollama_host_bad_scheme_is_named(monkeypatch):
    monkeypatch.setenv("OLLAMA_HOST", "ftp://example.com")
    with pytest.raises(SettingsError, match="OLLAMA_HOST.*http or https"):
        load_settings()


@pytest.mark.parametrize("env,msg", [
    ({"KB_LLM_BACKEND": "gpt"}, "KB_LLM_BACKEND"),
    ({"KB_INGEST_TIMEOUT": "soon"}, "KB_INGEST_TIMEOUT"),
    ({"KB_LLM_NOPE": "1"}, "llm.nope"),
    ({"KB_DAILY_KEEP_LOGS_DAYS": "a week"}, "KB_DAILY_KEEP_LOGS_DAYS"),
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


@pytest.mark.parametrize("text,msg", [
    ('[ingest]\nconcurrency = "many"\n', r"config.toml \(ingest.concurrency\): 'many'"),
    ("[wat]\nx = 1\n", r"config.toml: unknown section \[wat\]"),
    ('[llm]\npreset = true\n', r"config.toml \(llm.preset\): True"),
])
def test_wrong_values_in_config_file_are_named(kb_home, text, msg):
    kb_home.mkdir(parents=True)
    (kb_home / "config.toml").write_text(text)
    with pytest.raises(SettingsError, match=msg):
        load_settings()
