"""The tree shows the pipeline; these tests keep it that way.

- ``kb`` (the core) never imports ``ingest``, ``digest`` or ``tui`` — except ``kb/cli``, the
  face, and only lazily inside command functions.
- ``kb``, ``ingest`` and ``digest`` never import textual.
- heavy libraries (chromadb, llama_index, onnxruntime, llama_cpp) are never imported at module
  level by the CLI or the TUI, so `kb --help` and `kb tui` start fast.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("chromadb", "llama_index", "onnxruntime", "llama_cpp", "torch", "trafilatura")
APPS = ("ingest", "digest", "tui")


def _imports(path: Path, *, top_level_only: bool) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # include imports under module-level if/try blocks (not functions),
        stack, nodes = list(tree.body), []  # but not `if TYPE_CHECKING:` (never run)
        while stack:
            n = stack.pop()
            nodes.append(n)
            if isinstance(n, ast.If) and ast.unparse(n.test) in ("TYPE_CHECKING",
                                                                 "typing.TYPE_CHECKING"):
                stack.extend(n.orelse)
            elif isinstance(n, ast.If | ast.Try | ast.With):
                stack.extend(ast.iter_child_nodes(n))
    out = []
    for n in nodes:
        if isinstance(n, ast.Import):
            out += [a.name for a in n.names]
        elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
            out.append(n.module)
    return out


def _files(pkg: str) -> list[Path]:
    return sorted((REPO / pkg).rglob("*.py"))


def _root(name: str) -> str:
    return name.split(".")[0]


def test_core_never_imports_the_apps_except_the_cli_lazily():
    bad = []
    for f in _files("kb"):
        in_cli = "cli" in f.relative_to(REPO / "kb").parts[:1]
        names = _imports(f, top_level_only=in_cli)
        bad += [f"{f.relative_to(REPO)}: {n}" for n in names if _root(n) in APPS]
    assert not bad, "core imports an app package (only kb/cli may, inside functions):\n" + "\n".join(bad)


def test_no_textual_below_the_tui():
    bad = [f"{f.relative_to(REPO)}: {n}" for pkg in ("kb", "ingest", "digest") for f in _files(pkg)
           for n in _imports(f, top_level_only=False) if _root(n) in ("textual",)]
    assert not bad, "\n".join(bad)


def test_no_heavy_imports_at_module_level_in_cli_and_tui():
    bad = []
    for pkg in ("tui", "kb/cli"):
        for f in sorted((REPO / pkg).rglob("*.py")):
            bad += [f"{f.relative_to(REPO)}: {n}" for n in _imports(f, top_level_only=True)
                    if _root(n) in HEAVY]
    assert not bad, "\n".join(bad)


def test_cli_start_imports_nothing_heavy():
    """What `kb --help` actually loads (a subprocess, so this process's imports don't count)."""
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from kb.cli import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=REPO, timeout=120)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {*HEAVY, *APPS, "textual", "feedparser", "httpx", "numpy"}, loaded


# the functions that build a backend, and the only modules allowed to call them
FACTORIES = {
    "build_embedder": {"kb/runtime.py"},
    "build_llm": {"kb/runtime.py"},
    "fallback_expected": {"kb/runtime.py"},
    "open_chroma": {"kb/runtime.py", "kb/index/chroma.py"},
    "drop_chroma": {"kb/runtime.py"},
    "HttpFetcher": {"kb/runtime.py"},
    "load_onnx_embedder": {"kb/embed/factory.py"},
    "load_ollama_embedder": {"kb/embed/factory.py"},
    "load_llamacpp_llm": {"kb/models/factory.py"},
    "chroma_client": {"kb/index/chroma.py"},
}


def test_backends_are_built_by_the_runtime_only():
    """Backends are built once, by the runtime the faces create, and passed down: nothing in
    kb, ingest, digest or tui calls a backend factory itself."""
    bad = []
    for pkg in ("kb", "ingest", "digest", "tui"):
        for f in _files(pkg):
            rel = str(f.relative_to(REPO))
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call):
                    fn = node.func
                    name = fn.id if isinstance(fn, ast.Name) else (
                        fn.attr if isinstance(fn, ast.Attribute) else "")
                    if name in FACTORIES and rel not in FACTORIES[name]:
                        bad.append(f"{rel}:{node.lineno} calls {name}")
    assert not bad, "\n".join(bad)


def test_settings_are_typed_everywhere():
    bad = [f"{f.relative_to(REPO)}:{i}" for pkg in ("kb", "ingest", "digest", "tui")
           for f in _files(pkg)
           for i, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1)
           if "settings: Any" in line or "settings: object" in line]
    assert not bad, "\n".join(bad)
