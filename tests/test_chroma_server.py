"""kb against a real Chroma server (`chroma run` from the installed chromadb, on loopback):
the same results as the embedded store, faults that leave SQLite consistent, archives that
share the server without touching each other, and token auth over TLS.

The embedder is the deterministic fake here (the stores and the protocol are what is tested);
tests/test_vector_index.py runs the VectorIndex contract against the server too."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chroma_proxy import TokenProxy, self_signed
from click.testing import CliRunner
from corpus_paths import REPO
from index_helpers import POSTS, long_text, use_chroma_server

from bench.chroma_server import ChromaServer, free_port
from kb.index.indexer import run_index, run_reindex
from kb.retrieval import search
from kb.runtime import Runtime
from kb.settings import Settings, load_settings
from kb.store.posts import PostRecord, save_post

QUERIES = ["induction head circuit", "reward model loophole", "compost soil tomatoes",
           "oversight audits escalation", "sparse autoencoder features"]
EXTRA = [PostRecord(title=f"Oversight notes {i}", text=long_text(6 + i),
                    lw_id=f"ovsight{i:02d}aaaaaaaaa"[:17],
                    urls=[f"https://www.lesswrong.com/posts/ovsight{i:02d}aaaaaaaaa"[:49]],
                    authors=["Eve Example"], published=f"2025-02-{10 + i}T09:00:00Z",
                    origin="test") for i in range(4)]


def _settings(home: Path, server: ChromaServer | None) -> Settings:
    s = load_settings(env={"KB_HOME": str(home), "KB_EMBED_BACKEND": "fake"})
    if server is not None:
        use_chroma_server(s, server)
    return s


def _archive(home: Path, server: ChromaServer | None, posts=(*POSTS, *EXTRA)) -> Runtime:
    rt = Runtime(_settings(home, server))
    for p in posts:
        save_post(rt.store, p)
    run_index(rt.store, rt.embedder, rt.index)
    return rt


def _results(rt: Runtime) -> list:
    out = []
    for q in QUERIES:
        for mode in ("hybrid", "vector", "keyword"):
            out.append([(h.post_id, h.chunk_id, round(h.score, 4), h.start, h.end)
                        for h in search(rt.store, rt.embedder, rt.index, q, k=5, mode=mode)])
    return out


def _sqlite_ids(rt: Runtime) -> set[str]:
    return {r[0] for r in rt.store.conn.execute("SELECT id FROM chunks")}


def _env(home: Path, server_port: int | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KB_")}
    env.update(KB_HOME=str(home), KB_EMBED_BACKEND="fake", ANONYMIZED_TELEMETRY="False",
               **extra)
    if server_port is not None:
        env.update(KB_INDEX_CHROMA="http", KB_INDEX_CHROMA_HOST="127.0.0.1",
                   KB_INDEX_CHROMA_PORT=str(server_port))
    return env


def _kb(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kb.cli.__main__", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


# --- same results as the embedded store -------------------------------------------------------
def test_server_gives_the_embedded_stores_results(tmp_path, chroma_server):
    local = _archive(tmp_path / "local", None)
    remote = _archive(tmp_path / "remote", chroma_server)
    assert remote.namespace and not local.namespace
    assert _results(remote) == _results(local)
    assert remote.index.all_ids() == _sqlite_ids(remote) == _sqlite_ids(local)

    # an edit: the superseded version's vectors go, on both
    edited = dataclasses.replace(POSTS[0], text=POSTS[0].text + "\n\n# Update\n\nA third "
                                 "mitigation, adversarial training, closed the loophole.")
    for rt in (local, remote):
        save_post(rt.store, edited)
        r = run_index(rt.store, rt.embedder, rt.index)
        assert r.chunks_removed > 0 and r.vectors_total == r.chunks_total
    assert remote.index.all_ids() == _sqlite_ids(remote) == local.index.all_ids()
    assert not any(i.startswith("aaaaaaaaaaaaaaaa1:1:") for i in remote.index.all_ids())
    assert _results(remote) == _results(local)
    for rt in (local, remote):
        rt.close()


def test_cli_index_reindex_search_and_eval_over_the_server(tmp_path, chroma_server):
    homes = {"local": (tmp_path / "l", None), "server": (tmp_path / "s", chroma_server.port)}
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(x) for x in [
        {"question": "which loophole did the policy find?", "relevant": ["aaaaaaaaaaaaaaaa1"]},
        {"question": "induction head circuit", "relevant": ["cccccccccccccccc3"]},
        {"question": "escalation when an agent behaves unexpectedly",
         "relevant": [EXTRA[2].urls[0]]}]) + "\n")
    out: dict[str, dict] = {}
    for name, (home, port) in homes.items():
        rt = Runtime(_settings(home, None))
        for p in (*POSTS, *EXTRA):
            save_post(rt.store, p)
        rt.close()
        env = _env(home, port)
        first = _kb(env, "index", "--json")
        assert first.returncode == 0, first.stderr
        again = _kb(env, "reindex", "--json")
        assert again.returncode == 0, again.stderr
        hits = _kb(env, "search", "--json", "--k", "5", "audits", "and", "escalation")
        ev = _kb(env, "eval", "retrieval", str(questions), "--json")
        stats = json.loads(_kb(env, "stats", "--json").stdout)
        assert stats["embedded_chunks"] == stats["chunks"] > 0
        out[name] = {"index": json.loads(first.stdout), "reindex": json.loads(again.stdout),
                     "search": json.loads(hits.stdout), "eval": json.loads(ev.stdout)}
    a, b = out["local"], out["server"]
    for key in ("chunks_total", "vectors_total", "chunks_embedded"):
        assert a["index"][key] == b["index"][key] == a["reindex"][key] == b["reindex"][key]
    assert [(h["post_id"], h["chunk_id"]) for h in a["search"]] == \
        [(h["post_id"], h["chunk_id"]) for h in b["search"]]
    assert a["eval"] == b["eval"] and a["eval"]["hybrid"]["recall@5"] == 1.0


# --- faults -----------------------------------------------------------------------------------
def test_unreachable_server_is_a_clear_error_and_nothing_falls_back(tmp_path):
    home = tmp_path / "home"
    rt = Runtime(_settings(home, None))
    for p in POSTS:
        save_post(rt.store, p)
    rt.close()
    port = free_port()  # nothing listens there
    env = _env(home, port)
    for args in (["index"], ["search", "reward", "model"], ["reindex"]):
        r = _kb(env, *args)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert f"127.0.0.1:{port}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (home / "chroma").exists()  # no silent local store instead
    stats = json.loads(_kb(env, "stats", "--json").stdout)
    assert stats["embedded_chunks"] == 0
    r = _kb(env, "search", "--mode", "keyword", "reward", "model")  # keywords need no index
    assert r.returncode == 0 and "Notes on reward hacking" in r.stdout


@pytest.mark.slow
def test_server_stopped_mid_index_then_restarted_converges(tmp_path):
    home = tmp_path / "home"
    rt = Runtime(_settings(home, None))
    for i in range(30):
        save_post(rt.store, PostRecord(
            title=f"Monitoring study {i}", text=long_text(12), lw_id=f"mon{i:03d}aaaaaaaaaaa"[:17],
            urls=[f"https://example.org/monitoring/{i}"], published=f"2025-01-{1 + i % 28:02d}"
            "T10:00:00Z", origin="test"))
    rt.close()
    with ChromaServer(tmp_path / "server-data") as server:
        env = _env(home, server.port, KB_INDEX_BATCH_SIZE="4")
        proc = subprocess.Popen([sys.executable, "-m", "kb.cli.__main__", "index",
                                 "--no-progress"], env=env, cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        db = sqlite3.connect(home / "kb.sqlite3", timeout=30)
        deadline = time.monotonic() + 120
        embedded = 0
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                embedded = db.execute("SELECT count(*) FROM chunks WHERE embedded_model IS NOT "
                                      "NULL").fetchone()[0]
            except sqlite3.OperationalError:  # the table is not there yet
                embedded = 0
            if embedded >= 40:
                break
            time.sleep(0.02)
        server.kill()  # the server goes away in the middle of the run
        stdout, stderr = proc.communicate(timeout=120)
        chunks_after = db.execute("SELECT count(*) FROM chunks").fetchone()[0]
        marked = db.execute("SELECT count(*) FROM chunks WHERE embedded_model IS NOT NULL"
                            ).fetchone()[0]
        db.close()
        assert embedded >= 40, "the run finished before the server could be stopped"
        assert proc.returncode == 1, stdout + stderr
        assert f"127.0.0.1:{server.port}" in stderr and "Traceback" not in stderr, stderr
        assert 0 < marked < chunks_after  # SQLite kept what was stored, marked nothing more

        server.start()  # same data directory, same port
        r = _kb(env, "index", "--json")
        assert r.returncode == 0, r.stderr
        stats = json.loads(_kb(env, "stats", "--json").stdout)
        assert stats["embedded_chunks"] == stats["chunks"] == chunks_after
        rt = Runtime(_settings(home, server))
        ids = rt.index.all_ids()
        assert ids == _sqlite_ids(rt) and rt.index.count() == len(ids)  # none missing, none twice
        rt.close()


# --- several archives on one server ---------------------------------------------------------
def test_two_archives_share_a_server_without_touching_each_other(tmp_path, chroma_server):
    a = _archive(tmp_path / "a", chroma_server, posts=(*POSTS, EXTRA[0]))
    b = _archive(tmp_path / "b", chroma_server, posts=(POSTS[0], *EXTRA[1:]))
    assert a.namespace != b.namespace
    assert a.index.model_id == b.index.model_id
    import chromadb

    client = chromadb.HttpClient(host=chroma_server.host, port=chroma_server.port)
    names = {c.name for c in client.list_collections()}
    assert {a.index.target.name, b.index.target.name} <= names  # a collection per archive
    assert a.index.target.name != b.index.target.name
    b_ids, b_results = b.index.all_ids(), _results(b)
    assert b_ids == _sqlite_ids(b) and a.index.all_ids() == _sqlite_ids(a)
    assert b_ids & a.index.all_ids()  # the post both have: same chunk ids, kept apart
    found = {h.post_id for h in search(b.store, b.embedder, b.index, "reward", k=10)}
    assert found <= {p.lw_id for p in (POSTS[0], *EXTRA[1:])}

    r = run_reindex(a.store, a.embedder, a.fresh_index)  # a's `kb reindex`
    a.store.conn.execute("DELETE FROM posts WHERE id = ?", (POSTS[0].lw_id,))  # and a deletion
    run_index(a.store, a.embedder, a.index)
    assert r.chunks_embedded > 0
    assert b.index.all_ids() == b_ids and _results(b) == b_results  # b untouched
    assert not any(i.startswith(POSTS[0].lw_id) for i in a.index.all_ids())
    assert any(i.startswith(POSTS[0].lw_id) for i in b.index.all_ids())
    a.close()
    b.close()


# --- token auth and TLS, as Chroma's client does them -----------------------------------------
@pytest.mark.parametrize("header", ["Authorization", "X-Chroma-Token"])
def test_token_auth_over_tls(tmp_path, chroma_server, header):
    cert, key = self_signed(tmp_path)
    with TokenProxy(chroma_server.url, "s3cret-token", header=header, tls=(cert, key)) as proxy:
        home = tmp_path / "home"
        rt = Runtime(_settings(home, None))
        for p in POSTS:
            save_post(rt.store, p)
        rt.close()
        env = _env(home, proxy.port, KB_INDEX_CHROMA_SSL="true", KB_INDEX_CHROMA_CA_CERT=str(cert),
                   KB_INDEX_CHROMA_TOKEN="s3cret-token", KB_INDEX_CHROMA_TOKEN_HEADER=header)
        r = _kb(env, "index", "--json")
        assert r.returncode == 0, r.stderr
        hits = json.loads(_kb(env, "search", "--json", "induction", "head").stdout)
        assert hits and hits[0]["post_id"] == "cccccccccccccccc3"
        assert proxy.forwarded > 0 and proxy.denied == 0
        shown = json.loads(_kb(env, "config", "show", "--json").stdout)
        assert shown["index.chroma_token"]["value"] == "********"  # never printed

        bad = _kb({**env, "KB_INDEX_CHROMA_TOKEN": "wrong"}, "search", "induction", "head")
        assert bad.returncode == 1 and proxy.denied > 0
        assert f"https://127.0.0.1:{proxy.port}" in bad.stderr and "Traceback" not in bad.stderr
        unverified = _kb({**env, "KB_INDEX_CHROMA_CA_CERT": ""}, "search", "induction", "head")
        assert unverified.returncode == 1 and "Traceback" not in unverified.stderr
        assert "certificate" in unverified.stderr.lower() or "ssl" in unverified.stderr.lower()


def test_in_process_cli_reaches_the_server_through_settings(tmp_path, chroma_server,
                                                            monkeypatch):
    """The CLI's own runtime, configured only through KB_INDEX_* variables."""
    monkeypatch.setenv("KB_EMBED_BACKEND", "fake")
    for k, v in _env(tmp_path / "h", chroma_server.port).items():
        if k.startswith("KB_INDEX"):
            monkeypatch.setenv(k, v)
    rt = Runtime(load_settings())
    for p in POSTS:
        save_post(rt.store, p)
    rt.close()
    from kb.cli import cli

    r = CliRunner().invoke(cli, ["index", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["vectors_total"] == json.loads(r.output)["chunks_total"]


@pytest.mark.model
def test_real_embedder_same_results_on_both_stores(tmp_path, chroma_server):
    """The real MiniLM vectors through both stores: identical rankings and passages."""
    def real(home: Path, server: ChromaServer | None) -> Runtime:
        s = load_settings(env={"KB_HOME": str(home)})
        if server is not None:
            use_chroma_server(s, server)
        rt = Runtime(s)
        for p in (*POSTS, *EXTRA):
            save_post(rt.store, p)
        run_index(rt.store, rt.embedder, rt.index)
        return rt

    local, remote = real(tmp_path / "l", None), real(tmp_path / "r", chroma_server)
    assert remote.embedder.model_id.startswith("all-MiniLM-L6-v2")
    assert _results(remote) == _results(local)
    local.close()
    remote.close()
