"""P2 a second `kb daily` with nothing new: wall time, embeddings made, model calls.

Real runs of the `kb` CLI in subprocesses (interpreter start included), on a KB_HOME of its
own: a local RSS feed of corpus posts (text from the aisafetyconnect dataset, written to the
temp dir, dated today so that today's digest is built), the ONNX embedder and Chroma on disk,
and the Ollama backend pointed at the Ollama-protocol test server on 127.0.0.1 serving the
scripted model of tests/faults_support.py (fixed valid replies: the figures measure kb's own
work and caching, not the model — with SmolLM2 some summaries stay pending and are rightly
retried).  The first `kb daily` ingests, indexes, summarizes and writes the digest; the second
one is measured.  Model calls = chat/generate requests the server received; embeddings = chunks
embedded by the index step + new digest embeddings (digest_cache rows of kind "embed") +
/api/embed requests.  Standalone: ``python -m bench.p2_daily``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from bench.common import Context, Row, check

NAME = "P2"
REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
FEED_POSTS = 20


def _tests_on_path() -> None:
    for p in (str(REPO), str(TESTS)):
        if p not in sys.path:
            sys.path.insert(0, p)


def write_corpus_feed(corpus: Path, dest: Path, n: int = FEED_POSTS) -> Path:
    """An RSS feed (outside the repo) of ``n`` sampled corpus posts, published today."""
    from bench.lw_sample import load_lw_posts, sample

    now = datetime.now(UTC)
    start = now.replace(hour=0, minute=5, second=0, microsecond=0)
    span = max(60, int((now - start).total_seconds()) - 60)
    items = []
    for i, r in enumerate(sample(load_lw_posts(corpus, max_chars=3000), n)):
        when = start + timedelta(seconds=span * i // max(1, n))
        html = "".join(f"<p>{escape(p)}</p>" for p in r.text.split("\n\n"))
        items.append(f"<item><title>{escape(r.title)}</title><link>{escape(r.urls[0])}</link>"
                     f"<guid isPermaLink=\"false\">{r.lw_id}</guid>"
                     f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
                     f"<dc:creator>{escape((r.authors or ['?'])[0])}</dc:creator>"
                     f"<description>{escape(html)}</description></item>")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
                    'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>bench feed'
                    "</title><link>https://bench.example.org/</link><description>sample"
                    "</description>" + "".join(items) + "</channel></rss>\n", encoding="utf-8")
    return dest


def _embed_rows(home: Path) -> int:
    with sqlite3.connect(home / "kb.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM digest_cache WHERE kind = 'embed'")
                   .fetchone()[0])


def _counts(server: Any) -> tuple[int, int]:
    reqs = list(server.requests)
    chats = sum(1 for _m, p, _b in reqs if p in ("/api/chat", "/api/generate"))
    embeds = sum(1 for _m, p, _b in reqs if p in ("/api/embed", "/api/embeddings"))
    return chats, embeds


class DailyHome:
    """A KB_HOME with the bench feed, a running test server, and a way to run `kb`."""

    def __init__(self, ctx: Context) -> None:
        _tests_on_path()
        from faults_support import ScriptedHost, kb_env, seed_home
        from ollama_server import OllamaTestServer

        self.home = ctx.workdir / "p2-home"
        feed = write_corpus_feed(ctx.corpus, ctx.workdir / "p2-data" / "feed.xml")
        seed_home(self.home, [("bench-feed", feed)])
        self.server = OllamaTestServer(host=ScriptedHost()).start()  # type: ignore[arg-type]
        self.env = kb_env(self.home, KB_LLM_BACKEND="ollama", KB_OLLAMA_HOST=self.server.url)

    def kb(self, *args: str) -> tuple[float, dict[str, Any], int]:
        """(wall seconds, JSON report, exit code) of one real `kb` run."""
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "kb.cli.__main__", *args], env=self.env,
                             cwd=REPO, capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
        try:
            data = json.loads(res.stdout)
        except json.JSONDecodeError:
            data = {}
        if res.returncode not in (0, 3):
            print(res.stderr[-2000:], file=sys.stderr)
        return wall, data, res.returncode

    def stop(self) -> None:
        self.server.stop()


def run(ctx: Context) -> list[Row]:
    dh = DailyHome(ctx)
    try:
        first_wall, first, code1 = dh.kb("daily", "--no-progress", "--json")
        print(f"P2: first kb daily: {first_wall:.1f}s, exit {code1}, {first.get('new')} new, "
              f"{first.get('indexed')} chunks embedded, {first.get('model_calls')} model calls")
        chats0, embeds0 = _counts(dh.server)
        rows0 = _embed_rows(dh.home)
        wall, second, code2 = dh.kb("daily", "--no-progress", "--json")
        chats1, embeds1 = _counts(dh.server)
        embeddings = int(second.get("indexed", 0)) + (_embed_rows(dh.home) - rows0) + \
            (embeds1 - embeds0)
        calls = chats1 - chats0
        ctx.shared["daily_home"] = dh  # P7 re-runs the day's digest here
    except BaseException:
        dh.stop()
        raise
    print(f"P2: second kb daily: {wall:.2f}s, exit {code2}, {second.get('new')} new, "
          f"{second.get('indexed')} chunks embedded, {calls} model requests; "
          f"{second.get('digests')}")
    return [
        Row(NAME, "second daily wall", round(wall, 2), "s", "<= 2", check(wall, "<=", 2.0)),
        Row(NAME, "embeddings made", embeddings, "", "== 0", embeddings == 0),
        Row(NAME, "model calls", calls, "", "== 0", calls == 0),
        Row(NAME, "second daily exit code", code2, "", "== 0", code2 == 0),
        Row(NAME, "first daily wall", round(first_wall, 1), "s"),
    ]


def main() -> None:
    import tempfile

    from bench.__main__ import CORPUS, _print

    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}; nothing to measure")
        return
    with tempfile.TemporaryDirectory(prefix="kb-p2-") as tmp:
        ctx = Context(corpus=CORPUS, workdir=Path(tmp))
        rows = run(ctx)
        ctx.shared["daily_home"].stop()
    _print(rows)


if __name__ == "__main__":
    main()
