"""`kb ingest` and `kb import` through the real console entry point (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import http_fixture

from kb.store import Store
from kb.store import sources as sources_repo

http_server = http_fixture.http_server
REPO = Path(__file__).resolve().parent.parent
FIX = Path(__file__).parent / "fixtures" / "ingest"
LINE = r"^\d+ new, \d+ updated, \d+ unchanged, \d+ errors$"


def kb(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "KB_INGEST_RETRIES": "0", "KB_INGEST_TIMEOUT": "5", **env}
    return subprocess.run([sys.executable, "-m", "kb.cli.__main__", *args], capture_output=True,
                          text=True, env=full, timeout=300, cwd=REPO)


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout.strip().splitlines()[-1]


def no_defaults(settings) -> Store:
    from kb.settings import ensure_home

    ensure_home(settings)
    store = Store(settings.db_path)
    sources_repo.ensure_default_sources(store)
    for src in sources_repo.list_sources(store):
        sources_repo.remove_source(store, src.name)
    return store


def test_import_prints_the_final_line_and_is_idempotent():
    files = [str(FIX / "graphql_post.json"), str(FIX / "post_list.json")]
    first = kb("import", *files, "--no-index")
    assert first.returncode == 0, first.stderr
    assert last_line(first) == "3 new, 0 updated, 0 unchanged, 0 errors"
    assert "1 note(s)" in first.stderr and "Traceback" not in first.stderr
    verbose = kb("import", *files, "--no-index", "-v")
    assert last_line(verbose) == "0 new, 0 updated, 3 unchanged, 0 errors"
    assert "kbTestListPost008" in verbose.stderr
    stats = json.loads(kb("stats", "--json").stdout)
    assert (stats["posts"], stats["versions"]) == (3, 3)


def test_import_exit_codes_for_partial_and_total_failure(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[oops")
    partial = kb("import", str(FIX / "blog_copy.md"), str(bad), "--no-index")
    assert partial.returncode == 3
    assert last_line(partial) == "1 new, 0 updated, 0 unchanged, 1 errors"
    assert str(bad) in partial.stderr and "not valid JSON" in partial.stderr
    total = kb("import", str(bad), "--no-index")
    assert total.returncode == 1 and last_line(total) == "0 new, 0 updated, 0 unchanged, 1 errors"
    missing = kb("import", str(tmp_path / "nothing-here"), "--no-index")
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_ingest_exit_codes_and_source_errors(settings, http_server):
    store = no_defaults(settings)
    ok = http_server.route("/lw.xml", body=(FIX / "lw_feed.xml").read_bytes())
    sources_repo.add_source(store, ok, name="lw", kind="feed")
    sources_repo.add_source(store, http_server.url("/gone.xml"), name="gone", kind="feed")
    store.close()
    proc = kb("ingest", "--no-index")
    assert proc.returncode == 3, proc.stderr
    assert last_line(proc) == "3 new, 0 updated, 0 unchanged, 1 errors"
    assert "gone" in proc.stderr and "HTTP 404" in proc.stderr
    listed = {s["name"]: s for s in json.loads(kb("sources", "list", "--json").stdout)}
    assert listed["gone"]["last_status"] == "error" and "404" in listed["gone"]["last_error"]
    assert listed["lw"]["last_status"] == "ok" and listed["lw"]["last_counts"]["new"] == 3

    only_bad = kb("ingest", "--source", "gone", "--no-index")
    assert only_bad.returncode == 1
    assert last_line(only_bad) == "0 new, 0 updated, 0 unchanged, 1 errors"
    again = kb("ingest", "--source", "lw", "--no-index", "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["unchanged"] == 3
    unknown = kb("ingest", "--source", "nope")
    assert unknown.returncode == 1 and "no source named 'nope'" in unknown.stderr


def test_first_ingest_adds_the_default_sources_offline():
    """Without network every default source fails cleanly (exit 1), each with its error."""
    guard = str(REPO / "tests" / "offline_guard")
    proc = kb("ingest", "--no-index", PYTHONPATH=guard, KB_INGEST_TIMEOUT="2")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith(" errors")
    listed = json.loads(kb("sources", "list", "--json").stdout)
    assert {"lesswrong", "alignmentforum", "niplav-automated"} <= {s["name"] for s in listed}
    assert all(s["last_status"] == "error" and s["last_error"] for s in listed)


def test_import_indexes_what_it_ingested_unless_told_not_to():
    proc = kb("import", str(FIX / "graphql_post.json"), KB_EMBED_BACKEND="fake")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(kb("stats", "--json").stdout)
    assert stats["posts"] == 1 and stats.get("chunks", 0) > 0
    off = kb("import", str(FIX / "post_list.json"), KB_EMBED_BACKEND="fake",
             KB_INGEST_INDEX="false")
    assert off.returncode == 0
    assert json.loads(kb("stats", "--json").stdout)["chunks"] == stats["chunks"]
