"""`kb ask`: a cited answer from the archive, streamed, or a plain "the archive does not say"."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

import click

from kb.cli.app import EXIT_USAGE, App, KbError, backend_errors, console, emit_json, err_console
from kb.cli.complete import complete_sources
from kb.search_types import Filters

if TYPE_CHECKING:
    from digest.ask import Answer
    from kb.runtime import Runtime

pass_app = click.make_pass_decorator(App)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# after streamed words when the ask then fails: on stdout, next to those words, so that even
# redirected output does not pass them off as an answer
STOPPED = "[stopped: the text above is not a checked answer]"


def _date(value: str | None, flag: str) -> str | None:
    if value is not None and not _DATE.match(value):
        raise KbError(f"{flag} {value!r}: expected a date like 2025-01-31", EXIT_USAGE)
    return value


def _byline(authors: list[str], published: str | None) -> str:
    return f"{', '.join(authors) or 'unknown author'} — {(published or '')[:10] or 'undated'}"


def _changes(answer: Answer) -> str:
    """What the check changed in the model's reply, in one line ("" when nothing)."""
    dropped = sum(1 for s in answer.claims if not s.kept)
    added = sum(1 for s in answer.claims if s.kept and s.added)
    parts = [f"{dropped} sentence{'s' * (dropped != 1)} no source supports dropped"
             if dropped else "",
             f"{added} uncited sentence{'s' * (added != 1)} given the source that supports it"
             if added else "",
             f"{len(answer.removed_links)} link{'s' * (len(answer.removed_links) != 1)} the "
             "model wrote removed" if answer.removed_links else ""]
    return "; ".join(p for p in parts if p)


def print_answer(answer: Answer, *, streamed: str = "") -> None:
    """The checked answer (after the streamed draft when the check changed it), then the
    cited sources, or the nearest posts when kb abstains."""
    if answer.abstained:
        if streamed:
            console.print()
        console.print(answer.answer, style="yellow", markup=False, soft_wrap=True)
        if answer.retrieved:
            console.print("\nNearest posts:", style="bold")
            for h in answer.nearest:
                console.print(f"- {h.title} — {_byline(h.authors, h.published)} — {h.url}",
                              markup=False, soft_wrap=True)
        return
    if streamed and " ".join(streamed.split()) == " ".join(answer.answer.split()):
        console.print()
    else:
        if streamed:
            console.print(f"\n\nChecked answer ({_changes(answer) or 'checked'}):",
                          style="bold", markup=False, soft_wrap=True)
        console.print(answer.answer, markup=False, soft_wrap=True)
    weak = [s for s in answer.claims if s.kept and s.factual and s.verdict != "supported"]
    if weak:
        console.print(f"({len(weak)} sentence{'s' * (len(weak) != 1)} only weakly supported: "
                      "related to the cited passage, not shown to say it)", style="yellow",
                      markup=False, soft_wrap=True)
    if answer.removed_markers:
        nums = ", ".join(f"[{n}]" for n in answer.removed_markers)
        console.print(f"(removed citation {nums}: no such source was given to the model)",
                      style="dim", markup=False, soft_wrap=True)
    console.print("\nSources:", style="bold")
    for c in answer.citations:
        console.print(f"[{c.n}] {c.title} — {_byline(c.authors, c.published)} — {c.url}",
                      markup=False, soft_wrap=True)
        where = f"    passage: chars {c.start}–{c.end} of version {c.version}"
        if not c.supported:
            where += "  (weak: the passage may not support the sentence citing it)"
        console.print(where, style="dim" if c.supported else "yellow", markup=False,
                      soft_wrap=True)
    if answer.dropped:
        console.print(f"({len(answer.dropped)} lower-ranked sources left out to fit the model's "
                      "context window)", style="dim")


@click.command()
@click.argument("question", nargs=-1)
@click.option("--since", help="Only posts published on or after this date (YYYY-MM-DD).")
@click.option("--until", help="Only posts published on or before this date (YYYY-MM-DD).")
@click.option("--author", help="Only posts by this author (case-insensitive substring).")
@click.option("--source", help="Only posts from this source (name or id) or site.",
              shell_complete=complete_sources)
@click.option("--af-only", is_flag=True, help="Only Alignment Forum posts.")
@click.option("-k", "--k", "k", type=click.IntRange(1, 30), default=8, show_default=True,
              help="How many posts to retrieve and give the model.")
