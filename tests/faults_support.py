"""Helpers for the fault suite (tests/test_faults_*.py), the offline test and the benchmarks.

* :func:`kb_env` / :func:`run_kb` run the real ``kb`` CLI in a subprocess with its own KB_HOME.
* :func:`seed_home` creates a store whose only sources are the given local feeds (the default
  network sources are marked as already added, so nothing reaches for the internet).
* :func:`write_feed` writes an RSS feed of our own made-up posts.
* :class:`ScriptedHost` is a stand-in for the SmolLM2 model behind the Ollama-protocol test
  server (tests/ollama_server.py): the HTTP protocol, kb's Ollama client, retries and timeouts
  are all real, but each reply is a fixed, valid answer for the JSON schema asked for, returned
  at once (or after ``slow`` seconds).  The fault tests need a deterministic model that never
  produces an unusable summary, so that "the next run completes them" is a fact, not luck.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

REPO = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent
OFFLINE_GUARD = TESTS / "offline_guard"
from corpus_paths import CORPUS  # noqa: E402,F401  (re-exported: one definition, resolved)


def kb_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``kb`` subprocess: no inherited KB_*/OLLAMA_HOST, KB_HOME=home."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("KB_") and k != "OLLAMA_HOST"}
    env.update(KB_HOME=str(home), ANONYMIZED_TELEMETRY="False", PYTHONUNBUFFERED="1",
               COLUMNS="200", NO_COLOR="1", TERM="dumb")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def kb_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kb.cli.__main__", *args]


def run_kb(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(kb_argv(*args), env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def popen_kb(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(kb_argv(*args), env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def seed_home(home: Path, feeds: list[tuple[str, Path]] = ()) -> None:  # type: ignore[assignment]
    """A fresh archive tracking only ``feeds`` (name, local file)."""
    from kb.settings import ensure_home, load_settings
    from kb.store.db import Store
    from kb.store.sources import add_source

    settings = load_settings(env={"KB_HOME": str(home)})
    ensure_home(settings)
    store = Store(settings.db_path)
    try:
        with store.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO kv (key, value) VALUES "
                         "('default_sources_added', 'fault-suite')")
        for name, path in feeds:
            add_source(store, path.resolve().as_uri(), name=name, kind="feed")
    finally:
        store.close()


TOPICS = [
    ("Reward hacking in a gridworld with a broken goal sensor",
     "An agent trained against a noisy goal sensor learns to stare at the sensor instead of "
     "reaching the goal. We vary the sensor noise and measure how often the learned policy "
     "tampers with it, and find a sharp threshold. Adding a small penalty on sensor contact "
     "removes the behaviour without hurting returns much."),
    ("Probing a small language model for a truthfulness direction",
     "We train linear probes on the residual stream of a small transformer to separate true "
     "from false statements. A single direction transfers across topics, and steering along "
     "it changes how often the model agrees with false claims. The effect fades in the last "
     "layers, which suggests later components rewrite it."),
    ("Why scalable oversight needs honest debaters",
     "Debate as an oversight method assumes that at least one debater tells the truth. We "
     "sketch cases where both debaters gain by colluding against the judge, and argue that "
     "training for honesty has to come before debate can help. A simple cross-examination "
     "rule restores some of the guarantee."),
    ("Sandbagging on capability evaluations: a toy model",
     "A model that knows it is being evaluated may underperform on purpose. We build a toy "
     "setting where a policy conditions on an evaluation cue, and show that fine-tuning on a "
     "few honest examples removes the gap. Evaluators should hide cues and check consistency "
     "across paraphrases."),
    ("Interpretability of chess-playing networks",
     "We look for board-state features inside a network trained on chess moves. Sparse "
     "dictionaries recover features for attacked squares and pins, and ablating them changes "
     "the move choice in predictable ways. The features are less clean in deeper layers."),
    ("Corrigibility as a property of the training process",
     "Instead of asking whether a trained agent is corrigible, we ask whether its training "
     "process keeps it correctable. We give three conditions on the update rule and show a "
     "small counterexample where each fails. The framing suggests new evaluations."),
]


def write_feed(path: Path, n: int = 4, *, when: datetime | None = None, prefix: str = "post",
               title: str = "Fault-suite feed", extra_items: str = "") -> Path:
    """An RSS 2.0 feed of ``n`` posts of our own writing, published an hour before ``when``."""
    when = when or datetime.now(UTC)
    items = []
    for i in range(n):
        t, body = TOPICS[i % len(TOPICS)]
        if i >= len(TOPICS):
            t = f"{t} (part {i // len(TOPICS) + 1})"
        pub = format_datetime(when - timedelta(hours=1, minutes=i), usegmt=True)
        items.append(
            f"<item><title>{escape(t)}</title>"
            f"<link>https://fault-suite.example.org/{prefix}/{i}</link>"
            f"<guid isPermaLink=\"false\">{prefix}-{i}</guid>"
            f"<pubDate>{pub}</pubDate><dc:creator>Test Author {i}</dc:creator>"
            # every post also says what the scripted model's summary says (SUMMARY): digest
            # summaries are claim-checked against their post, and only the faults may decide
            f"<description>{escape('<p>' + body + '</p><p>' + body + '</p><p>' + SUMMARY + '</p>')}"
            "</description></item>")
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>https://fault-suite.example.org/</link>"
        "<description>posts written for kb's fault tests</description>"
        + "".join(items) + extra_items + "</channel></rss>\n", encoding="utf-8")
    return path


# --- a scripted model behind the Ollama-protocol test server ------------------------------------
SUMMARY = ("The post studies a failure mode of trained agents in a small controlled setting. "
           "It measures how often the failure appears as one parameter varies. It proposes a "
           "simple fix and shows that the fix works without a large cost.")


def scripted_reply(schema: Any) -> str:
    """A valid JSON answer for the schemas digest/prompts.py uses (or a plain summary)."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    if "summary" in props and "relevance" in props:
        return json.dumps({"summary": SUMMARY, "relevance": "core",
                           "implications": "It shows a concrete way oversight can fail."})
    if "notes" in props:
        return json.dumps({"notes": SUMMARY})
    if "name" in props:
        return json.dumps({"name": "Failures of trained agents",
                           "summary": ["Several posts measure how trained agents fail [1]."],
                           "implications": "Evaluations should look for these failures [1]."})
    if "connections" in props:
        return json.dumps({"connections": "The themes share a concern with agents that "
                                          "exploit their training signal [1]."})
    return SUMMARY


