"""Run roots for tests that start stacks in other processes (the plugin under pytester)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.platform.local.plan import StackPlan
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.process import pid_running
from harness.platform.local.runstate import read_state


@contextlib.contextmanager
def fresh_run_root() -> Iterator[Path]:
    """A fresh run root the DB user can reach (pytest's own tmp dirs are root's, 0700).

    On the way out, a stack a failed run left up is taken down from its plan (its
    cgroups find every process) before the directory goes.
    """
    root = Path(tempfile.mkdtemp(prefix="odoo-res-runs-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        for plan_file in root.glob("*/plan.json"):
            state = read_state(plan_file.parent)
            if state is not None and pid_running(state.supervisor_pid):
                os.kill(state.supervisor_pid, signal.SIGKILL)
            LocalPlatform(StackPlan.load(plan_file.parent)).down()
        shutil.rmtree(root, ignore_errors=True)