@click.option("-m", "--model", "model", metavar="MODEL",
              help="The Ollama chat model for this call (a model models.lock does not name "
                   "is used with a notice: its digest cannot be checked).")
@click.option("--preset", metavar="NAME",
              help="The chat model of models.lock's [llm.presets.NAME] for this call (e.g. "
                   "fast).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the checked answer (or --history, --show) as JSON.")
@click.option("--no-stream", is_flag=True, help="Print the answer when complete.")
@click.option("--continue", "continue_", is_flag=True,
              help="A follow-up: rewrite it into a standalone question using the last exchange.")
@click.option("--history", is_flag=True,
              help="List past questions and answers, newest first (no question).")
@click.option("--limit", type=click.IntRange(0), default=50, show_default=True,
              help="With --history: at most this many (0: all).")
@click.option("--show", "show", type=int, metavar="N",
              help="Print past exchange N in full: its answer and citations (no question).")
@pass_app
def ask(app: App, question: tuple[str, ...], since: str | None, until: str | None,
        author: str | None, source: str | None, af_only: bool, k: int, model: str | None,
        preset: str | None, as_json: bool, no_stream: bool, continue_: bool, history: bool,
        limit: int, show: int | None) -> None:
    """Answer QUESTION from the archive, citing posts as [n] — or say it is not covered.

    Every sentence is checked after generation (`kb check` explains the verdicts): citations
    of sources that were not given are removed, a citation whose passage contradicts its
    sentence is removed, sentences no source supports are dropped, links the model writes
    are removed, and kb abstains unless most statements are supported.

    `kb ask --history` lists past exchanges and `kb ask --show N` prints one again."""
    from kb.cli.ask_extra import choose_model, show_exchange, show_history

    text = " ".join(question).strip()
    if history or show is not None:
        if text or (history and show is not None):
            raise KbError("--history and --show N take no question (and not each other)",
                          EXIT_USAGE)
        if history:
            show_history(app.store, limit=limit, as_json=as_json)
        else:
            assert show is not None
            show_exchange(app.store, show, as_json=as_json)
        return
    if not text:
        raise KbError("the question is empty (or use --history / --show N)", EXIT_USAGE)
    filters = Filters(since=_date(since, "--since"), until=_date(until, "--until"),
                      author=author, source=source, af_only=af_only)
    chosen, model_notice = choose_model(app.settings, model, preset)
    if model_notice:
        err_console.print(model_notice, style="yellow", markup=False, soft_wrap=True)
    rt = app.adjust_settings(lambda _: chosen)
    _answer(app, rt, text, filters, k=k, as_json=as_json, no_stream=no_stream,
            continue_=continue_)


def _answer(app: App, rt: Runtime, text: str, filters: Filters, *, k: int, as_json: bool,
            no_stream: bool, continue_: bool) -> None:
    from digest.ask import AskError
    from digest.ask import ask as run_ask
    from digest.links import StreamFilter
    from kb.retrieval import SearchError

    store = app.store
    with backend_errors():
        notice = rt.llm_notice  # builds the model now: a missing one is a clean error
    if notice:
        err_console.print(notice, style="yellow", markup=False, soft_wrap=True)
    stream = not (no_stream or as_json)
    streamed: list[str] = []
    links = StreamFilter()  # a link the model writes never reaches the terminal

    def on_token(piece: str) -> None:
        shown = links.feed(piece)
        if shown:
            streamed.append(shown)
            sys.stdout.write(shown)
            sys.stdout.flush()

    try:
        with backend_errors():
            answer = run_ask(store, rt.chat_llm()[0], rt.embedder, rt.index, text,
                             filters=filters, k=k,
                             on_token=on_token if stream else None, continue_=continue_,
                             max_tokens=rt.settings.llm.max_output_tokens)
    except (AskError, SearchError, KbError) as exc:
        if rest := links.flush():
            streamed.append(rest)
            sys.stdout.write(rest)
        if streamed:  # words already shown, e.g. of a stream that broke off: not an answer
            sys.stdout.write(f"\n{STOPPED}\n")
            sys.stdout.flush()
        raise KbError(str(exc)) from exc
    if rest := links.flush():
        streamed.append(rest)
        sys.stdout.write(rest)
        sys.stdout.flush()
    if continue_ and answer.standalone_question != text and not as_json:
        err_console.print(f"(asked as: {answer.standalone_question})", style="dim",
                          markup=False, soft_wrap=True)
    if as_json:
        emit_json(answer.to_json())
        return
    print_answer(answer, streamed="".join(streamed))
