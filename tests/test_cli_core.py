"""`kb config show`, `kb stats`, `kb sources`, `kb posts` through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kb.store import Store
from kb.store.posts import PostRecord, save_post

KB = [sys.executable, "-m", "kb.cli.__main__"]


def kb(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*KB, *args], capture_output=True, text=True, env=os.environ.copy(),
                          timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"kb {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def test_stats_json_contract():
    data = json.loads(kb("stats", "--json").stdout)
    for key in ("posts", "post_urls", "versions", "sources"):
        assert isinstance(data[key], int)


def test_config_show_names_origins(monkeypatch):
    monkeypatch.setenv("KB_LLM_BACKEND", "embedded")
    data = json.loads(kb("config", "show", "--json").stdout)
    assert data["llm.backend"] == {"value": "embedded", "origin": "env KB_LLM_BACKEND"}
    assert data["digest.timezone"]["origin"] == "default"
    monkeypatch.setenv("OLLAMA_HOST", "0.0.0.0")
    data = json.loads(kb("config", "show", "--json").stdout)
    assert data["ollama.host"] == {"value": "http://0.0.0.0:11434", "origin": "env OLLAMA_HOST"}


def test_bad_setting_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("KB_LLM_BACKEND", "gpt4")
    proc = kb("stats", check=False)
    assert proc.returncode == 2
    assert "KB_LLM_BACKEND" in proc.stderr and "Traceback" not in proc.stderr


def test_sources_lifecycle_and_opml_roundtrip(tmp_path: Path):
    listed = json.loads(kb("sources", "list", "--json").stdout)
    names = {s["name"] for s in listed}
    assert {"lesswrong", "alignmentforum", "niplav-automated"} <= names  # defaults on first run
    assert next(s for s in listed if s["name"] == "niplav-automated")["kind"] == "page"
    kb("sources", "add", "https://example.org/feed.xml", "--kind", "feed", "--name", "ex")
    dup = kb("sources", "add", "https://example.org/feed.xml", "--kind", "feed", check=False)
    assert dup.returncode == 1 and "already tracked" in dup.stderr
    opml = tmp_path / "s.opml"
    kb("sources", "export-opml", "-o", str(opml))
    kb("sources", "remove", "ex")
    assert "ex" not in {s["name"] for s in json.loads(kb("sources", "list", "--json").stdout)}
    out = kb("sources", "import-opml", str(opml)).stdout
    assert "1 added" in out
    after = json.loads(kb("sources", "list", "--json").stdout)
    assert len(after) == len(listed) + 1
    assert next(s for s in after if s["url"] == "https://niplav.site/automated.html")["kind"] == "page"


def test_import_opml_refuses_entity_bomb(tmp_path: Path):
    bomb = tmp_path / "bomb.opml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
                    '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><opml><body>'
                    '<outline xmlUrl="https://x.org/&b;"/></body></opml>')
    proc = kb("sources", "import-opml", str(bomb), check=False)
    assert proc.returncode == 1 and "entities" in proc.stderr


def test_posts_list_and_show_json(kb_home: Path):
    store = Store(kb_home / "kb.sqlite3")
    save_post(store, PostRecord(
        title="A post", text="Hello [bold]world[/bold]", authors=["Ann", "Bo"],
        published="2025-03-12T10:00:00Z",
        urls=["https://www.alignmentforum.org/posts/abcdefghijkmnopqr/a-post"],
        lw_id="abcdefghijkmnopqr", origin="test"))
    store.close()
    listed = json.loads(kb("posts", "list", "--since", "2025-03-12", "--until", "2025-03-12",
                           "--json").stdout)
    assert [p["id"] for p in listed] == ["abcdefghijkmnopqr"]
    assert json.loads(kb("posts", "list", "--since", "2025-03-13", "--json").stdout) == []
    shown = json.loads(kb("posts", "show", "abcdefghijkmnopqr", "--json").stdout)
    for key in ("id", "title", "authors", "published", "canonical_url", "urls", "versions", "text"):
        assert key in shown
    assert shown["canonical_url"].startswith("https://www.alignmentforum.org/posts/")
    assert len(shown["urls"]) == 2 and shown["authors"] == ["Ann", "Bo"]
    assert shown["versions"][0]["version"] == 1
    # by URL too, and markup in text is printed literally
    text = kb("posts", "show", "https://www.lesswrong.com/posts/abcdefghijkmnopqr/a-post").stdout
    assert "[bold]world[/bold]" in text
    missing = kb("posts", "show", "nope", check=False)
    assert missing.returncode == 1 and "no post" in missing.stderr
