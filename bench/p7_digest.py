"""P7 model calls when re-running an unchanged day's digest (target 0), and the time of an
extractive digest of a 15-post day beyond embedding (bench.p7_extractive; target <= 10 s).

On the archive P2 built (or a fresh one, built the same way, when P2 did not run): today's
digest was written by `kb daily`; `kb digest --date <that day> --json` is run again as a real
subprocess and the model requests are counted twice — by kb's own report (``model_calls``) and
by the Ollama-protocol test server's request log.  Also checks the digest file is unchanged.
Standalone: ``python -m bench.p7_digest``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import Context, Row

NAME = "P7"


def run(ctx: Context) -> list[Row]:
    from bench import p7_extractive

    return _rerun(ctx) + p7_extractive.run(ctx)


def _rerun(ctx: Context) -> list[Row]:
    from bench.p2_daily import DailyHome, _counts

    dh: Any = ctx.shared.get("daily_home")
    if dh is None:
        dh = DailyHome(ctx)
        dh.kb("daily", "--no-progress", "--json")
    try:
        days = [d for d in _digest_days(dh.home)]
        if not days:
            print("P7: no digest was written by kb daily; nothing to re-run")
            return [Row(NAME, "digests to re-run", 0, "", ">= 1", False)]
        rows: list[Row] = []
        total_kb = total_server = 0
        for day, path in days:
            before = path.read_bytes() if path.exists() else b""
            chats0, _ = _counts(dh.server)
            wall, report, code = dh.kb("digest", "--date", day, "--json")
            chats1, _ = _counts(dh.server)
            total_kb += int(report.get("model_calls", -1))
            total_server += chats1 - chats0
            same = path.exists() and path.read_bytes() == before
            status = [d.get("status") for d in report.get("digests", [])]
            print(f"P7: kb digest --date {day}: {wall:.2f}s, exit {code}, {status}, "
                  f"model calls {report.get('model_calls')} (server saw {chats1 - chats0}), "
                  f"file {'unchanged' if same else 'CHANGED'}")
            rows.append(Row(NAME, f"{day} file unchanged", int(same), "", "== 1", same))
        rows[:0] = [
            Row(NAME, "model calls (kb report)", total_kb, "", "== 0", total_kb == 0),
            Row(NAME, "model requests (server)", total_server, "", "== 0", total_server == 0),
        ]
        return rows
    finally:
        dh.stop()


def _digest_days(home: Path) -> list[tuple[str, Path]]:
    import sqlite3

    with sqlite3.connect(home / "kb.sqlite3") as db:
        days = [r[0] for r in db.execute("SELECT day FROM digests ORDER BY day")]
    out = []
    for d in days:
        matches = sorted((home / "digests").glob(f"*{d}*"))
        out.append((d, matches[0] if matches else home / "digests" / f"{d}.md"))
    return out


def main() -> None:
    import tempfile

    from bench.__main__ import CORPUS, _print

    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}; nothing to measure")
        return
    with tempfile.TemporaryDirectory(prefix="kb-p7-") as tmp:
        rows = run(Context(corpus=CORPUS, workdir=Path(tmp)))
    _print(rows)


if __name__ == "__main__":
    main()
