"""The run's supervisor: the long-lived process that owns a stack started by the CLI.

``odoo-resilience up`` starts it detached and returns once the stack is ready;
``down`` sends it SIGTERM. It is the parent (and child subreaper) of every daemon,
so nothing becomes an unreaped zombie, and it keeps running between CLI calls.

Run as ``python -m harness.platform.local.supervisor RUN_DIR``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from harness.errors import HarnessError
from harness.platform.local.plan import StackPlan
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.process import become_subreaper
from harness.platform.local.runstate import Phase, ProgressLog, RunState, write_state


class _Stop(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT while ``up`` is still running."""


def main(argv: list[str]) -> int:
    run_dir = Path(argv[0])
    become_subreaper()
    progress = ProgressLog(run_dir)
    pid = os.getpid()
    plan = StackPlan.load(run_dir)
    platform = LocalPlatform(plan)
    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise _Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_state(run_dir, RunState(Phase.STARTING, pid))
    try:
        platform.up(progress)
    except _Stop:
        progress("interrupted during up: stopping what was started")
        platform.down(keep=False, progress=progress)
        write_state(run_dir, RunState(Phase.STOPPED, pid, "interrupted during up"))
        return 130
    except HarnessError as err:
        # up() already stopped whatever it had started.
        write_state(run_dir, RunState(Phase.FAILED, pid, str(err)))
        return err.exit_code
    write_state(run_dir, RunState(Phase.READY, pid))
    keep = (run_dir / "keep-on-down").exists
    try:
        while True:
            time.sleep(0.5)
    except _Stop:
        pass
    # Further signals must not interrupt the teardown.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    write_state(run_dir, RunState(Phase.STOPPING, pid))
    keep_data = keep()
    platform.down(keep=keep_data, progress=progress)
    if keep_data:
        write_state(run_dir, RunState(Phase.STOPPED, pid))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
