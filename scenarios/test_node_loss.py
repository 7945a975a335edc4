"""node-loss: a node (an app instance and a DB member) crashes or hangs; Traefik's health
check takes the app instance out, Patroni promotes a replica when the node held the
primary, and the member rejoins when the node comes back."""

from __future__ import annotations

import random

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.node import NodeCrash, NodeHang
from harness.levels import FaultFamily
from harness.scenario.choose import app_node_without_leader, leader_node
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.node_loss]


@pytest.mark.smoke
@pytest.mark.gate
@pytest.mark.nightly
def test_app_node_crash(scenario_runner: ScenarioRunner, harness_random: random.Random) -> None:
    node = app_node_without_leader(scenario_runner.platform, harness_random)

    def crash(runtime: FaultRuntime) -> NodeCrash:
        return NodeCrash(runtime, node)

    spec = ScenarioSpec(f"node-loss:crash:{node}", FaultFamily.NODE_LOSS, crash, self_healing=True)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_app_node_hang(scenario_runner: ScenarioRunner, harness_random: random.Random) -> None:
    node = app_node_without_leader(scenario_runner.platform, harness_random)

    def hang(runtime: FaultRuntime) -> NodeHang:
        return NodeHang(runtime, node)

    spec = ScenarioSpec(f"node-loss:hang:{node}", FaultFamily.NODE_LOSS, hang, hold_s=20)
    assert_scenario_passed(scenario_runner.run(spec))


@pytest.mark.nightly
def test_leader_node_crash(scenario_runner: ScenarioRunner) -> None:
    node = leader_node(scenario_runner.platform)

    def crash(runtime: FaultRuntime) -> NodeCrash:
        return NodeCrash(runtime, node)

    spec = ScenarioSpec(
        f"node-loss:leader-node-crash:{node}",
        FaultFamily.NODE_LOSS,
        crash,
        self_healing=True,
        leader_lost=True,
    )
    assert_scenario_passed(scenario_runner.run(spec))
