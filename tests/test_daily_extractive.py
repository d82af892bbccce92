"""`kb daily` without a chat model (llm.backend = none, or auto without Ollama): extractive
summaries and digests, one notice, no model loaded."""

from __future__ import annotations

from datetime import date

from digest_fakes import add_post, pid

from digest.extractive_store import extractive_model_id
from digest.summarize import cached_summary
from kb.embed.fake import FakeEmbedder
from kb.store.db import kv_set

BODY = ("Trusted monitoring is the main defence against a scheming model in deployment. "
        "In this post I argue that monitors fail mostly because attacks are rare. "
        "A monitor tuned on ordinary traffic sees almost no attacks to learn from. "
        "We find that a monitor trained on synthetic attacks catches most real ones.")


def _day(store) -> None:
    kv_set(store, "default_sources_added", "test")  # keep the test off the network
    for i in range(1, 4):
        add_post(store, pid(i), f"Monitoring note {i}", f"2025-03-20T1{i}:00:00Z",
                 text=BODY.replace("monitor", f"monitor{'s' * i}"))


def test_backend_none_builds_an_extractive_digest_without_any_model(store, settings,
                                                                   monkeypatch):
    from digest.daily import DailyReport
    from digest.jobs import run_daily
    from kb.runtime import Runtime

    def no_model(_settings):
        raise AssertionError("no chat model may be built")

    monkeypatch.setattr("kb.models.factory._ollama", no_model)
    monkeypatch.setattr("kb.models.llamacpp_llm.load_llamacpp_llm", no_model)
    settings.llm.backend = "none"
    _day(store)
    emb = FakeEmbedder()
    rt = Runtime(settings, store=store, embedder=emb)
    lines: list[str] = []
    report = DailyReport()
    code = run_daily(rt, echo=lines.append, now=date(2025, 3, 20), report_out=report)
    assert code == 0, lines
    assert report.calls == 0 and not rt.llm_loaded
    assert not any(line.startswith("notice:") for line in lines)  # none was asked for
    for i in range(1, 4):
        row = cached_summary(store, pid(i), extractive_model_id(emb))
        assert row is not None and row.ok and row.method.startswith("extractive")
    assert any(d.day == "2025-03-20" and d.ok for d in report.digests)
    md = (settings.digests_dir / "2025-03-20.md").read_text(encoding="utf-8")
    assert "Monitoring note 1" in md


def test_auto_without_ollama_says_so_once_and_runs_extractive(store, settings, monkeypatch):
    from digest.daily import DailyReport
    from digest.jobs import run_daily
    from kb.runtime import Runtime

    settings.ollama.host = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.ollama.connect_timeout = 1.0
    settings.ollama.retries = 0
    assert settings.llm.backend == "auto"
    _day(store)
    rt = Runtime(settings, store=store, embedder=FakeEmbedder())
    lines: list[str] = []
    report = DailyReport()
    assert run_daily(rt, echo=lines.append, now=date(2025, 3, 20), report_out=report) == 0
    notices = [line for line in lines if line.startswith("notice:")]
    assert len(notices) == 1 and "Ollama is not available" in notices[0]
    assert "extractive" in notices[0] and report.notice and report.calls == 0


def test_an_explicit_backend_that_is_down_gives_extractive_digests_and_exit_3(store, settings):
    from digest.daily import EXIT_PARTIAL, DailyReport
    from digest.jobs import run_daily
    from kb.runtime import Runtime

    settings.llm.backend = "ollama"
    settings.ollama.host = "http://127.0.0.1:9"
    settings.ollama.connect_timeout = 1.0
    settings.ollama.retries = 0
    _day(store)
    rt = Runtime(settings, store=store, embedder=FakeEmbedder())
    lines: list[str] = []
    report = DailyReport()
    code = run_daily(rt, echo=lines.append, now=date(2025, 3, 20), report_out=report)
    assert code == EXIT_PARTIAL and any("chat model:" in e for e in report.step_errors)
    assert any(d.day == "2025-03-20" and d.ok for d in report.digests)
    assert any(line.startswith("notice:") and "extractive" in line for line in lines)
