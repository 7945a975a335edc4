"""network: the app's links to PostgreSQL and Redis are partitioned, throttled or reset
(Toxiproxy sits on every link); the app must come back on its own once the link does."""

from __future__ import annotations

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.network import LinkBandwidth, LinkPartition, LinkReset
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.sessions import SessionReauth
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.network]


@pytest.mark.nightly
def test_app_db_partition(scenario_runner: ScenarioRunner) -> None:
    def partition(runtime: FaultRuntime) -> LinkPartition:
        return LinkPartition(runtime, "db")

    spec = ScenarioSpec("network:app-db-partition", FaultFamily.NETWORK, partition, hold_s=10)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_app_redis_partition(scenario_runner: ScenarioRunner) -> None:
    def partition(runtime: FaultRuntime) -> LinkPartition:
        return LinkPartition(runtime, "redis")

    # The probes use session-less /jsonrpc: only web sessions cross the app-Redis link.
    spec = ScenarioSpec(
        "network:app-redis-partition",
        FaultFamily.NETWORK,
        partition,
        hold_s=15,
        workloads=(SessionReauth,),
        witnesses=(SessionReauth.name,),
    )
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_app_db_bandwidth_limit(scenario_runner: ScenarioRunner) -> None:
    def narrow(runtime: FaultRuntime) -> LinkBandwidth:
        return LinkBandwidth(runtime, "db", rate_kbps=512)

    spec = ScenarioSpec("network:app-db-512kbps", FaultFamily.NETWORK, narrow, hold_s=20)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_app_db_connection_resets(scenario_runner: ScenarioRunner) -> None:
    def resets(runtime: FaultRuntime) -> LinkReset:
        return LinkReset(runtime, "db")

    spec = ScenarioSpec("network:app-db-resets", FaultFamily.NETWORK, resets, hold_s=10)
    assert_scenario_passed(scenario_runner.run(spec))
