"""Where ../shared/corpus is (a plain module: `conftest` names are ambiguous across folders)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Resolved: the importer names a file by its real path (file:// URI), so a ../shared that is a
# symlink (as on CI) must not make the expected URLs differ from the stored ones.
CORPUS = Path(os.environ.get("KB_TEST_CORPUS", REPO.parent / "shared" / "corpus")).resolve()
