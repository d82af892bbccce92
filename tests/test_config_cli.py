"""`kb config path|init|edit` and the commented config file they write (kb/config_file.py):
generated from the settings dataclasses, it lists every setting at its default and loads back
as exactly the defaults."""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kb.config_file import DESCRIPTIONS, default_values, render_config, toml_value
from kb.settings import SECTIONS, Settings, load_settings, read_config_file

KB = [sys.executable, "-m", "kb.cli.__main__"]


def kb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = os.environ.copy() | {"COLUMNS": "300"} | (env or {})
    return subprocess.run([*KB, "config", *args], capture_output=True, text=True, env=full,
                          timeout=120)


def all_settings() -> dict[str, object]:
    """Every "section.key" -> its default, read from a fresh Settings (not from the module
    under test)."""
    fresh = Settings(home=Path("/nowhere"))
    return {f"{section}.{f.name}": getattr(getattr(fresh, section), f.name)
            for section in SECTIONS for f in dataclasses.fields(getattr(fresh, section))}


def editor(tmp_path: Path, name: str, body: str) -> str:
    """A tiny editor: a shell script run as `<script> FILE`."""
    script = tmp_path / f"{name}.sh"
    script.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


# --- the generated file ------------------------------------------------------------------------
def test_generated_file_has_every_setting_at_its_default(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(render_config(), encoding="utf-8")
    sections = read_config_file(path)
    assert list(sections) == list(SECTIONS)
    found = {f"{s}.{k}": v for s, values in sections.items() for k, v in values.items()}
    expected = all_settings()
    assert found.keys() == expected.keys()
    for key, default in expected.items():
        value = tuple(found[key]) if isinstance(found[key], list) else found[key]  # TOML arrays
        assert value == default and type(value) is type(default), key

    settings = load_settings(env={"KB_CONFIG": str(path), "KB_HOME": str(tmp_path / "home")})
    assert settings.config_files == [path]
    for key, value, origin in settings.as_rows():
        if key != "home":
            assert value == expected[key], key
            assert origin == str(path), key


def test_every_setting_has_a_one_line_comment():
    keys = set(all_settings())
    assert set(DESCRIPTIONS) == keys, "describe each setting once in kb/config_file.py"
    text = render_config()
    lines = text.splitlines()
    for key, description in DESCRIPTIONS.items():
        section, name = key.split(".")
        assert "\n" not in description
        at = lines.index(f"{name} = {toml_value(all_settings()[key])}",  # type: ignore[arg-type]
                         lines.index(f"[{section}]"))
        comment = lines[at - 1]
        assert comment.startswith("# " + description), key
        assert f"env KB_{section.upper()}_{name.upper()}" in comment
    assert "fake" not in text  # test-only backends are not offered
    assert "one of: auto, none, ollama, embedded" in text
    assert default_values()["llm"]["backend"] == "auto"


@pytest.mark.parametrize("value", ['say "hi"', "back\\slash", "tab\there", "nl\nx", "del\x7f",
                                   "ünï", "", 1.5e-7, 20_000_000, True, False])
def test_toml_values_round_trip(value):
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


# --- the commands -------------------------------------------------------------------------------
def test_path_is_the_xdg_file_and_mentions_the_legacy_one(tmp_path: Path, kb_home: Path):
    xdg = Path(os.environ["XDG_CONFIG_HOME"])
    r = kb("path")
    assert r.returncode == 0 and r.stdout == f"{xdg / 'kb' / 'config.toml'}\n"
    assert r.stderr == ""
    kb_home.mkdir(parents=True, exist_ok=True)
    (kb_home / "config.toml").write_text("[digest]\ntimezone = 'UTC'\n", encoding="utf-8")
    r = kb("path")
    assert r.stdout == f"{xdg / 'kb' / 'config.toml'}\n"  # stdout stays just the path
    assert str(kb_home / "config.toml") in r.stderr
    other = tmp_path / "elsewhere.toml"
    assert kb("path", env={"KB_CONFIG": str(other)}).stdout == f"{other}\n"


def test_init_writes_refuses_to_overwrite_then_forces(tmp_path: Path):
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "kb" / "config.toml"
    r = kb("init")
    assert r.returncode == 0, r.stderr
    assert path.read_text(encoding="utf-8") == render_config()
    assert str(path) in r.stdout
    path.write_text("[llm]\nbackend = 'embedded'\n", encoding="utf-8")
    r = kb("init")
    assert r.returncode == 1
    assert "already exists" in r.stderr and "--force" in r.stderr and str(path) in r.stderr
    assert path.read_text(encoding="utf-8") == "[llm]\nbackend = 'embedded'\n"
    assert kb("init", "--force").returncode == 0
    assert path.read_text(encoding="utf-8") == render_config()


def test_edit_creates_opens_and_checks_the_file(tmp_path: Path):
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "kb" / "config.toml"
    seen = tmp_path / "seen.txt"
    # a missing file is written first; $VISUAL wins over $EDITOR and may carry arguments
    record = editor(tmp_path, "record", f'echo "$@" > {seen}')
    r = kb("edit", env={"VISUAL": f"{record} --flag", "EDITOR": "/bin/false"})
    assert r.returncode == 0, r.stderr
    assert seen.read_text().split() == ["--flag", str(path)]
    assert path.read_text(encoding="utf-8") == render_config()

    bad = editor(tmp_path, "bad", "sed -i 's/^backend = \"auto\"/backend = \"gpt4\"/' \"$1\"")
    r = kb("edit", env={"VISUAL": "", "EDITOR": bad})
    assert r.returncode == 2
    assert str(path) in r.stderr and "llm.backend" in r.stderr and "gpt4" in r.stderr
    assert "Traceback" not in r.stderr
    assert kb("show").returncode == 2  # every command now reports the bad file ...

    fix = editor(tmp_path, "fix", "sed -i 's/^backend = \"gpt4\"/backend = \"embedded\"/' \"$1\"")
    r = kb("edit", env={"VISUAL": "", "EDITOR": fix})  # ... and edit still opens it to fix it
    assert r.returncode == 0, r.stderr
    assert load_settings().llm.backend == "embedded"


def test_edit_without_an_editor_says_so(tmp_path: Path):
    r = kb("edit", env={"VISUAL": str(tmp_path / "no-such-editor"), "EDITOR": ""})
    assert r.returncode == 1
    assert "no-such-editor" in r.stderr and "Traceback" not in r.stderr
