"""`kb sources add|set|remove|import-opml --json` and import-opml's reason for each entry it
does not add (in process, with click's CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import http_fixture
from click.testing import CliRunner

from kb.cli import cli
from kb.opml import parse_opml, url_problem

http_server = http_fixture.http_server
FIX = Path(__file__).parent / "fixtures" / "ingest"
SOURCE_FIELDS = {"id", "name", "url", "kind", "added_at", "last_fetched_at", "last_status",
                 "last_error", "min_karma", "tags", "home_url"}


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_add_set_remove_json(tmp_path: Path):
    r = run("sources", "add", "https://example.org/feed.xml", "--kind", "feed", "--name", "ex",
            "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["action"] == "added" and data["discovered"] is None
    assert set(data["source"]) >= SOURCE_FIELDS
    assert (data["source"]["name"], data["source"]["kind"]) == ("ex", "feed")

    forum = json.loads(run("sources", "add", "https://forum.example/graphql", "--name", "fx",
                           "--min-karma", "5", "--json").stdout)
    assert forum["source"]["kind"] == "forum" and forum["source"]["min_karma"] == 5
    r = run("sources", "set", "fx", "--tag", "AI", "--json")
    assert r.exit_code == 0, r.output
    updated = json.loads(r.stdout)
    assert updated["action"] == "updated" and updated["source"]["tags"] == ["AI"]

    r = run("sources", "remove", "ex", "--json")
    removed = json.loads(r.stdout)
    assert removed == {"action": "removed", "source": data["source"]}
    gone = run("sources", "remove", "ex", "--json")
    assert gone.exit_code == 1 and "no source named 'ex'" in gone.stderr and not gone.stdout


def _opml(path: Path, *outlines: str) -> Path:
    path.write_text('<?xml version="1.0"?><opml version="2.0"><head/><body>'
                    + "".join(outlines) + "</body></opml>", encoding="utf-8")
    return path


def test_import_opml_gives_each_failure_its_reason(tmp_path: Path):
    assert run("sources", "add", "https://dup.example/rss", "--kind", "feed", "--name",
               "dupe").exit_code == 0
    opml = _opml(tmp_path / "mixed.opml",
                 '<outline type="rss" text="Good" xmlUrl="https://good.example/feed.xml"/>',
                 '<outline type="rss" text="Dup" xmlUrl="https://dup.example/rss"/>',
                 '<outline type="rss" text="Bad" xmlUrl="not a url"/>',
                 '<outline type="rss" text="Ftp" xmlUrl="ftp://files.example/feed"/>',
                 '<outline type="rss" text="Empty"/>',
                 '<outline type="rss" text="Good again" xmlUrl="https://good.example/feed.xml"/>')
    r = run("sources", "import-opml", str(opml))
    assert r.exit_code == 3, r.output  # some entries failed for a real reason
    assert "1 added, 2 already tracked, 3 failed" in r.stdout
    assert "added feed source Good: https://good.example/feed.xml" in r.stdout
    err = " ".join(r.stderr.split())
    assert "not added https://dup.example/rss: already tracked (as dupe)" in err
    assert "not added not a url: invalid URL 'not a url': contains whitespace" in err
    assert "unsupported scheme 'ftp'" in err
    assert "not added Empty: the outline has no xmlUrl" in err
    assert "not added https://good.example/feed.xml: already tracked (as Good)" in err
    assert err.count("already tracked") == 2  # only the real duplicates read so

    again = run("sources", "import-opml", str(opml), "--json")
    data = json.loads(again.stdout)
    assert data["file"] == str(opml) and data["added"] == []
    assert data["counts"] == {"added": 0, "failed": 6}
    kinds = sorted(f["error"] for f in data["failed"])
    assert kinds == ["duplicate"] * 3 + ["invalid_url"] * 3
    assert all(set(f) == {"title", "url", "error", "reason"} for f in data["failed"])


def test_import_opml_json_lists_added_sources(tmp_path: Path):
    opml = _opml(tmp_path / "ok.opml",
                 '<outline type="rss" text="One" xmlUrl="https://one.example/feed"/>',
                 '<outline type="page" text="A page" htmlUrl="https://p.example/x.html"/>')
    r = run("sources", "import-opml", str(opml), "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [(s["name"], s["kind"]) for s in data["added"]] == [("One", "feed"), ("A page", "page")]
    assert data["failed"] == [] and data["counts"] == {"added": 2, "failed": 0}
    # only duplicates: not a failure of the command
    assert run("sources", "import-opml", str(opml)).exit_code == 0


def test_url_problem():
    assert url_problem("https://a.example/feed") is None
    assert url_problem("file:///tmp/feed.xml") is None
    assert "no host" in (url_problem("https:///feed") or "")
    assert "not an absolute" in (url_problem("feeds/local.xml") or "")
    assert "bad port" in (url_problem("http://a.example:99999/") or "") or \
        "Port out of range" in (url_problem("http://a.example:99999/") or "")
    assert url_problem("javascript:alert(1)") is not None
    problems: list[tuple[str, str]] = []
    entries = parse_opml(b'<opml><body><outline type="atom" title="T"/>'
                         b'<outline text="folder"><outline xmlUrl=" https://x.example/f "/>'
                         b'</outline></body></opml>', problems=problems)
    assert entries == [("", "https://x.example/f", "feed")]
    assert problems == [("T", "the outline has no xmlUrl")]


def test_add_json_reports_what_discovery_found(http_server, monkeypatch):
    monkeypatch.setenv("KB_INGEST_RETRIES", "0")
    url = http_server.route("/lw.xml", body=(FIX / "lw_feed.xml").read_bytes())
    r = run("sources", "add", url, "--name", "lwx", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    found = data["discovered"]
    assert found["feed_url"] == url == data["source"]["url"]
    assert found["items"] > 0 and isinstance(found["title"], str)
    assert "feed:" not in r.stdout  # only the JSON on stdout


def test_import_opml_check_reports_fetch_and_parse_errors(http_server, tmp_path: Path,
                                                          monkeypatch):
    monkeypatch.setenv("KB_INGEST_RETRIES", "0")
    good = http_server.route("/good.xml", body=(FIX / "lw_feed.xml").read_bytes())
    junk = http_server.route("/junk.xml", body=b"this is not xml at all {",
                             content_type="text/plain")
    gone = http_server.route("/gone.xml", body=b"no", status=404, content_type="text/plain")
    opml = _opml(tmp_path / "check.opml",
                 f'<outline type="rss" text="Good" xmlUrl="{good}"/>',
                 f'<outline type="rss" text="Junk" xmlUrl="{junk}"/>',
                 f'<outline type="rss" text="Gone" xmlUrl="{gone}"/>')
    r = run("sources", "import-opml", str(opml), "--check", "--json")
    assert r.exit_code == 3, r.output
    data = json.loads(r.stdout)
    assert [s["url"] for s in data["added"]] == [good]
    by_url = {f["url"]: f for f in data["failed"]}
    assert by_url[gone]["error"] == "fetch_failed" and "404" in by_url[gone]["reason"]
    assert by_url[junk]["error"] == "not_a_feed"
    assert by_url[junk]["reason"].startswith("not a feed")
    # without --check nothing is fetched: the same file adds the two others unseen
    hits = len(http_server.hits("/junk.xml"))
    plain = json.loads(run("sources", "import-opml", str(opml), "--json").stdout)
    assert sorted(s["url"] for s in plain["added"]) == sorted([junk, gone])
    assert len(http_server.hits("/junk.xml")) == hits
