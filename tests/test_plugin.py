"""The pytest plugin as users run it (pytester, each run in its own process):
an impossible RTO fails with the verdict sentence; an unreachable platform errors,
never skips to green; a runner killed mid-fault leaves nothing applied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.levels import DEFAULT_SERVICE_LEVELS
from harness.platform.local.process import become_subreaper, reap_orphans, zombie_children

pytestmark = pytest.mark.integration

LEADER_CRASH = """
import pytest
from harness.faults.database import LeaderCrash
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

@pytest.mark.db_failover
def test_leader_crash(scenario_runner):
    spec = ScenarioSpec("db-failover:leader-crash", FaultFamily.DB_FAILOVER, LeaderCrash,
                        self_healing=True, leader_lost=True)
    assert_scenario_passed(scenario_runner.run(spec))
"""

LONG_HANG = """
import pytest
from harness.faults.node import NodeHang
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioSpec

@pytest.mark.node_loss
def test_long_hang(scenario_runner):
    def hang(runtime):
        return NodeHang(runtime, "node-b")
    scenario_runner.run(ScenarioSpec("node-loss:hang", FaultFamily.NODE_LOSS, hang, hold_s=600))
"""


def _impossible_levels(tmp: Path) -> Path:
    text = DEFAULT_SERVICE_LEVELS.read_text()
    marker = "  db-failover:\n    rto_s: 30\n"
    assert marker in text
    path = tmp / "impossible.yaml"
    path.write_text(text.replace(marker, "  db-failover:\n    rto_s: 1\n"))
    return path


def _env(run_root: Path) -> dict[str, str]:
    return {**os.environ, "ODOO_RESILIENCE_RUN_ROOT": str(run_root)}


def test_a_scenario_missing_its_rto_fails_with_the_verdict_sentence(
    pytester: pytest.Pytester, tmp_path: Path, run_root: Path
) -> None:
    pytester.makepyfile(test_scenario=LEADER_CRASH)
    levels = _impossible_levels(tmp_path)
    os.environ["ODOO_RESILIENCE_RUN_ROOT"] = str(run_root)
    try:
        result = pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            "--service-levels",
            str(levels),
            "--reports-dir",
            str(tmp_path / "reports"),
            timeout=600,
        )
    finally:
        del os.environ["ODOO_RESILIENCE_RUN_ROOT"]
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines([r".*db-failover:leader-crash RTO \d+\.\d s exceeds target 1 s.*"])
    bundles = [p for p in (tmp_path / "reports").iterdir() if p.is_dir()]
    assert len(bundles) == 1
    assert (bundles[0] / "report.html").exists()


def test_an_unreachable_platform_errors_and_never_passes(
    pytester: pytest.Pytester, run_root: Path
) -> None:
    pytester.makepyfile(test_scenario=LEADER_CRASH)
    # Without /usr/sbin on PATH HAProxy cannot be found: the stack cannot come up.
    env = {**_env(run_root), "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(pytester.path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "1 error" in done.stdout, done.stdout[-3000:]
    assert "haproxy: not found" in done.stdout
    assert "passed" not in done.stdout.splitlines()[-1]


def _journal(runs: Path) -> list[dict[str, object]]:
    found = list(runs.glob("*/faults.journal"))
    if not found:
        return []
    return [json.loads(line) for line in found[0].read_text().splitlines() if line.strip()]


def test_a_runner_killed_mid_fault_leaves_nothing_applied(
    pytester: pytest.Pytester, run_root: Path
) -> None:
    pytester.makepyfile(test_scenario=LONG_HANG)
    # The killed runner's daemons are adopted (and reaped) here, not by PID 1.
    become_subreaper()
    env = _env(run_root)
    runs = run_root
    runner = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", str(pytester.path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not any(e.get("state") == "applied" for e in _journal(runs)):
            assert runner.poll() is None, "the runner ended before the fault was applied"
            assert time.monotonic() < deadline, "the fault was never applied"
            time.sleep(0.5)
        killed = time.monotonic()
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait(timeout=30)
        while not any(e.get("state") == "reverted" for e in _journal(runs)):
            assert time.monotonic() - killed < 60, f"nothing reverted it: {_journal(runs)}"
            time.sleep(0.5)
        print(f"\nthe reaper reverted the hang {time.monotonic() - killed:.1f} s after SIGKILL")
        frozen = list(Path("/sys/fs/cgroup/freezer/odoo-resilience").glob("*/node-b/freezer.state"))
        assert all(p.read_text().strip() == "THAWED" for p in frozen)
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        # The killed runner could not tear its stack down: do it the way a user would.
        for run_dir in runs.glob("pytest-*"):
            subprocess.run(
                [sys.executable, "-m", "harness.cli", "down", "--run-dir", str(run_dir)],
                env=env,
                check=True,
                capture_output=True,
                timeout=180,
            )
        reap_orphans(zombie_children())
