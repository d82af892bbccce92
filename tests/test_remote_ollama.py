"""Remote Ollama: kb reaches its model server only where OLLAMA_HOST or ``[ollama] host`` says.

The Ollama-protocol test server (tests/ollama_server.py) listens on 127.0.0.2 — another
loopback address, on a port of its own — never on the default 127.0.0.1:11434, and the real
``kb`` CLI runs in subprocesses (tests/faults_support.py) told where it is by OLLAMA_HOST alone
or by the config file alone.  The server records every request, which proves kb went there.
Faults: a first token slower than the connect timeout (the answer still comes), slower than
``ollama.timeout`` (one clear sentence), and answers broken off mid-stream or mid-reply
(hang-up, garbage, an error line, an early end): nothing broken is shown as an answer, stored
as an exchange or cached as a summary, and the next run against a healthy server completes.

The model behind the server is scripted (:class:`RemoteHost`: fixed valid replies sent
word by word, so a break leaves real partial text) so that only the fault decides the
outcome; one test runs the real SmolLM2 GGUF behind the same remote address.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from faults_support import SUMMARY, ScriptedHost, kb_env, run_kb, scripted_reply, seed_home

pytestmark = pytest.mark.slow

REMOTE = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 to lo: a second loopback "host"
QUESTION = "Why does an agent trained against a noisy goal sensor tamper with the sensor?"
ANSWER = ("An agent trained against a noisy goal sensor learns to stare at the sensor instead "
          "of reaching the goal [1]. Adding a small penalty on sensor contact removes the "
          "behaviour without hurting returns much [1].")
POSTS = [
    ("Reward hacking in a gridworld with a broken goal sensor",
     "An agent trained against a noisy goal sensor learns to stare at the sensor instead of "
     "reaching the goal. We vary the sensor noise and measure how often the learned policy "
     "tampers with it, and find a sharp threshold. Adding a small penalty on sensor contact "
     "removes the behaviour without hurting returns much."),
    ("Probing a small language model for a truthfulness direction",
     "We train linear probes on the residual stream of a small transformer to separate true "
     "from false statements. A single direction transfers across topics, and steering along "
     "it changes how often the model agrees with false claims."),
    ("Why scalable oversight needs honest debaters",
     "Debate as an oversight method assumes that at least one debater tells the truth. We "
     "sketch cases where both debaters gain by colluding against the judge, and argue that "
     "training for honesty has to come before debate can help."),
]
PIECE = re.compile(r"\S+\s*")
# a non-streamed summary reply broken off here still holds the whole summary sentence: a
# client that took the text so far for the answer would cache it
SUMMARY_JSON = scripted_reply({"properties": {"summary": {}, "relevance": {}}})
SUMMARY_BREAK = len(PIECE.findall(SUMMARY_JSON)) - 3


class RemoteHost(ScriptedHost):
    """The scripted model of the fault suite, replying word by word: `kb ask` prompts get
    :data:`ANSWER` (which cites [1] with sentences of the first post), the rest the fault
    suite's valid summary/theme replies."""

    def generate(self, prompt: str, stop: list[str], body: dict[str, Any]
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
        from digest.ask_prompts import SYSTEM

        with self.lock:
            self.chats += 1
        messages = json.loads(prompt)
        text = ANSWER if messages[0]["content"] == SYSTEM else scripted_reply(body.get("format"))
        for word in PIECE.findall(text):
            yield word, {}
        yield "", {"done_reason": "stop", "total_duration": 1, "load_duration": 0,
                   "prompt_eval_count": len(prompt) // 4, "prompt_eval_duration": 1,
                   "eval_count": len(text) // 4, "eval_duration": 1}


# --- an archive of our own, indexed once ---------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A KB_HOME with :data:`POSTS` (published minutes ago) indexed by `kb index` with the fake
    embedder; tests work on copies."""
    from digest_fakes import add_post

    from kb.settings import load_settings
    from kb.store.db import Store

    root = tmp_path_factory.mktemp("remote-ollama")
    home = root / "home"
    seed_home(home)
    store = Store(load_settings(env={"KB_HOME": str(home)}).db_path)
    try:
        when = datetime.now(UTC) - timedelta(minutes=10)
        for i, (title, text) in enumerate(POSTS):  # each post also says what SUMMARY says
            add_post(store, f"kbRemotePost{i:07d}", title,  # (summaries are claim-checked)
                     (when - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     text=f"{text} {SUMMARY}")
    finally:
        store.close()
    r = run_kb(env_for(home, root / "xdg"), "index", timeout=120)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "home"))


def env_for(home: Path, config_home: Path, **extra: str) -> dict[str, str]:
    """A `kb` subprocess environment: the Ollama backend, the fake embedder, our own config
    directory, and no OLLAMA_HOST or KB_OLLAMA_HOST unless ``extra`` sets one."""
    return kb_env(home, XDG_CONFIG_HOME=str(config_home), KB_LLM_BACKEND="ollama",
                  KB_EMBED_BACKEND="fake", KB_DIGEST_TIMEZONE="UTC", **extra)


def config_env(home: Path, tmp_path: Path, ollama: dict[str, Any], **extra: str
               ) -> dict[str, str]:
    """``env_for`` with ``[ollama]`` written to ``$XDG_CONFIG_HOME/kb/config.toml``."""
    cfg = tmp_path / "xdg" / "kb" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[ollama]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in ollama.items()),
                   encoding="utf-8")
    return env_for(home, tmp_path / "xdg", **extra)


def remote_server(make_ollama_server: Any, **knobs: Any) -> Any:
    knobs.setdefault("host", RemoteHost())
    server = make_ollama_server(address=REMOTE, **knobs)
    assert server.url == f"http://{REMOTE}:{server.port}" and server.port != 11434
    return server


def resolved_host(env: dict[str, str]) -> tuple[str, str]:
    """(ollama.host, where it came from) as kb resolves them in ``env``."""
    from kb.settings import load_settings

    s = load_settings(env=env)
    return s.ollama.host, s.origins.get("ollama.host", "default")


def chats(server: Any) -> list[dict[str, Any]]:
    return [b for _m, path, b in list(server.requests) if path == "/api/chat"]


def rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "kb.sqlite3") as db:
        return db.execute(sql).fetchall()


def summaries(home: Path) -> dict[str, tuple[str, str | None]]:
    """post id -> (status, error) of every summary row of the chat model (each post also has
    its extractive summary, made without one)."""
    return {p: (s, e) for p, s, e in rows(home, "SELECT post_id, status, error FROM summaries "
                                                "WHERE model_id NOT LIKE 'extractive:%'")}


def model_summaries(home: Path) -> list[tuple[str, str]]:
    """(summary, method) of the chat model's good summaries."""
    return [(s, m) for s, m in rows(home, "SELECT summary, method FROM summaries WHERE status = "
                                          "'ok' AND model_id NOT LIKE 'extractive:%'")]


def from_the_healthy_reply(home: Path) -> bool:
    """Every post's model summary is the scripted reply's, sentences the claim checker refused
    replaced by the post's own (method "...+extractive"): nothing of a broken reply."""
    got = model_summaries(home)
    return len(got) == len(POSTS) and all(
        SUMMARY.split(". ")[0] in s and not m.startswith("extractive") for s, m in got)


def exchanges(home: Path) -> int:
    return rows(home, "SELECT count(*) FROM ask_exchanges")[0][0]


def one_sentence_error(stderr: str) -> str:
    """The one ``error: …`` message that ends a failed command's stderr (no traceback), as one
    line (the console wraps long lines at its width)."""
    assert "Traceback" not in stderr and stderr.count("error: ") == 1, stderr
    return " ".join(stderr[stderr.index("error: "):].split())


def report_of(stdout: str) -> dict[str, Any]:
    return json.loads(stdout[stdout.index("{"):])


# --- the tests -------------------------------------------------------------------------------
def test_slow_first_token_through_ollama_host_answers_and_summarizes(home, tmp_path,
                                                                     make_ollama_server):
    """OLLAMA_HOST alone (in Ollama's own ``host:port`` form) leads kb to 127.0.0.2; a first
    token slower than the connect timeout is waited for (ollama.timeout governs it)."""
    server = remote_server(make_ollama_server, first_token_delay=1.5)
    env = env_for(home, tmp_path / "xdg", OLLAMA_HOST=f"{REMOTE}:{server.port}",
                  KB_OLLAMA_CONNECT_TIMEOUT="0.5", KB_OLLAMA_TIMEOUT="30")
    assert resolved_host(env) == (server.url, "env OLLAMA_HOST")

    t0 = time.monotonic()
    r = run_kb(env, "ask", QUESTION)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert time.monotonic() - t0 >= 1.5
    assert r.stdout.startswith(ANSWER)  # streamed as it came
    assert "Sources:" in r.stdout and f"[1] {POSTS[0][0]}" in r.stdout
    asked = chats(server)
    assert len(asked) == 1 and asked[0]["stream"] is True  # one request, not retried
    assert exchanges(home) == 1

    r = run_kb(env, "summarize", "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    report = report_of(r.stdout)
    assert report["summarized"] == 3 and report["pending"] == 0
    assert {s for s, _e in summaries(home).values()} == {"ok"}
    assert len(chats(server)) == 1 + report["model_calls"]  # every call went to 127.0.0.2


def test_first_token_slower_than_the_timeout_from_the_config_file(home, tmp_path,
                                                                  make_ollama_server):
    """``[ollama] host`` in the config file alone leads kb there; a first token slower than
    ``ollama.timeout`` ends `kb ask` (exit 1) and leaves summaries pending (exit 3), each with
    one sentence naming the host and the setting; nothing is retried or stored; a healthy
    server then completes them."""
    server = remote_server(make_ollama_server, first_token_delay=30.0)
    env = config_env(home, tmp_path, {"host": f"http://{REMOTE}:{server.port}", "timeout": 1,
                                      "retries": 2})
    assert resolved_host(env) == (server.url, str(tmp_path / "xdg" / "kb" / "config.toml"))
    expected = (f"error: Ollama at {server.url} did not answer within 1 seconds: check the "
                f"server (`ollama ps`) or raise ollama.timeout (KB_OLLAMA_TIMEOUT)")

    t0 = time.monotonic()
    r = run_kb(env, "ask", QUESTION, timeout=60)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert time.monotonic() - t0 < 20  # the timeout ended it, not the server
    assert one_sentence_error(r.stderr) == expected
    assert "Sources:" not in r.stdout and "Nearest posts:" not in r.stdout
    assert len(chats(server)) == 1 and exchanges(home) == 0  # a timeout is not retried

    r = run_kb(env, "summarize", timeout=60)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "0 summarized" in r.stdout
    for pid in rows(home, "SELECT id FROM posts"):
        assert f"pending {pid[0]}: {expected[len('error: '):]}" in r.stderr.splitlines()
    assert {s for s, _e in summaries(home).values()} == {"pending"}
    assert len(chats(server)) == 1 + 3  # one request per post: timeouts are not retried

    server.first_token_delay = 0.0
    r = run_kb(env, "summarize", "--json", timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert report_of(r.stdout)["summarized"] == 3
    assert {s for s, _e in summaries(home).values()} == {"ok"}


def test_ask_stream_broken_mid_answer_is_no_answer(home, tmp_path, make_ollama_server):
    """A stream that breaks after some words (hang-up, garbage, an error line, an early end):
    the words shown are marked as no checked answer (no Sources), one sentence says what
    happened, nothing is retried or stored, and the next `kb ask` works."""
    from kb.cli.ask_cmds import STOPPED

    server = remote_server(make_ollama_server)
    env = config_env(home, tmp_path, {"host": f"{REMOTE}:{server.port}"})
    partial = "".join(PIECE.findall(ANSWER)[:4])
    server.break_stream_after = 4
    for how in ("hangup", "garble", "error", "end"):
        server.break_stream_how = how
        before = len(chats(server))
        r = run_kb(env, "ask", QUESTION)
        assert r.returncode == 1, (how, r.stdout, r.stderr)
        error = one_sentence_error(r.stderr)
        assert error.startswith(f"error: Ollama at {server.url} broke off the answer ("), how
        assert error.endswith("): try again, and check the server log if it keeps happening")
        assert r.stdout == f"{partial}\n{STOPPED}\n", how  # the words say what they are
        assert len(chats(server)) == before + 1  # words had been handed on: not retried
        assert exchanges(home) == 0

    r = run_kb(env, "ask", "--json", QUESTION)  # not streamed to the terminal: nothing at all
    assert r.returncode == 1 and r.stdout == "" and exchanges(home) == 0
    assert one_sentence_error(r.stderr).startswith(f"error: Ollama at {server.url} broke off")

    server.break_stream_after = None
    r = run_kb(env, "ask", QUESTION)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith(ANSWER) and "Sources:" in r.stdout
    assert rows(home, "SELECT answer, abstained FROM ask_exchanges") == [(ANSWER, 0)]


@pytest.mark.parametrize("how", ["hangup", "garble", "error", "end"])
def test_summary_reply_broken_mid_request_stays_pending(home, tmp_path, make_ollama_server,
                                                        how):
    """A summary reply that breaks off (hang-up mid-body, garbage, HTTP 500, an unfinished
    answer) caches nothing: every post stays pending with a message naming the host, and a
    healthy server then summarizes them (model calls made, not cache hits)."""
    server = remote_server(make_ollama_server)
    server.break_stream_after, server.break_stream_how = SUMMARY_BREAK, how
    env = env_for(home, tmp_path / "xdg", OLLAMA_HOST=server.url, KB_OLLAMA_RETRIES="1")

    r = run_kb(env, "summarize", "--json")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    report = report_of(r.stdout)
    assert report["summarized"] == 0 and report["pending"] == 3
    assert all(server.url in f["error"] for f in report["failures"]), report
    assert {s for s, _e in summaries(home).values()} == {"pending"}
    assert chats(server) and all(b["stream"] is False for b in chats(server))

    server.break_stream_after = None
    before = len(chats(server))
    r = run_kb(env, "summarize", "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    report = report_of(r.stdout)
    assert report["summarized"] == 3 and report["cached"] == 0
    assert len(chats(server)) == before + report["model_calls"] >= before + 3
    assert {s for s, _e in summaries(home).values()} == {"ok"}
    assert from_the_healthy_reply(home)


def test_daily_with_a_server_that_hangs_up_mid_reply(home, tmp_path, make_ollama_server):
    """`kb daily` against a server that hangs up in the middle of every reply: exit 3, the
    posts pending in the digest; the next run, server healthy, summarizes them and completes
    the digest."""
    server = remote_server(make_ollama_server)
    server.break_stream_after, server.break_stream_how = SUMMARY_BREAK, "hangup"
    env = env_for(home, tmp_path / "xdg", OLLAMA_HOST=f"{REMOTE}:{server.port}",
                  KB_OLLAMA_RETRIES="1")

    r = run_kb(env, "daily", "--no-progress", "--json")
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert f"Ollama at {server.url} closed the connection" in r.stderr
    report = report_of(r.stdout)
    assert report["pending"] == 3 and report["summarized"] == 0
    assert {s for s, _e in summaries(home).values()} == {"pending"}
    days = sorted((home / "digests").glob("*.md"))
    assert days, report
    md = "".join(p.read_text(encoding="utf-8") for p in days)
    # meanwhile every post is shown with its own sentences, and the digest says the model
    # wrote none of it (it stays incomplete: pending 3, so the next run retries)
    assert "wrote none of it" in md and "Summaries: extractive" in md
    assert all(title in md for title, _text in POSTS)

    server.break_stream_after = None
    r = run_kb(env, "daily", "--no-progress", "--json")
    assert r.returncode == 0, (r.stdout, r.stderr)
    report = report_of(r.stdout)
    assert report["pending"] == 0 and report["summarized"] == 3 and report["cached"] == 0
    assert {s for s, _e in summaries(home).values()} == {"ok"}
    md = "".join(p.read_text(encoding="utf-8") for p in sorted((home / "digests").glob("*.md")))
    assert "(pending" not in md and "wrote none of it" not in md
    assert from_the_healthy_reply(home)


@pytest.mark.model
def test_real_model_streams_through_the_remote_host_after_a_slow_first_token(
        home, tmp_path, make_ollama_server):
    """The real SmolLM2 GGUF behind 127.0.0.2: the answer (or a plain abstention: the tiny
    model may not cite) streams after a first token slower than the connect timeout."""
    from ollama_server import shared_host

    server = remote_server(make_ollama_server, host=shared_host(), first_token_delay=1.0)
    env = config_env(home, tmp_path, {"host": server.url, "connect_timeout": 0.5,
                                      "timeout": 60}, KB_LLM_MAX_OUTPUT_TOKENS="24")
    r = run_kb(env, "ask", "--k", "1", QUESTION, timeout=180)  # a short prompt: 2 cores
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert "Sources:" in r.stdout or "Nearest posts:" in r.stdout
    asked = chats(server)
    assert len(asked) == 1 and asked[0]["stream"] is True
    assert asked[0]["options"]["num_predict"] == 24
    assert exchanges(home) == 1
