"""The parts of `kb ask` that do not ask: choosing the chat model for one call (-m/--preset,
checked against models.lock) and past exchanges (--history, --show N)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kb.cli.app import EXIT_USAGE, KbError, console, emit_json, inert
from kb.models.base import LLMError
from kb.settings import Settings

if TYPE_CHECKING:
    from digest.conversations import Exchange
    from kb.store.db import Store


def choose_model(settings: Settings, model: str | None, preset: str | None
                 ) -> tuple[Settings, str | None]:
    """The settings with the chat model of ``-m MODEL`` / ``--preset NAME``, and a notice
    when the model is not in models.lock (used, but no digest can be checked).

    A model that models.lock names (the default or a preset's) is selected through its lock
    entry, silently, so its digest is checked as usual.  An unknown preset is a usage error."""
    if not model and preset is None:
        return settings, None
    if settings.llm.backend in ("embedded", "none", "fake"):
        raise KbError(f"-m/--preset choose an Ollama chat model, but llm.backend = "
                      f"{settings.llm.backend} (set KB_LLM_BACKEND=auto or ollama)", EXIT_USAGE)
    from kb.models.spec import llm_specs, load_models_lock, normalize_tag

    try:
        specs = llm_specs(load_models_lock(settings))
    except LLMError as exc:
        raise KbError(str(exc)) from exc
    presets = [s.role.removeprefix("llm.presets.") for s in specs if s.role != "llm"]
    if preset is not None and preset not in ("", *presets):
        raise KbError(f"--preset {preset!r} is not in {settings.models_lock_path} (presets "
                      f"there: {', '.join(presets) or 'none'})", EXIT_USAGE)
    new_preset = settings.llm.preset if preset is None else preset
    new_model = "" if preset is not None else settings.llm.model
    notice = None
    if model:
        locked = {s.role: s for s in specs if normalize_tag(s.model) == normalize_tag(model)}
        wanted = f"llm.presets.{new_preset}" if new_preset else "llm"
        if wanted in locked:
            new_model = ""
        elif preset is None and locked:
            role = next(iter(locked))
            new_preset, new_model = ("" if role == "llm" else role.removeprefix("llm.presets.")), ""
        else:
            new_model = model
            notice = (f"notice: {model} is not in models.lock ({settings.models_lock_path})"
                      f"{' as preset ' + repr(new_preset) if new_preset and locked else ''}: "
                      f"it is used for this call only, and its digest cannot be checked")
    chosen = replace(settings, llm=replace(settings.llm, model=new_model, preset=new_preset))
    return chosen, notice


def _when(iso: str) -> str:
    return iso[:16].replace("T", " ")


def show_history(store: Store, *, limit: int, as_json: bool) -> None:
    """Past exchanges, newest first: id, date, question, first line of the answer, model."""
    from digest.conversations import list_exchanges

    items = list_exchanges(store, limit=limit)
    if as_json:
        emit_json([{"id": e.id, "asked_at": e.asked_at, "question": e.question,
                    "first_line": e.summary, "abstained": e.abstained, "model": e.model_id,
                    "parent_id": e.parent_id} for e in items])
        return
    if not items:
        console.print("no questions asked yet (`kb ask QUESTION`)", markup=False)
        return
    for e in items:
        first = ("(abstained) " if e.abstained else "") + e.summary
        console.print(f"#{e.id}  {_when(e.asked_at)} UTC  {inert(e.model_id)}", style="bold",
                      markup=False, soft_wrap=True)
        console.print(inert(f"  Q: {e.question}"), markup=False, soft_wrap=True)
        console.print(inert(f"  A: {first}"), style="dim", markup=False, soft_wrap=True)
    console.print(f"{len(items)} exchange{'s' * (len(items) != 1)}; `kb ask --show N` prints one",
                  markup=False)


def show_exchange(store: Store, n: int, *, as_json: bool) -> None:
    """Exchange ``n`` in full: the question, the answer and its citations as stored."""
    from digest.conversations import get_exchange

    ex = get_exchange(store, n)
    if ex is None:
        raise KbError(f"no exchange #{n} (`kb ask --history` lists them)")
    if as_json:
        emit_json(ex.to_json())
        return
    _print_exchange(ex)


def _citation_line(c: dict[str, Any]) -> str:
    authors = c.get("authors") or []
    names = ", ".join(str(a) for a in authors) if isinstance(authors, list) else str(authors)
    day = str(c.get("published") or "")[:10] or "undated"
    return (f"[{c.get('n', '?')}] {c.get('title') or 'untitled'} — {names or 'unknown author'}"
            f" — {day} — {c.get('url') or ''}")


def _print_exchange(ex: Exchange) -> None:
    console.print(f"#{ex.id}  {_when(ex.asked_at)} UTC  {inert(ex.model_id) or 'unknown model'}",
                  style="dim", markup=False)
    if ex.parent_id is not None:
        console.print(f"(a follow-up to #{ex.parent_id})", style="dim", markup=False)
    console.print(inert(f"Q: {ex.question}"), style="bold", markup=False, soft_wrap=True)
    if ex.standalone and ex.standalone != ex.question:
        console.print(inert(f"(asked as: {ex.standalone})"), style="dim", markup=False,
                      soft_wrap=True)
    console.print()
    console.print(inert(ex.answer), style="yellow" if ex.abstained else None, markup=False,
                  soft_wrap=True)
    if ex.citations:
        console.print("\nSources:", style="bold")
        for c in ex.citations:
            console.print(inert(_citation_line(c)), markup=False, soft_wrap=True)
            if c.get("start") is not None:
                where = (f"    passage: chars {c.get('start')}–{c.get('end')} of version "
                         f"{c.get('version')}")
                weak = c.get("supported") is False
                if weak:
                    where += "  (weak: the passage may not support the sentence citing it)"
                console.print(where, style="yellow" if weak else "dim", markup=False,
                              soft_wrap=True)
