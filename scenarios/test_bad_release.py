"""bad-release: each way a real Odoo rollout goes wrong (odoo-facts.md section 6), rolled
out blue/green behind the readiness gate and the SLO analysis, which must roll it back
on their own; user impact and time to rollback are measured."""

from __future__ import annotations

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.release import BadRelease
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.bad_release]


def _rollout(runner: ScenarioRunner, release: str) -> None:
    def deploy(runtime: FaultRuntime) -> BadRelease:
        return BadRelease(runtime, release, runner.gate)

    spec = ScenarioSpec(
        f"bad-release:{release}", FaultFamily.BAD_RELEASE, deploy, self_healing=True
    )
    assert_scenario_passed(runner.run(spec))


@pytest.mark.smoke
@pytest.mark.gate
@pytest.mark.nightly
def test_a_broken_flow_behind_green_health_is_rolled_back(scenario_runner: ScenarioRunner) -> None:
    _rollout(scenario_runner, "flow-500")


@pytest.mark.gate
@pytest.mark.nightly
@pytest.mark.parametrize(
    "release", ["crash-at-start", "readiness-fails", "schema-skew", "migrate-breaking", "slow"]
)
def test_every_bad_release_variant_is_rolled_back(
    scenario_runner: ScenarioRunner, release: str
) -> None:
    _rollout(scenario_runner, release)
