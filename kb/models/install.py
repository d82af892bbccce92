"""`kb models install`: put the model packages pinned by models.lock, and llama-cpp-python
(the runtime of the embedded fallback chat model), into kb's own Python environment, then
verify every model file against the sha256 in the lock.

The packages must land in the environment of the interpreter running kb (``sys.executable``),
however kb itself was installed:

- ``pip install .`` into a venv, or ``pipx install .`` (pipx venvs see pipx's shared pip):
  ``<python> -m pip install ...``;
- ``uv tool install .``: uv's tool environments have no pip, so
  ``uv pip install --python <python> ...`` when ``uv`` is on PATH.

Model packages are installed ``--no-deps --require-hashes`` from the exact lines of
:func:`kb.models.lockfile.pip_requirements` (their declared dependencies are unwanted: one
would pull torch).  Only packages whose files are missing or differ from the lock are
(re)installed, so running it again when everything is verified does nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from kb.models.lockfile import (
    ModelFileError,
    load_lock,
    locate,
    packaged_files,
    pip_requirements,
    verified_path,
)

REQUIREMENTS_FILE = "models-requirements.txt"
LLAMACPP_DIST = "llama-cpp-python"
LLAMACPP_MODULE = "llama_cpp"
LLAMACPP_EXTRA = "llamacpp"
# Used only when kb's own metadata is unavailable (running from a bare source tree); a test
# keeps it equal to the [llamacpp] extra of pyproject.toml.
LLAMACPP_FALLBACK_REQUIREMENT = "llama-cpp-python>=0.3.16,<0.4"
LLAMACPP_NOTE = ("llama-cpp-python runs the embedded fallback chat model; it compiles once "
                 "(~9 minutes on 2 cores), then the installer caches the built wheel and "
                 "reinstalling it is instant")


class InstallError(RuntimeError):
    """Installing or verifying failed; the message says what to run instead."""


# --- what is there ---------------------------------------------------------------------------
@dataclass
class ModelFileState:
    """One packaged model file: where it is and whether it matches models.lock."""

    role: str  # e.g. "embed.package"
    package: str
    version: str
    file: str
    path: str | None = None  # None: the package is not installed
    sha256_ok: bool | None = None  # None: nothing to check (missing)
    detail: str = "ok"

    @property
    def ok(self) -> bool:
        return self.sha256_ok is True


@dataclass
class LlamaCppState:
    """Whether llama-cpp-python can be imported, and which one."""

    requirement: str
    importable: bool
    version: str | None = None
    path: str | None = None
    skipped: bool = False  # --no-llamacpp


def check_model_files(lock: dict[str, Any]) -> list[ModelFileState]:
    """Locate and sha256-check every packaged model file of ``lock``."""
    importlib.invalidate_caches()  # packages installed a moment ago must be seen
    out = []
    for pf in packaged_files(lock):
        st = ModelFileState(pf.role, pf.package, pf.version, pf.file)
        try:
            st.path = str(locate(pf))
        except ModelFileError as exc:
            st.detail = str(exc)
            out.append(st)
            continue
        try:
            verified_path(pf)
            st.sha256_ok = True
        except ModelFileError as exc:
            st.sha256_ok, st.detail = False, str(exc)
        out.append(st)
    return out


def llamacpp_requirement() -> str:
    """llama-cpp-python's version range, as kb's ``[llamacpp]`` extra declares it."""
    try:
        requires = importlib.metadata.requires("kb") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    for req in requires:
        spec, _, marker = req.partition(";")
        name = re.split(r"[\s<>=!~\[(]", spec.strip(), maxsplit=1)[0]
        if (name.lower().replace("_", "-") == LLAMACPP_DIST
                and re.search(rf"extra\s*==\s*['\"]{LLAMACPP_EXTRA}['\"]", marker)):
            return spec.strip()
    return LLAMACPP_FALLBACK_REQUIREMENT


def check_llamacpp(requirement: str | None = None) -> LlamaCppState:
    """Whether ``llama_cpp`` is importable (found, not imported: importing loads the library)."""
    importlib.invalidate_caches()
    state = LlamaCppState(requirement or llamacpp_requirement(), importable=False)
    spec = importlib.util.find_spec(LLAMACPP_MODULE)
    if spec is None:
        return state
    state.importable = True
    if spec.submodule_search_locations:
        state.path = str(next(iter(spec.submodule_search_locations)))
    try:
        state.version = importlib.metadata.version(LLAMACPP_DIST)
    except importlib.metadata.PackageNotFoundError:
        state.version = None
    return state


# --- how to install ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Installer:
    """The command that installs into the environment of ``python``."""

    name: str  # "pip" | "uv"
    python: str
    prefix: tuple[str, ...]  # argv up to and including "install"

    def command(self, *args: str, reinstall: bool = False) -> list[str]:
        flag = ("--force-reinstall" if self.name == "pip" else "--reinstall") if reinstall else ""
        return [*self.prefix, *([flag] if flag else []), *args]


def find_installer(python: str | None = None, *, has_pip: bool | None = None,
                   which: Callable[[str], str | None] = shutil.which) -> Installer:
    """pip when kb's environment has it, else ``uv pip --python``, else an error saying what
    to run.  ``python`` defaults to the interpreter running kb (the environment kb lives in)."""
    python = python or sys.executable
    if has_pip is None:
        has_pip = importlib.util.find_spec("pip") is not None
    if has_pip:
        return Installer("pip", python, (python, "-m", "pip", "install"))
    uv = which("uv")
    if uv:
        return Installer("uv", python, (uv, "pip", "install", "--python", python))
    raise InstallError(
        f"kb's Python environment ({python}) has no pip and `uv` is not on PATH, so kb cannot "
        f"install into it. Either put uv on PATH (kb was probably installed with "
        f"`uv tool install`) and run `kb models install` again, or add pip to that environment "
        f"with `{shlex.quote(python)} -m ensurepip` and run it again")


# --- the plan --------------------------------------------------------------------------------
@dataclass
class Step:
    """One install command.  ``requirements`` is the content of the requirements file the
    command names (written to a temporary directory the command runs in)."""

    what: str  # "models" | "llama-cpp-python"
    argv: list[str]
    requirements: str = ""
    note: str = ""
    status: str = "planned"  # planned | done | failed

    def shell(self) -> str:
        """The step as shell commands someone can paste (the requirements file via a
        here-document)."""
        lines = []
        if self.requirements:
            lines += [f"cat > {REQUIREMENTS_FILE} <<'EOF'", self.requirements.rstrip("\n"), "EOF"]
        lines.append(shlex.join(self.argv))
        return "\n".join(lines)


@dataclass
class InstallPlan:
    python: str
    models_lock: str
    files: list[ModelFileState]
    llamacpp: LlamaCppState
    installer: Installer | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps


def model_requirements(lock: dict[str, Any], packages: Sequence[str]) -> str:
    """The pinned, hashed lines of :func:`pip_requirements` for ``packages`` only."""
    wanted = set(packages)
    lines = [line for line in pip_requirements(lock).splitlines()
             if line.split("==", 1)[0] in wanted]
    return "\n".join(lines) + "\n"


def plan_install(lock_path: Path, *, llamacpp: bool = True, python: str | None = None,
                 installer: Installer | None = None) -> InstallPlan:
    """What `kb models install` would run: the model packages whose files are missing or
    differ from the lock, and llama-cpp-python when it is not importable (unless
    ``llamacpp`` is False)."""
    python = python or sys.executable
    lock = load_lock(lock_path)
    files = check_model_files(lock)
    state = check_llamacpp()
    state.skipped = not llamacpp and not state.importable
    plan = InstallPlan(python, str(lock_path), files, state)
    bad = list(dict.fromkeys(f.package for f in files if not f.ok))
    want_llamacpp = llamacpp and not state.importable
    if not bad and not want_llamacpp:
        return plan
    plan.installer = installer or find_installer(python)
    # llama-cpp-python first: installed after the model packages, pip would complain that
    # those lack the dependencies they declare (they are installed --no-deps on purpose).
    if want_llamacpp:
        note = LLAMACPP_NOTE
        no_deps = {pf.package for pf in packaged_files(lock) if pf.no_deps}
        present = list(dict.fromkeys(f.package for f in files
                                     if f.path is not None and f.package in no_deps))
        if present:
            note += (f". pip may report that {', '.join(present)} lack dependencies they "
                     f"declare: kb installs them --no-deps on purpose")
        plan.steps.append(Step(LLAMACPP_DIST, plan.installer.command(state.requirement),
                               note=note))
    if bad:
        plan.steps.append(Step(
            "models",
            plan.installer.command("--no-deps", "--require-hashes", "-r", REQUIREMENTS_FILE,
                                   reinstall=True),
            requirements=model_requirements(lock, bad),
            note=f"the model packages pinned by {lock_path}: {', '.join(bad)}"))
    return plan


Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


def run_plan(plan: InstallPlan, *, run: Runner = subprocess.run,
             output: IO[Any] | int | None = None,
             announce: Callable[[Step], None] | None = None) -> InstallPlan:
    """Run every step (each in a temporary directory holding its requirements file), then
    check again: returns the plan with the files and llama-cpp-python as they are now.

    ``output`` is where the installer's own output goes (default: inherited; `--json` sends
    it to stderr so stdout stays JSON).  Raises :class:`InstallError` when a command fails or
    a file still does not match the lock."""
    failed: list[str] = []
    for step in plan.steps:  # a failed step does not stop the others
        if announce is not None:
            announce(step)
        with tempfile.TemporaryDirectory(prefix="kb-models-install-") as tmp:
            if step.requirements:
                (Path(tmp) / REQUIREMENTS_FILE).write_text(step.requirements, encoding="utf-8")
            try:
                rc = run(step.argv, cwd=tmp, stdout=output, check=False).returncode
            except OSError as exc:
                failed.append(f"could not run {shlex.join(step.argv)}: {exc}")
                step.status = "failed"
                continue
        if rc != 0:
            hint = (" (`kb models install --no-llamacpp` installs the models without it)"
                    if step.what == LLAMACPP_DIST else "")
            failed.append(f"installing {step.what} failed: {shlex.join(step.argv)} exited with "
                          f"code {rc}, see its output above{hint}")
            step.status = "failed"
            continue
        step.status = "done"
    plan.files = check_model_files(load_lock(Path(plan.models_lock)))
    requirement, skipped = plan.llamacpp.requirement, plan.llamacpp.skipped
    plan.llamacpp = check_llamacpp(requirement)
    plan.llamacpp.skipped = skipped and not plan.llamacpp.importable
    problems = [f"{f.role} ({f.package}=={f.version}): {f.detail}" for f in plan.files
                if not f.ok]
    if (any(s.what == LLAMACPP_DIST and s.status == "done" for s in plan.steps)
            and not plan.llamacpp.importable):
        problems.append(f"{LLAMACPP_DIST} was installed but `import {LLAMACPP_MODULE}` "
                        f"still finds nothing in {plan.python}")
    if failed or problems:
        raise InstallError("; ".join(failed + (
            ["afterwards these still do not match models.lock: " + "; ".join(problems)]
            if problems else [])))
    return plan


def plan_json(plan: InstallPlan, *, dry_run: bool) -> dict[str, Any]:
    """The `kb models install --json` report."""
    return {
        "python": plan.python,
        "installer": plan.installer.name if plan.installer else None,
        "models_lock": plan.models_lock,
        "dry_run": dry_run,
        "changed": any(s.status == "done" for s in plan.steps),
        "nothing_to_do": plan.nothing_to_do,
        "steps": [asdict(s) for s in plan.steps],
        "files": [asdict(f) | {"ok": f.ok} for f in plan.files],
        "llamacpp": asdict(plan.llamacpp),
        "ok": all(f.ok for f in plan.files) and (plan.llamacpp.importable
                                                  or plan.llamacpp.skipped),
    }
