"""storage-latency: slow disks under the DB primary (cgroup I/O throttling) and a slow
path to the database (Toxiproxy latency and jitter); recovery once they are lifted."""

from __future__ import annotations

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.storage import DbPathLatency, StorageThrottle
from harness.levels import FaultFamily
from harness.platform.base import IoLimits
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.storage_latency]


@pytest.mark.smoke
@pytest.mark.gate
@pytest.mark.nightly
def test_db_path_latency_and_jitter(scenario_runner: ScenarioRunner) -> None:
    def latency(runtime: FaultRuntime) -> DbPathLatency:
        return DbPathLatency(runtime, 100, jitter_ms=30)

    spec = ScenarioSpec("storage-latency:db-path-100ms", FaultFamily.STORAGE_LATENCY, latency)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.gate
@pytest.mark.nightly
def test_leader_storage_throttled(scenario_runner: ScenarioRunner) -> None:
    def throttle(runtime: FaultRuntime) -> StorageThrottle:
        return StorageThrottle(runtime, IoLimits(write_iops=30))

    spec = ScenarioSpec("storage-latency:leader-30-iops", FaultFamily.STORAGE_LATENCY, throttle)
    assert_scenario_passed(scenario_runner.run(spec))
