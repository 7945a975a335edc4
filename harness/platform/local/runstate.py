"""The run directory's small shared files: ``state.json`` (phase of the run and the
supervisor's pid) and ``progress.log`` (one line per step of ``up``/``down``), read
by the CLI while the supervisor works, and the ``current`` link to the newest run.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path


class Phase(Enum):
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class RunState:
    phase: Phase
    supervisor_pid: int
    error: str | None = None


def write_state(run_dir: Path, state: RunState) -> None:
    data = asdict(state)
    data["phase"] = state.phase.value
    tmp = run_dir / "state.json.tmp"
    tmp.write_text(json.dumps(data))
    os.replace(tmp, run_dir / "state.json")


def read_state(run_dir: Path) -> RunState | None:
    try:
        data = json.loads((run_dir / "state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return RunState(Phase(data["phase"]), int(data["supervisor_pid"]), data.get("error"))


class ProgressLog:
    """Appends timestamped lines to ``progress.log``; the CLI prints them as they come."""

    def __init__(self, run_dir: Path) -> None:
        self._path = run_dir / "progress.log"

    def __call__(self, message: str) -> None:
        with open(self._path, "a") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {message}\n")


def current_link(run_root: Path) -> Path:
    return run_root / "current"


def set_current(run_root: Path, run_dir: Path) -> None:
    link = current_link(run_root)
    tmp = run_root / f".current.{os.getpid()}"
    if tmp.is_symlink():
        tmp.unlink()
    tmp.symlink_to(run_dir)
    os.replace(tmp, link)


def clear_current(run_root: Path, run_dir: Path) -> None:
    link = current_link(run_root)
    if link.is_symlink() and Path(os.readlink(link)) == run_dir:
        link.unlink()
