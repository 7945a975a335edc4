"""node-loss: a node (an app instance and a DB replica) crashes or hangs; Traefik's health
check takes the app instance out, the replica is rebuilt when the node comes back."""

from __future__ import annotations

import random

import pytest

from harness.faults.base import FaultRuntime
from harness.faults.node import NodeCrash, NodeHang
from harness.levels import FaultFamily
from harness.platform.base import Platform
from harness.scenario.runner import ScenarioRunner, ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed

pytestmark = [pytest.mark.node_loss]


def app_node_without_leader(platform: Platform, rng: random.Random) -> str:
    """A node running an app instance whose DB member is not the primary."""
    leader = platform.leader()
    candidates = sorted(
        node
        for node, members in platform.nodes().items()
        if any(m.startswith("app-") for m in members)
        and leader not in members
        and not any(
            m in ("etcd", "haproxy", "toxiproxy", "traefik", "redis", "s3") for m in members
        )
    )
    assert candidates, f"no app node without the leader ({leader}) and shared services"
    return rng.choice(candidates)


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
