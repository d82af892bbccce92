"""`kb tui` starts light: no vector store, llama-index, ONNX runtime, llama.cpp or torch is
imported to paint the first screen or to open any screen (a subprocess, so this process's
imports do not count)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ("chromadb", "llama_index", "onnxruntime", "llama_cpp", "torch")
REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import asyncio, json, sys
from kb.runtime import Runtime
from kb.settings import load_settings
from tui.app import KbApp

HEAVY = %r
seen = {}

def heavy():
    return sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY})

async def main():
    app = KbApp(Runtime(load_settings()))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        seen["first_paint"] = heavy()
        seen["screen"] = type(app.screen).__name__
        # each screen opened as its key binding does (pressed keys would be typed into the
        # Search screen's input and start a search, whose worker may import the index)
        for mode in ("search", "ask", "sources", "digests"):
            app.action_go(mode)
            await pilot.pause()
            await asyncio.sleep(0.3)
        seen["all_screens"] = heavy()
        seen["llm_loaded"] = app.runtime.llm_loaded

asyncio.run(main())
print(json.dumps(seen))
"""


def test_start_up_and_every_screen_import_nothing_heavy(tmp_path):
    env = {"KB_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin",
           "KB_OLLAMA_HOST": "http://127.0.0.1:9", "ANONYMIZED_TELEMETRY": "False"}
    out = subprocess.run([sys.executable, "-c", SCRIPT % (HEAVY,)], capture_output=True,
                         text=True, cwd=REPO, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["screen"] == "DigestsScreen"
    assert seen["first_paint"] == []
    assert seen["all_screens"] == []
    assert seen["llm_loaded"] is False  # opening Ask loads no model
