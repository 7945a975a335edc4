"""``up``/``status``/``down`` as users run them, and ``up`` failing cleanly: a taken port,
a missing binary, a component that cannot start, Ctrl-C half-way. Each leaves nothing."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.errors import ComponentFailed, PortInUse
from harness.platform.local.cgroups import CgroupTree
from harness.platform.local.plan import StackPlan
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.ports import port_is_listening
from harness.platform.local.topology import DEFAULT_TOPOLOGY

pytestmark = pytest.mark.integration


def _cli(run_root: Path, *args: str, path: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "ODOO_RESILIENCE_RUN_ROOT": str(run_root)}
    if path is not None:
        env["PATH"] = path
    return subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def _run(
    run_root: Path, *args: str, timeout: float = 180, path: str | None = None
) -> tuple[int, str]:
    proc = _cli(run_root, *args, path=path)
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out


def _assert_nothing_left(plan: StackPlan) -> None:
    assert not CgroupTree(plan.run_id).exists(), "the run's cgroups were left behind"
    listening = [p for roles in plan.ports.values() for p in roles.values() if port_is_listening(p)]
    listening += [p for p in plan.proxy_ports.values() if port_is_listening(p)]
    assert listening == [], f"ports still listening: {listening}"
    leftover = subprocess.run(
        ["pgrep", "-f", str(plan.run_dir)], capture_output=True, text=True, check=False
    )
    assert leftover.stdout.strip() == "", f"processes left: {leftover.stdout}"


def _only_run_dir(run_root: Path) -> Path:
    runs = [p for p in run_root.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1, runs
    return runs[0]


def test_up_status_down_from_the_command_line_leaves_nothing(run_root: Path) -> None:
    code, out = _run(run_root, "up")
    assert code == 0, out
    assert "stack ready" in out
    run_dir = _only_run_dir(run_root)
    plan = StackPlan.load(run_dir)
    code, out = _run(run_root, "status", "--json")
    assert code == 0, out
    status = json.loads(out)
    assert {c["health"] for c in status["components"]} == {"up"}
    assert status["leader"] in {"pg-1", "pg-2", "pg-3"}
    started = time.monotonic()
    code, out = _run(run_root, "down")
    print(f"\ndown took {time.monotonic() - started:.1f} s")
    assert code == 0, out
    assert not run_dir.exists()
    assert not (run_root / "current").exists()
    _assert_nothing_left(plan)


def test_ctrl_c_during_up_stops_everything_already_started(run_root: Path) -> None:
    proc = _cli(run_root, "up")
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "pg-1 (node-a): ready" in line:
            break
    run_dir = _only_run_dir(run_root)
    plan = StackPlan.load(run_dir)
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    _assert_nothing_left(plan)


def test_a_missing_binary_fails_up_with_the_command_that_fixes_it(run_root: Path) -> None:
    # HAProxy lives in /usr/sbin: without it on PATH the preflight must refuse to start.
    code, out = _run(run_root, "up", path=f"{Path(sys.executable).parent}:/usr/bin:/bin")
    assert code == 3, out
    assert "haproxy: not found; fix: sudo apt-get install -y haproxy" in out
    plan = StackPlan.load(_only_run_dir(run_root))
    _assert_nothing_left(plan)


def _planned(run_root: Path) -> StackPlan:
    return LocalPlatform.create(run_root, DEFAULT_TOPOLOGY, "t-" + secrets.token_hex(4)).plan


def test_a_taken_port_fails_up_before_anything_starts(run_root: Path) -> None:
    plan = _planned(run_root)
    taken = plan.port("haproxy", "rw")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        with pytest.raises(PortInUse, match=rf"haproxy \(rw\) needs 127.0.0.1:{taken}.*ss -ltnp"):
            LocalPlatform(plan).up()
        assert port_is_listening(taken), "the squatter must be left alone"
    _assert_nothing_left(plan)


def test_a_component_that_cannot_start_shows_its_log_and_everything_stops(run_root: Path) -> None:
    plan = _planned(run_root)
    # etcd expects a directory here; a file makes it refuse to start.
    (plan.run_dir / "data" / "etcd").mkdir(parents=True)
    (plan.run_dir / "data" / "etcd" / "member").write_text("not a directory")
    with pytest.raises(ComponentFailed, match=r"(?s)etcd did not become ready.*Last lines of"):
        LocalPlatform(plan).up()
    _assert_nothing_left(plan)
