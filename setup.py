"""Build hook: ship the repository's top-level ``models.lock`` inside the wheel as
``kb/models.lock``.

models.lock lives at the top of the repository (where people read and review it, next to
pyproject.toml), outside every package, so package-data cannot reach it.  An installed kb
needs it to know which model packages to install and verify, and
``kb.settings.shipped_models_lock()`` looks for it beside the package (a checkout or an
editable install) and then inside it (a wheel).  Everything else about the project is declared
in pyproject.toml; MANIFEST.in puts models.lock into the sdist so a wheel built from the sdist
carries it too.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LOCK = Path(__file__).resolve().parent / "models.lock"


class build_py_with_models_lock(build_py):  # type: ignore[misc]  # noqa: N801
    """``build_py`` that also copies models.lock into the built ``kb`` package."""

    def run(self) -> None:
        super().run()
        # An editable install runs kb from the source tree, where models.lock already sits
        # beside the package: nothing to copy.
        if getattr(self, "editable_mode", False):
            return
        if not LOCK.is_file():
            raise FileNotFoundError(f"{LOCK}: models.lock is missing, the wheel would have no "
                                    "model pins")
        target = Path(self.build_lib) / "kb" / "models.lock"
        self.mkpath(str(target.parent))
        self.copy_file(str(LOCK), str(target))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs.append(str(Path(self.build_lib) / "kb" / "models.lock"))
        return outputs


setup(cmdclass={"build_py": build_py_with_models_lock})
