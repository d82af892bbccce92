"""P4 — `kb tui` start-up: time to first paint, divided by a minimal Textual app's.

Both apps run headless in fresh Python processes (so imports count, as they do for a user);
what is timed is the wall-clock time from starting the process to the moment the first
screen has been composed, mounted and painted (``auto_pilot`` after the app is idle).  The
kb app opens a temporary archive of synthetic posts with two digests, so its first screen
(Digests) has real work to do.  Target: first paint within about 1 s on 2 cores; the ratio
shows what kb adds on top of Textual itself.  Standalone::

    .venv/bin/python -m bench.p4_tui [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("chromadb", "llama_index", "onnxruntime", "llama_cpp", "torch")

_CHILD = """
import sys
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static

class Minimal(App):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("hello")
        yield Footer()

async def painted(pilot):
    await pilot.pause()
    heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%(heavy)r))
    print("PAINTED " + ",".join(heavy), flush=True)
    pilot.app.exit()

if %(kb)r:
    from kb.runtime import Runtime
    from kb.settings import load_settings
    from tui.app import KbApp
    app = KbApp(Runtime(load_settings()))
else:
    app = Minimal()
app.run(headless=True, size=(120, 40), auto_pilot=painted)
"""


def _archive(home: Path, posts: int = 40) -> None:
    """Synthetic posts (fixed text) and two digest files under ``home``."""
    from kb.settings import ensure_home, load_settings
    from kb.store.db import Store
    from kb.store.posts import PostRecord, save_post

    settings = load_settings(env={"KB_HOME": str(home)})
    ensure_home(settings)
    store = Store(settings.db_path)
    links = []
    for i in range(posts):
        day = 10 + i % 2
        url = f"https://bench.example/post-{i}"
        text = "\n\n".join(f"Paragraph {j} of synthetic post {i} about oversight, proxies and "
                           "interpretability, long enough to wrap across a line or two."
                           for j in range(20))
        save_post(store, PostRecord(title=f"Synthetic post {i}", text=text, urls=[url],
                                    authors=["Bench Author"],
                                    published=f"2025-03-{day}T09:00:00Z", origin="bench"))
        links.append(f"- [Synthetic post {i}]({url})")
    store.close()
    for day in ("2025-03-10", "2025-03-11"):
        (settings.digests_dir / f"{day}.md").write_text(
            f"# Digest for {day}\n\n## Key posts\n\n" + "\n".join(links[:10]) + "\n",
            encoding="utf-8")


def _first_paint(kb: bool, home: Path) -> tuple[float, list[str]]:
    env = dict(os.environ, KB_HOME=str(home), KB_OLLAMA_HOST="http://127.0.0.1:9",
               ANONYMIZED_TELEMETRY="False", PYTHONPATH=str(REPO))
    code = _CHILD % {"heavy": HEAVY, "kb": kb}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t0
    _, err = proc.communicate(timeout=60)
    if not line.startswith("PAINTED"):
        raise RuntimeError(f"{'kb' if kb else 'minimal'} app did not paint: {err[-2000:]}")
    heavy = [m for m in line.split(" ", 1)[1].strip().split(",") if m]
    return elapsed, heavy


def run(*, repeats: int = 5) -> dict[str, Any]:
    """Median first-paint times of the kb TUI and a minimal Textual app (interleaved runs,
    one warm-up each).  Returns ``{"kb_ms", "minimal_ms", "ratio", "kb_max_ms",
    "heavy_modules", "target_ms": 1000, ...}``."""
    with tempfile.TemporaryDirectory(prefix="kb-p4-") as tmp:
        home = Path(tmp)
        _archive(home)
        _first_paint(False, home)  # warm the OS file cache for both
        _first_paint(True, home)
        kb_times, minimal_times, heavy = [], [], set()
        for _ in range(repeats):
            t, _h = _first_paint(False, home)
            minimal_times.append(t)
            t, h = _first_paint(True, home)
            kb_times.append(t)
            heavy |= set(h)
    kb_ms = statistics.median(kb_times) * 1000
    minimal_ms = statistics.median(minimal_times) * 1000
    return {
        "name": "p4_tui",
        "what": "time to first paint of `kb tui` / a minimal Textual app (headless, fresh "
                "process each run, median)",
        "kb_ms": round(kb_ms, 1),
        "minimal_ms": round(minimal_ms, 1),
        "ratio": round(kb_ms / minimal_ms, 2),
        "kb_max_ms": round(max(kb_times) * 1000, 1),
        "repeats": repeats,
        "heavy_modules": sorted(heavy),
        "target_ms": 1000,
        "ok": kb_ms <= 1000 and not heavy,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    print(json.dumps(run(repeats=args.repeats), indent=2))


if __name__ == "__main__":
    main()
