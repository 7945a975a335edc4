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
    # 10 ms per database round trip (about 15 times the local one). Measured against the
    # family's 3 s degraded p95: at 100 ms a receipt took 5.0 s (p95), at 40 ms a
    # picking took 4.2 s; picking_validate makes the most round trips.
    def latency(runtime: FaultRuntime) -> DbPathLatency:
        return DbPathLatency(runtime, 10, jitter_ms=3)

    spec = ScenarioSpec("storage-latency:db-path-10ms", FaultFamily.STORAGE_LATENCY, latency)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.gate
@pytest.mark.nightly
def test_leader_storage_throttled(scenario_runner: ScenarioRunner) -> None:
    def throttle(runtime: FaultRuntime) -> StorageThrottle:
        return StorageThrottle(runtime, IoLimits(write_iops=30))

    spec = ScenarioSpec("storage-latency:leader-30-iops", FaultFamily.STORAGE_LATENCY, throttle)
    assert_scenario_passed(scenario_runner.run(spec))
