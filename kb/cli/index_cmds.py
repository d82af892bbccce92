"""`kb index`, `kb reindex`, `kb search`, `kb eval retrieval`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kb.cli.app import EXIT_USAGE, App, KbError, backend_errors, console, emit_json, inert
from kb.cli.complete import complete_sources
from kb.cli.progress import progress_bars

if TYPE_CHECKING:
    from kb.index.indexer import IndexReport
    from kb.search_types import Mode

pass_app = click.make_pass_decorator(App)


def _print_report(report: IndexReport, verb: str) -> None:
    r = report
    rate = r.chunks_embedded / r.embed_seconds if r.embed_seconds else 0.0
    console.print(
        f"{verb}: {r.posts_chunked} posts chunked, {r.chunks_embedded} chunks embedded"
        f"{f' ({rate:.1f} chunks/s)' if r.chunks_embedded else ''}, {r.chunks_reused} reused, "
        f"{r.chunks_removed} removed; {r.vectors_total} vectors for {r.chunks_total} chunks "
        f"[{r.model_id}] in {r.seconds:.1f}s", markup=False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@pass_app
def index(app: App, as_json: bool, no_progress: bool) -> None:
    """Embed passages not embedded yet and drop those of superseded versions."""
    from kb.index.indexer import run_index

    rt = app.runtime
    with backend_errors(), progress_bars(not (no_progress or as_json)) as on_progress:
        report = run_index(app.store, rt.embedder, rt.index,
                           batch_size=rt.settings.index.batch_size, on_progress=on_progress)
    if as_json:
        emit_json(report.to_json())
    else:
        _print_report(report, "indexed")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@pass_app
def reindex(app: App, as_json: bool, no_progress: bool) -> None:
    """Rebuild the vector index from the database (also repairs a damaged index directory)."""
    from kb.index.indexer import run_reindex

    rt = app.runtime
    with backend_errors(), progress_bars(not (no_progress or as_json)) as on_progress:
        report = run_reindex(app.store, rt.embedder, rt.fresh_index,
                             batch_size=rt.settings.index.batch_size, on_progress=on_progress)
    if as_json:
        emit_json(report.to_json())
    else:
        _print_report(report, "reindexed")


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("-k", "--k", "k", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Number of posts.")
@click.option("--mode", type=click.Choice(["hybrid", "vector", "keyword"]), default="hybrid",
              show_default=True)
@click.option("--since", help="Posted on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Posted on or before this date (YYYY-MM-DD).")
@click.option("--author", help="An author's name (case-insensitive, part of the name is enough).")
@click.option("--source", help="A source name or id, or a site host (www.lesswrong.com).",
              shell_complete=complete_sources)
@click.option("--af-only", is_flag=True, help="Only Alignment Forum posts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def search(app: App, query: tuple[str, ...], k: int, mode: str, since: str | None,
           until: str | None, author: str | None, source: str | None, af_only: bool,
           as_json: bool) -> None:
    """Find posts and passages: keyword (bm25), vector, or both fused (hybrid)."""
    from kb.retrieval import SearchError
    from kb.retrieval import search as run_search
    from kb.search_types import Filters

    filters = Filters(since=since, until=until, author=author, source=source, af_only=af_only)
    rt = app.runtime
    try:
        with backend_errors():
            vectors = mode != "keyword"  # a keyword search loads no model and no index
            hits = run_search(app.store, rt.embedder if vectors else None,
                              rt.index if vectors else None, " ".join(query), k=k,
                              mode=_mode(mode), filters=filters)
    except SearchError as exc:
        raise KbError(str(exc), EXIT_USAGE) from exc
    if as_json:
        emit_json([h.to_json() for h in hits])
        return
    if not hits:
        from kb.store.posts import unchunked_posts

        pending = unchunked_posts(app.store)
        hint = f" ({pending} posts are not indexed yet: run `kb index`)" if pending else ""
        console.print("no results" + hint, markup=False)
        return
    for i, h in enumerate(hits, 1):
        console.print(inert(f"{i:>2}. {h.title}"), style="bold", markup=False, end="")
        console.print(inert(f"  {(h.published or '')[:10]}  {', '.join(h.authors[:2])}  "
                            f"score {h.score:.3f}"), style="dim", markup=False)
        console.print(inert(f"    {h.url}  [{h.start}:{h.end}]"), style="cyan", markup=False)
        passage = inert(" ".join(h.text.split()))
        console.print("    " + (passage[:300] + ("…" if len(passage) > 300 else "")),
                      markup=False)


def _mode(value: str) -> Mode:
    if value == "vector":
        return "vector"
    return "keyword" if value == "keyword" else "hybrid"


@click.group(name="eval")
def eval_() -> None:
    """Measure retrieval quality."""


@eval_.command("retrieval")
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-k", "--k", "k", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def eval_retrieval(app: App, files: tuple[Path, ...], k: int, as_json: bool) -> None:
    """recall@k, MRR and nDCG@k for hybrid, vector and keyword search over each FILE (JSONL
    lines {"question": ..., "relevant": [post ids or URLs]}, optionally "kind": label and
    "no_answer": true with "relevant": []), e.g. the easy and the hard set in tests/eval.
    With several files the JSON is {"sets": {file name: result}}."""
    from kb.evaluation import EvalError, evaluate, load_questions

    rt = app.runtime
    results: dict[str, dict[str, Any]] = {}
    try:
        loaded = [(f, load_questions(f)) for f in files]
        for f, questions in loaded:
            with backend_errors():
                results[f.name] = evaluate(app.store, rt.embedder, rt.index, questions, k=k)
    except EvalError as exc:
        raise KbError(str(exc), EXIT_USAGE) from exc
    if as_json:
        emit_json(results[files[0].name] if len(files) == 1 else {"sets": results})
        return
    for f, questions in loaded:
        _print_eval(f.name, results[f.name], questions)


def _print_eval(name: str, result: dict[str, Any], questions: list[Any]) -> None:
    from rich.table import Table

    from kb.evaluation import MODES, unresolved_refs

    title = f"retrieval over {result['questions']} questions ({name})"
    if result.get("no_answer"):
        title += f"; {result['no_answer']} without an answer are not in the means"
    table = Table(title=title)
    table.add_column("metric")
    modes = [m for m in MODES if m in result]
    for m in modes:
        table.add_column(m, justify="right")
    for metric in result[modes[0]]:
        table.add_row(metric, *[f"{result[m][metric]:.3f}" for m in modes])
    for kind, row in result.get("by_kind", {}).items():
        for metric in row[modes[0]]:
            table.add_row(f"{kind} ({row['questions']}): {metric}",
                          *[f"{row[m][metric]:.3f}" for m in modes], style="dim")
    console.print(table)
    if "no_answer_separation" in result:
        console.print(f"no-answer questions set apart by best vector similarity: "
                      f"{result['no_answer_separation']:.2f} (AUC; 0.5 is chance)", markup=False)
    missing = unresolved_refs(questions)
    if missing:
        console.print(f"{len(missing)} relevant items are not in the archive (counted as misses), "
                      f"e.g. line {missing[0][0]}: {missing[0][1]}", style="yellow", markup=False)


@eval_.command("claims")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def eval_claims(app: App, file: Path, as_json: bool) -> None:
    """How often the claim checker agrees with FILE (JSONL lines {"claim": ..., "post_id":
    id or URL, "expected": "supported" | "not_supported", "kind": label}), each claim checked
    against its post as `kb check --post` does; overall and per kind."""
    from rich.table import Table

    from digest.check import CheckError, evaluate_claims, load_claims

    rt = app.runtime
    try:
        cases = load_claims(file)
        with backend_errors():
            result = evaluate_claims(app.store, rt.embedder, cases)
    except CheckError as exc:
        raise KbError(str(exc), EXIT_USAGE) from exc
    if as_json:
        emit_json({k: result[k] for k in ("claims", "accuracy", "by_kind",
                                          "supported_precision", "supported_recall")})
        return
    table = Table(title=f"claim checks over {result['claims']} claims ({file.name})")
    for col in ("kind", "claims", "agrees with expected"):
        table.add_column(col, justify="right" if col != "kind" else "left")
    for kind, row in result["by_kind"].items():
        table.add_row(kind, str(row["n"]), f"{row['accuracy']:.1%}")
    table.add_row("all", str(result["claims"]), f"{result['accuracy']:.1%}", style="bold")
    console.print(table)
    console.print(f"supported: precision {result['supported_precision']:.1%}, recall "
                  f"{result['supported_recall']:.1%}", markup=False)