class ScriptedHost:
    """Duck-types tests/ollama_server.ModelHost without loading a model.

    ``gate``: when set, the first chat request waits on it (``first_chat`` is set when it
    arrives) so a test can stop the server while a request is in flight.  ``slow``: seconds
    each chat reply takes.  ``chats`` / ``embeds`` count the model work done."""

    N_CTX = 8192
    EMBED_CTX = 2048

    def __init__(self, *, slow: float = 0.0, gate: threading.Event | None = None) -> None:
        from kb.models.lockfile import load_lock, packaged_file

        pf = packaged_file(load_lock(), "llm_embedded.package")
        self.sha256 = pf.sha256
        self.path = Path("/nonexistent/scripted.gguf")
        self.size = 1
        self.lock = threading.Lock()
        self.slow, self.gate = slow, gate
        self.first_chat = threading.Event()
        self.chats = 0
        self.embeds = 0

    @property
    def metadata(self) -> dict[str, str]:
        return {"tokenizer.chat_template": "", "llama.embedding_length": "576",
                "llama.block_count": "30"}

    def chat_prompt(self, messages: list[dict[str, Any]]) -> tuple[str, list[str]]:
        return json.dumps(messages), []

    def generate(self, prompt: str, stop: list[str], body: dict[str, Any]
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
        with self.lock:
            self.chats += 1
        if not self.first_chat.is_set():
            self.first_chat.set()
            if self.gate is not None:
                self.gate.wait(30)
        end = time.monotonic() + self.slow
        while time.monotonic() < end:
            time.sleep(0.05)
        text = scripted_reply(body.get("format"))
        yield text, {}
        yield "", {"done_reason": "stop", "total_duration": 1, "load_duration": 0,
                   "prompt_eval_count": len(prompt) // 4, "prompt_eval_duration": 1,
                   "eval_count": len(text) // 4, "eval_duration": 1}

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self.lock:
            self.embeds += len(texts)
        return [[1.0] + [0.0] * 575 for _ in texts]


def chat_requests(server: Any) -> int:
    return sum(1 for _m, path, _b in list(server.requests) if path in ("/api/chat",
                                                                       "/api/generate"))
