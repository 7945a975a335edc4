"""Stopping a load generator from its pid file: the undo of a load-driven fault.

The pid file holds Locust's pid and its start time (field 22 of ``/proc/PID/stat``),
so a pid the kernel reused for another process is never signalled. Locust runs in its
own process group (``LoadRun``): the stop sends SIGINT to the group (Locust stops its
users, writes its report and stats and exits, as on Ctrl-C; see ``harness.load.runner``
for why not SIGTERM), waits a bounded time, then SIGKILLs what is left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from harness.errors import FaultError

STOP_WAIT_S = 15.0


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after its ')' are plain.
    return stat.rsplit(")", 1)[1].split()[19]


def write_pidfile(path: Path, pid: int) -> None:
    started = _start_time(pid)
    if started is None:
        raise FaultError(
            f"expected the load generator (pid {pid}) to be running when its pid file "
            f"{path} is written, saw it gone; see the load's log next to that file"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{pid} {started}\n")
    tmp.replace(path)


def stop_load(pidfile: Path) -> None:
    """Stop the process group the pid file names; nothing when it is gone or never ran."""
    try:
        pid_text, started = pidfile.read_text().split()
    except FileNotFoundError:
        return  # never started (the inject failed before), or the file was never written
    except ValueError:
        raise FaultError(
            f"expected 'PID STARTTIME' in {pidfile}, saw {pidfile.read_text()!r}; stop the "
            "load generator by hand (pkill -f 'locust -f') and delete the file"
        ) from None
    pid = int(pid_text)
    if _start_time(pid) != started:
        return  # it ended; the pid may since belong to someone else
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGINT)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        if _start_time(pid) != started or _zombie(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
