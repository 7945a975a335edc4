"""The fault reaper: a watchdog process that reverts faults whose lease lapsed.

Run as ``python -m harness.faults.reaper RUN_DIR``. The first fault of a run starts
it detached (its own session, outside pytest), so a runner killed by SIGKILL or a
cancelled CI job cannot leave a fault applied: every ``poll_s`` it reads the
journal and reverts any pending fault whose lease expired or whose owner process is
gone, recording the reason. It exits when the run directory disappears (the stack
is down) or when nothing was pending for ``idle_exit_s``.

One reaper per run directory: it holds an exclusive ``flock`` on
``fault-reaper.lock`` for its whole life; ``ensure_running`` starts one only when
that lock is free.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from harness.errors import FaultError, HarnessError
from harness.faults import journal
from harness.faults.lease import process_start_ticks
from harness.faults.recover import attach_platform, revert_entry
from harness.platform.base import Platform

LOCK_NAME = "fault-reaper.lock"
PID_NAME = "fault-reaper.pid"
LOG_NAME = "fault-reaper.log"
DEFAULT_POLL_S = 0.5
DEFAULT_IDLE_EXIT_S = 120.0
_REPO_ROOT = Path(__file__).resolve().parents[2]

# Reapers this process started: their Popen is waited for by a thread, so an exited
# reaper never lingers as a zombie (PID 1 here does not reap).
_children: dict[Path, subprocess.Popen[bytes]] = {}
_children_lock = threading.Lock()


def _log(message: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} reaper[{os.getpid()}] {message}", flush=True)


def _lock_held_elsewhere(run_dir: Path) -> bool:
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken just to probe
    return False


def running_pid(run_dir: Path) -> int | None:
    """The pid of the run's reaper while one holds the lock, else None."""
    if not (run_dir / LOCK_NAME).exists() or not _lock_held_elsewhere(run_dir):
        return None
    try:
        return int((run_dir / PID_NAME).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def ensure_running(run_dir: Path, *, poll_s: float = DEFAULT_POLL_S) -> int:
    """Start the run's reaper unless one runs; its pid once it holds the lock."""
    pid = running_pid(run_dir)
    if pid is not None:
        return pid
    log_dir = run_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
    with open(log_dir / LOG_NAME, "ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "harness.faults.reaper", str(run_dir), "--poll-s", str(poll_s)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    with _children_lock:
        _children[run_dir] = popen
    threading.Thread(target=popen.wait, name=f"reaper-wait-{popen.pid}", daemon=True).start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pid = running_pid(run_dir)
        if pid is not None:
            return pid
        if popen.poll() is not None and running_pid(run_dir) is None:
            break
        time.sleep(0.02)
    raise FaultError(
        f"expected the fault reaper for {run_dir} to start and hold {LOCK_NAME} within 10 s, "
        f"it did not (exit status {popen.poll()}); faults would not be reverted if this run "
        f"died. See {log_dir / LOG_NAME}."
    )


def stop(run_dir: Path, timeout_s: float = 10.0) -> None:
    """Stop the run's reaper (SIGTERM) and wait until it is gone (and reaped)."""
    pid = running_pid(run_dir)
    with _children_lock:
        popen = _children.pop(run_dir, None)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    if popen is not None:
        popen.wait(timeout=timeout_s)
    if pid is None or (popen is not None and popen.pid == pid):
        return
    deadline = time.monotonic() + timeout_s
    while process_start_ticks(pid) is not None:
        # A reaper whose starter died was re-parented to us (a subreaper) or to init:
        # reap it when it is ours, else just wait for it to vanish.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        if time.monotonic() > deadline:
            raise FaultError(
                f"expected the fault reaper (pid {pid}) to exit within {timeout_s:.0f} s of "
                "SIGTERM, it is still there; kill it by its pid"
            )
        time.sleep(0.02)


class Reaper:
    """The watchdog loop over one run directory."""

    def __init__(self, run_dir: Path, poll_s: float, idle_exit_s: float) -> None:
        self.run_dir = run_dir
        self.poll_s = poll_s
        self.idle_exit_s = idle_exit_s
        self._platform: Platform | None = None

    def _platform_attached(self) -> Platform:
        # Attached only when something must be reverted: building it touches the run
        # directory, which must not be re-created once the stack is down.
        if self._platform is None:
            self._platform = attach_platform(self.run_dir)
        return self._platform

    def stack_gone(self) -> bool:
        return not (self.run_dir / "plan.json").exists()

    def sweep(self) -> int:
        """Revert every lapsed lease now; the number of faults still pending."""
        now = time.time()
        left = 0
        for entry in journal.pending(self.run_dir):
            reason = entry.lease.lapse(now)
            if reason is None:
                left += 1
                continue
            try:
                reverted = revert_entry(entry, self._platform_attached(), self.run_dir, reason)
            except (HarnessError, OSError) as exc:
                left += 1
                _log(f"could not revert {entry.name} ({entry.fault_id}), will retry: {exc}")
                continue
            _log(
                f"reverted {reverted.name} ({reverted.fault_id}): {reason.value}; "
                f"{', '.join(reverted.steps)}"
            )
        return left

    def run(self) -> int:
        idle_since = time.monotonic()
        while not self.stack_gone():
            if self.sweep():
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since > self.idle_exit_s:
                _log(f"nothing pending for {self.idle_exit_s:.0f} s: exiting")
                return 0
            time.sleep(self.poll_s)
        _log(f"{self.run_dir} has no plan.json any more (stack down): exiting")
        return 0


def _take_lock(fd: int) -> bool:
    # ``running_pid`` probes the lock for an instant: retry briefly so a probe is not
    # mistaken for another reaper.
    deadline = time.monotonic() + 1.0
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.faults.reaper", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--poll-s", type=float, default=DEFAULT_POLL_S)
    parser.add_argument("--idle-exit-s", type=float, default=DEFAULT_IDLE_EXIT_S)
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir.resolve()
    if not run_dir.is_dir():
        _log(f"{run_dir} is not a directory: nothing to watch")
        return 2
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    if not _take_lock(fd):
        _log("another reaper holds the lock: exiting")
        os.close(fd)
        return 0
    signal.signal(signal.SIGTERM, _terminate)
    pid_file = run_dir / PID_NAME
    pid_file.write_text(f"{os.getpid()}\n")
    _log(f"watching {journal.journal_path(run_dir)} every {args.poll_s} s")
    try:
        return Reaper(run_dir, args.poll_s, args.idle_exit_s).run()
    finally:
        with contextlib.suppress(OSError):
            if pid_file.read_text().split()[0] == str(os.getpid()):
                pid_file.unlink()
        os.close(fd)


if __name__ == "__main__":
    raise SystemExit(main())
