"""Where ../shared/corpus is (a plain module: `conftest` names are ambiguous across folders)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("KB_TEST_CORPUS", REPO.parent / "shared" / "corpus"))
