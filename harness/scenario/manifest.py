"""Facts about the machine and the checkout that a run manifest records."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness.doctor import Level, local_checks


def component_versions() -> dict[str, str]:
    """Each local prerequisite's version and path, as ``doctor`` found it."""
    return {c.what: c.detail for c in local_checks() if c.level is Level.OK}


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_revision(repo: Path) -> str:
    return _git(repo, "rev-parse", "HEAD") or "unknown (not a git checkout)"


def git_dirty(repo: Path) -> bool:
    return bool(_git(repo, "status", "--porcelain"))
