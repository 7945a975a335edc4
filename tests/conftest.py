"""Shared fixtures. ``local_stack``: one real local stack for the whole test session
(it takes most of a minute to start), created only when a test asks for it.

Tests that break something restore it before they return, so the next test finds
the stack whole; teardown proves ``down`` leaves nothing behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.platform.local.plan import StackPlan
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.process import pid_running
from harness.platform.local.runstate import read_state
from harness.platform.local.topology import DEFAULT_TOPOLOGY

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalPlatform]:
    root = Path(tempfile.mkdtemp(prefix="odoo-res-stack-", dir="/var/tmp"))
    platform = LocalPlatform.create(root, DEFAULT_TOPOLOGY, "t-" + secrets.token_hex(4))
    plan = platform.plan
    platform.up(progress=print)
    try:
        yield platform
    finally:
        platform.down(keep=False)
        leftovers = platform.leftovers()
        shutil.rmtree(root, ignore_errors=True)
        assert leftovers == [], leftovers
        assert not plan.run_dir.exists()


@pytest.fixture
def run_root() -> Iterator[Path]:
    """A fresh run root the DB user can reach (pytest's own tmp dirs are root's, 0700)."""
    root = Path(tempfile.mkdtemp(prefix="odoo-res-runs-", dir="/var/tmp"))
    root.chmod(0o755)
    yield root
    # A test that failed half-way may have left a stack up: take it down from its plan
    # (its cgroups find every process) before the directory goes.
    for plan_file in root.glob("*/plan.json"):
        state = read_state(plan_file.parent)
        if state is not None and pid_running(state.supervisor_pid):
            os.kill(state.supervisor_pid, signal.SIGKILL)
        LocalPlatform(StackPlan.load(plan_file.parent)).down()
    shutil.rmtree(root, ignore_errors=True)
