"""The pytest plugin as users run it (pytester, each run in its own process):
an impossible RTO fails with the verdict sentence; an unreachable platform errors,
never skips to green; a runner killed mid-fault leaves nothing applied (those three on
a real local stack); scenarios that raise are errored evidence in the bundle (on a
stand-in stack whose platform is gone, so that every scenario raises)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.levels import DEFAULT_SERVICE_LEVELS
from harness.platform.local.process import become_subreaper, reap_orphans, zombie_children

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


GONE_STACK = """
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from harness.errors import PlatformError
from harness.pytest_plugin import Stack


class GonePlatform:
    \"\"\"Stands in for a stack that came up and then went away: what the runner asks
    first (the endpoints) raises. It carries what the bundle's manifest reads.\"\"\"

    name = "gone"
    plan = SimpleNamespace(
        run_id="gone-run", credentials=SimpleNamespace(all_secrets=lambda: ())
    )

    def endpoints(self):
        raise PlatformError("expected the stack's endpoints, saw the stack gone")


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    return Stack(GonePlatform(), None, tmp_path_factory.mktemp("journal"), 7, datetime.now(UTC))
"""

RAISING = """
import pytest
from harness.faults.database import LeaderCrash
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

@pytest.mark.db_failover
def test_leader_crash(scenario_runner):
    spec = ScenarioSpec("db-failover:leader-crash", FaultFamily.DB_FAILOVER, LeaderCrash)
    assert_scenario_passed(scenario_runner.run(spec))

@pytest.mark.node_loss
def test_no_node_fits(scenario_runner):
    raise LookupError("expected a node running app instances only, saw none")

def test_not_a_scenario():
    raise LookupError("no scenario here")
"""


def test_scenarios_that_raise_are_errored_evidence_in_the_bundle(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makeconftest(GONE_STACK)
    pytester.makepyfile(test_scenario=RAISING)
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:locust", "--reports-dir", str(reports), timeout=300
    )
    result.assert_outcomes(failed=3)
    bundle = reports / "gone-run"
    assert [p.name for p in reports.iterdir()] == ["gone-run"]
    suite = ET.parse(bundle / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "0", "2")
    errors = {
        case.get("name"): (case.get("classname"), error.get("message"), error.get("type"))
        for case in suite.iter("testcase")
        for error in case.iter("error")
    }
    assert errors == {
        "db-failover:leader-crash": (
            "odoo_resilience.db-failover",
            "db-failover:leader-crash errored: PlatformError: expected the stack's "
            "endpoints, saw the stack gone",
            "PlatformError",
        ),
        "test_scenario.py::test_no_node_fits": (
            "odoo_resilience.node-loss",
            "test_scenario.py::test_no_node_fits errored: LookupError: expected a node "
            "running app instances only, saw none",
            "LookupError",
        ),
    }
    html = (bundle / "report.html").read_text()
    assert "db-failover:leader-crash errored: PlatformError" in html
    assert "test_not_a_scenario" not in html
    controls = {c["control"]: c for c in json.loads((bundle / "controls.json").read_text())}
    assert controls["DR-02"]["state"] == "failing"
    assert {e["scenario"] for e in controls["DR-02"]["failing"]} == set(errors)


def _levels_with(tmp: Path, marker: str, replacement: str) -> Path:
    """The shipped service levels with one line changed."""
    text = DEFAULT_SERVICE_LEVELS.read_text()
    assert marker in text
    path = tmp / "levels.yaml"
    path.write_text(text.replace(marker, replacement))
    return path


def _run_leader_crash(
    pytester: pytest.Pytester,
    levels: Path,
    reports: Path,
    run_root: Path,
    module: str = LEADER_CRASH,
) -> tuple[pytest.RunResult, Path]:
    """A scenario module (the leader crash) under ``levels``, as a user runs it; its one
    bundle."""
    pytester.makepyfile(test_scenario=module)
    os.environ["ODOO_RESILIENCE_RUN_ROOT"] = str(run_root)
    try:
        result = pytester.runpytest_subprocess(
            "-p",
            "no:cacheprovider",
            "--service-levels",
            str(levels),
            "--reports-dir",
            str(reports),
            timeout=600,
        )
    finally:
        del os.environ["ODOO_RESILIENCE_RUN_ROOT"]
    (bundle,) = [p for p in reports.iterdir() if p.is_dir()]
    return result, bundle


def _env(run_root: Path) -> dict[str, str]:
    return {**os.environ, "ODOO_RESILIENCE_RUN_ROOT": str(run_root)}


@pytest.mark.integration
def test_a_run_that_burns_its_error_budget_aborts_with_the_sentence(
    pytester: pytest.Pytester, tmp_path: Path, run_root: Path
) -> None:
    # 0.01 % of a 30-day budget at 99.5 % is 1.3 s of outage: a failover burns it.
    levels = _levels_with(
        tmp_path, "    max_error_budget_burn_pct: 5\n", "    max_error_budget_burn_pct: 0.01\n"
    )
    result, bundle = _run_leader_crash(pytester, levels, tmp_path / "reports", run_root)
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r".*db-failover:leader-crash aborted at [\d:.]+: \w+ spent \d+\.\d\d % of its "
            r"30-day error budget \(\d+\.\d s of 12,960\.0 s of outage\), beyond "
            r"max_error_budget_burn_pct 0\.01 %.*"
        ]
    )
    verdicts = json.loads(next(bundle.glob("scenarios/*/verdicts.json")).read_text())
    assert not verdicts["passed"]


@pytest.mark.integration
def test_a_scenario_missing_its_rto_fails_with_the_verdict_sentence(
    pytester: pytest.Pytester, tmp_path: Path, run_root: Path
) -> None:
    levels = _levels_with(
        tmp_path, "  db-failover:\n    rto_s: 30\n", "  db-failover:\n    rto_s: 1\n"
    )
    result, bundle = _run_leader_crash(pytester, levels, tmp_path / "reports", run_root)
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [r".*db-failover:leader-crash RTO \d+\.\d s from the injection .* exceeds target 1 s.*"]
    )
    assert (bundle / "report.html").exists()


LOAD_KILLED = """
import os
import signal

