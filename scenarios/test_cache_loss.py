"""cache-loss: Redis (web sessions, caches) stops or restarts. Business data never lives
there: the warehouse flows carry on, web users log in again, nothing is lost."""

from __future__ import annotations

import pytest

from harness.faults.cache import RedisDown, RedisRestart
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.sessions import SessionReauth
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.cache_loss]


@pytest.mark.nightly
def test_redis_down(scenario_runner: ScenarioRunner) -> None:
    spec = ScenarioSpec(
        "cache-loss:redis-down",
        FaultFamily.CACHE_LOSS,
        RedisDown,
        hold_s=15,
        workloads=(SessionReauth,),
        witnesses=(SessionReauth.name,),
    )
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_redis_restart(scenario_runner: ScenarioRunner) -> None:
    spec = ScenarioSpec(
        "cache-loss:redis-restart",
        FaultFamily.CACHE_LOSS,
        RedisRestart,
        self_healing=True,
        workloads=(SessionReauth,),
        witnesses=(SessionReauth.name,),
    )
    assert_scenario_passed(scenario_runner.run(spec))
