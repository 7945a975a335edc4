"""db-failover: the PostgreSQL primary dies, or is handed over in a planned switchover;
Patroni promotes a replica, HAProxy follows, the app reconnects. RTO, RPO (asynchronous
replication) and invariants are judged."""

from __future__ import annotations

import pytest

from harness.faults.database import LeaderCrash, Switchover
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.db_failover]


@pytest.mark.smoke
@pytest.mark.gate
@pytest.mark.nightly
def test_unplanned_leader_crash(scenario_runner: ScenarioRunner) -> None:
    spec = ScenarioSpec(
        "db-failover:leader-crash",
        FaultFamily.DB_FAILOVER,
        LeaderCrash,
        self_healing=True,
        leader_lost=True,
    )
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.gate
@pytest.mark.nightly
def test_planned_switchover(scenario_runner: ScenarioRunner) -> None:
    spec = ScenarioSpec(
        "db-failover:switchover", FaultFamily.DB_FAILOVER, Switchover, self_healing=True
    )
    assert_scenario_passed(scenario_runner.run(spec))
