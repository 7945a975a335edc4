"""Command-line tools beyond Python that the evidence is built and checked with.

``make test`` installs them, pinned, into the repository's ``.tools/`` (gitignored) with
``scripts/install-tools.sh``: the Allure CLI (``allure``, which runs on Java) and
``xunit-viewer`` (a JUnit XML consumer). The project-local copy is used first, so every
run uses the version the tests pass with; else the one on PATH.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
#: Where ``scripts/install-tools.sh`` puts the tools' commands.
TOOLS_BIN = REPO_ROOT / ".tools" / "node_modules" / ".bin"
INSTALL_HINT = (
    "run `make tools` in the odoo-resilience repository (installs them, pinned, into .tools/)"
)


def find_tool(name: str) -> Path | None:
    """The project-local ``name`` when installed, else the one on PATH, else None."""
    local = TOOLS_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    return None if found is None else Path(found)