import pytest
from harness.faults.base import Fault, LandedEvidence
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed


class KillTheLoad(Fault):
    \"\"\"The load generator dies mid-run (the stack itself is untouched).\"\"\"

    family = FaultFamily.DB_FAILOVER
    name = "kill-the-load"

    def prepare(self):
        (self.pidfile,) = (self.runtime.run_dir / "load").glob("*/locust.pid")

    def undo_steps(self):
        return (UndoStep(UndoOp.STOP_LOAD, {"pidfile": str(self.pidfile)}),)

    def act(self):
        os.kill(int(self.pidfile.read_text().split()[0]), signal.SIGKILL)

    def measure(self):
        return LandedEvidence(self.name, 1, "process", "Locust SIGKILLed")


@pytest.mark.db_failover
def test_load_killed(scenario_runner):
    spec = ScenarioSpec("db-failover:load-killed", FaultFamily.DB_FAILOVER, KillTheLoad,
                        hold_s=3, after_s=1)
    result = scenario_runner.run(spec)
    assert result.load is not None
    ended = result.load.ended
    assert ended is not None and "signal 9" in ended, (ended, result.abort_reason)
    assert_scenario_passed(result)
"""


@pytest.mark.integration
def test_a_scenario_whose_load_collapses_fails_the_steady_state_saying_so(
    pytester: pytest.Pytester, tmp_path: Path, run_root: Path
) -> None:
    # Recovery is watched for rto_s + stability + window = 5 + 10 + 10 s after the revert.
    levels = _levels_with(
        tmp_path, "  db-failover:\n    rto_s: 30\n", "  db-failover:\n    rto_s: 5\n"
    )
    levels.write_text(
        levels.read_text().replace("stability_period_s: 30", "stability_period_s: 10")
    )
    result, bundle = _run_leader_crash(
        pytester, levels, tmp_path / "reports", run_root, module=LOAD_KILLED
    )
    result.assert_outcomes(failed=1)
    result.stdout.re_match_lines(
        [
            r".*db-failover:load-killed .*warehouse load not steady by the end \(its last "
            r"10 s: 0 OK answers of 0 requests = 0\.0 req/s, below its floor 17\.1 req/s = 90 % "
            r"of its target 19 req/s; the load generator was starved or its requests failed\).*"
        ]
    )
    verdicts = json.loads(next(bundle.glob("scenarios/*/verdicts.json")).read_text())
    assert not verdicts["passed"]


@pytest.mark.integration
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


def _loads_running(run_root: Path) -> bool:
    """Whether a Locust of a run under ``run_root`` is still running (zombies excepted)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "locust" in cmdline and str(run_root) in cmdline and state != "Z":
            return True
    return False


def _journal(runs: Path) -> list[dict[str, object]]:
    found = list(runs.glob("*/faults.journal"))
    if not found:
        return []
    return [json.loads(line) for line in found[0].read_text().splitlines() if line.strip()]


@pytest.mark.integration
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
        # The background load (its own session, out of the killed group) quits by itself.
        while _loads_running(run_root):
            assert time.monotonic() - killed < 30, "the run's Locust outlived its runner"
            time.sleep(0.2)
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
