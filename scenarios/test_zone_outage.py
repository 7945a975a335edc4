"""zone-outage: one warehouse site (two nodes: their app instances and DB members) goes
dark at once; the remaining site keeps the warehouse running, Patroni promotes there
when the primary was in the lost zone, and the zone rejoins when it comes back."""

from __future__ import annotations

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.node import ZoneOutage
from harness.levels import FaultFamily
from harness.scenario.choose import zone
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.zone_outage]


def _zone_spec(runner: ScenarioRunner, *, crash: bool) -> ScenarioSpec:
    platform = runner.platform
    nodes = zone(platform)
    members = [m for n in nodes for m in platform.nodes()[n]]

    def outage(runtime: FaultRuntime) -> ZoneOutage:
        return ZoneOutage(runtime, nodes, crash=crash)

    mode = "crash" if crash else "hang"
    return ScenarioSpec(
        f"zone-outage:{mode}:{'+'.join(nodes)}",
        FaultFamily.ZONE_OUTAGE,
        outage,
        self_healing=crash,
        hold_s=30,
        leader_lost=platform.leader() in members,
    )


@pytest.mark.nightly
def test_zone_crash(scenario_runner: ScenarioRunner) -> None:
    assert_scenario_passed(scenario_runner.run(_zone_spec(scenario_runner, crash=True)))


@pytest.mark.nightly
def test_zone_hang(scenario_runner: ScenarioRunner) -> None:
    assert_scenario_passed(scenario_runner.run(_zone_spec(scenario_runner, crash=False)))
