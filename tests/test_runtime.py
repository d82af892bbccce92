"""The runtime: every backend built once, lazily, by the factory its settings select; fakes
injected by tests; nothing loaded that a command does not use."""

from __future__ import annotations

import json
import subprocess
import sys

from corpus_paths import REPO

from kb.embed.fake import FakeEmbedder
from kb.index.fake import FakeIndex
from kb.index.lazy import LazyIndex
from kb.models.fake import FakeLLM
from kb.runtime import Runtime


def test_backends_are_built_once_and_only_when_used(settings, monkeypatch):
    built: list[str] = []

    def build_embedder(s):
        built.append("embedder")
        return FakeEmbedder(16)

    def build_llm(s):
        built.append("llm")
        return FakeLLM(["hi"]), None

    monkeypatch.setattr("kb.embed.factory.build_embedder", build_embedder)
    monkeypatch.setattr("kb.models.factory.build_llm", build_llm)
    rt = Runtime(settings)
    assert built == [] and not rt.llm_loaded
    assert rt.embedder is rt.embedder and built == ["embedder"]
    index = rt.index
    assert isinstance(index, LazyIndex) and not index.opened  # Chroma not opened yet
    assert (index.model_id, index.dim) == ("fake-bow-16", 16)
    assert rt.llm.complete("x").text == "hi" and rt.llm.complete("y").text == "hi"
    assert built == ["embedder", "llm"] and rt.llm.calls == 2 and rt.llm_loaded
    assert index.count() == 0 and index.opened  # opened on first use, on disk
    assert settings.chroma_path.is_dir()
    rt.close()


def test_injected_fakes_are_used_and_fresh_index_clears_them(settings):
    idx = FakeIndex("fake-bow-16", 16)
    emb = FakeEmbedder(16)
    idx.add(["a:1:0"], [emb.embed_query("x")], [{"post_id": "a"}])
    rt = Runtime(settings, embedder=emb, index=idx, llm=FakeLLM(["ok"]))
    assert rt.embedder is emb and rt.index is idx
    assert rt.fresh_index() is idx and idx.count() == 0
    assert rt.llm_notice is None and rt.llm.model_id == "fake@fake"
    assert rt.chat_llm() == (rt.llm, None)  # an injected model is the chat model
    rt.close()


def test_the_notice_can_be_known_without_building_the_model(settings):
    """Opening the Ask screen says 'Ollama is not available' without loading llama.cpp."""
    settings.ollama.host = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.ollama.connect_timeout = 1.0
    rt = Runtime(settings)
    notice = rt.expected_llm_notice()
    assert notice and "Ollama is not available" in notice and "127.0.0.1:9" in notice
    assert not rt.llm_loaded
    settings.llm.backend = "fake"
    assert Runtime(settings).expected_llm_notice() is None
    settings.llm.backend = "none"
    rt = Runtime(settings)
    assert rt.expected_llm_notice() is None and rt.chat_llm() == (None, None)


def test_a_keyword_search_loads_no_model_and_no_index(kb_home):
    """`kb search --mode keyword` runs on SQLite alone: no onnxruntime, no Chroma."""
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from kb.cli import cli\n"
        "r = CliRunner().invoke(cli, ['search', '--mode', 'keyword', 'reward hacking'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=REPO, timeout=120)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {"onnxruntime", "chromadb", "llama_index", "llama_cpp", "ollama"}
