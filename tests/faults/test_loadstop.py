"""The STOP_LOAD undo: a load generator is stopped from its pid file, never a stranger."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import FaultError
from harness.faults import loadstop
from harness.faults.undo import UndoOp, UndoStep


def spawn_group() -> subprocess.Popen[bytes]:
    """A process group like Locust's: a leader and a child, both sleeping."""
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    return subprocess.Popen([sys.executable, "-c", script], start_new_session=True)


def group_alive(pgid: int) -> bool:
    out = subprocess.run(
        ["ps", "-o", "stat=", "-g", str(pgid)], check=False, capture_output=True, text=True
    )
    return any(s and not s.startswith("Z") for s in out.stdout.split())


def test_stop_load_stops_the_whole_group(tmp_path: Path) -> None:
    proc = spawn_group()
    time.sleep(0.3)
    pidfile = tmp_path / "locust.pid"
    loadstop.write_pidfile(pidfile, proc.pid)

    loadstop.stop_load(pidfile)
    proc.wait(timeout=5)

    deadline = time.monotonic() + 5
    while group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_alive(proc.pid)


def test_a_pid_reused_by_another_process_is_left_alone(tmp_path: Path) -> None:
    proc = spawn_group()
    try:
        pidfile = tmp_path / "locust.pid"
        pidfile.write_text(f"{proc.pid} 1\n")  # a start time that is not this process's

        loadstop.stop_load(pidfile)

        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
        subprocess.run(["pkill", "-g", str(proc.pid)], check=False)


def test_no_pid_file_means_nothing_to_stop_and_a_bad_one_is_explained(tmp_path: Path) -> None:
    loadstop.stop_load(tmp_path / "never-written.pid")
    bad = tmp_path / "bad.pid"
    bad.write_text("not a pid")
    with pytest.raises(FaultError, match=r"expected 'PID STARTTIME'"):
        loadstop.stop_load(bad)


def test_the_undo_step_names_its_pid_file() -> None:
    step = UndoStep(UndoOp.STOP_LOAD, {"pidfile": "/run/x/locust.pid"})
    assert UndoStep.from_json(step.to_json()) == step
    assert step.describe() == "stop_load(pidfile=/run/x/locust.pid)"
