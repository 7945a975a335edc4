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
    # 40 ms per database round trip: a receipt makes about 45 of them, so it takes about
    # 2 s, inside the family's 3 s degraded p95. At 100 ms it took 5 s (measured).
    def latency(runtime: FaultRuntime) -> DbPathLatency:
        return DbPathLatency(runtime, 40, jitter_ms=10)

    spec = ScenarioSpec("storage-latency:db-path-40ms", FaultFamily.STORAGE_LATENCY, latency)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.gate
@pytest.mark.nightly
def test_leader_storage_throttled(scenario_runner: ScenarioRunner) -> None:
    def throttle(runtime: FaultRuntime) -> StorageThrottle:
        return StorageThrottle(runtime, IoLimits(write_iops=30))

    spec = ScenarioSpec("storage-latency:leader-30-iops", FaultFamily.STORAGE_LATENCY, throttle)
    assert_scenario_passed(scenario_runner.run(spec))
