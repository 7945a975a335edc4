"""The blue/green rollout controller (``harness/scenario/rollout.py``) on the fake
platform: a release the analysis finds unhealthy is rolled back on its own, a healthy
one is promoted, one that crashes at start or never gets ready never takes traffic,
and the outcome records when it was deployed, detected and rolled back."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.scenario.rollout import GateResult, RolloutController
from tests.support.fake_platform import BLUE, GREEN, FakePlatform, FakeRelease

TICK_S = 0.01
STEP_S = 0.05
SLO_BROKEN = "sale-order p95 1,800 ms > 800 ms over the last window"


@dataclass(frozen=True)
class GateCall:
    t_from_ns: int
    t_to_ns: int
    green_weight: int
    ready_polls: int
    """How often the controller had asked whether green is ready, when it asked the gate."""


class Gate:
    """The analysis: records every window it is asked about; unhealthy from a green
    weight on (``unhealthy_from``), healthy throughout when that is None."""

    def __init__(self, fake: FakePlatform, unhealthy_from: int | None = None) -> None:
        self.fake = fake
        self.unhealthy_from = unhealthy_from
        self.calls: list[GateCall] = []

    def __call__(self, t_from_ns: int, t_to_ns: int) -> GateResult:
        weight = self.fake.weights.get(GREEN, 0)
        self.calls.append(
            GateCall(t_from_ns, t_to_ns, weight, self.fake.calls.count("release_ready()"))
        )
        if self.unhealthy_from is not None and weight >= self.unhealthy_from:
            return GateResult(False, SLO_BROKEN)
        return GateResult(True, "every critical flow kept its SLOs")

    def weights_asked(self) -> list[int]:
        return sorted({c.green_weight for c in self.calls})


def _controller(fake: FakePlatform, gate: Gate, ready_timeout_s: float = 5.0) -> RolloutController:
    return RolloutController(
        fake, gate, step_s=STEP_S, tick_s=TICK_S, ready_timeout_s=ready_timeout_s
    )


def test_a_healthy_release_is_promoted_step_by_step() -> None:
    fake = FakePlatform()
    gate = Gate(fake)
    t0 = time.monotonic_ns()
    outcome = _controller(fake, gate).roll_out("v2")
    assert outcome.promoted
    assert (outcome.reason, outcome.last_weight) == ("every gate passed", 100)
    assert (outcome.t_detect_ns, outcome.t_rolled_back_ns, outcome.time_to_rollback_s) == (
        None,
        None,
        None,
    )
    assert not outcome.schema_rolled_back
    assert outcome.sentence == "release 'v2' passed every gate and took all traffic"
    assert t0 <= outcome.t_deploy_ns
    assert fake.green_weights() == [10, 50, 100]
    assert [dict(c.weights) for c in fake.weight_history] == [
        {BLUE: 90, GREEN: 10},
        {BLUE: 50, GREEN: 50},
        {BLUE: 0, GREEN: 100},
    ]
    assert fake.versions == {BLUE: "stable", GREEN: "v2"}
    assert "retire_release()" not in fake.calls
    assert "rollback_schema()" not in fake.calls
    # Before any traffic, then at every step, each step held for step_s.
    assert gate.weights_asked() == [0, 10, 50, 100]
    assert time.monotonic_ns() - t0 >= 4 * STEP_S * 1e9


def test_every_gate_window_opens_when_its_step_began() -> None:
    fake = FakePlatform()
    gate = Gate(fake)
    outcome = _controller(fake, gate).roll_out("v2")
    starts = [outcome.t_deploy_ns, *(c.t_ns for c in fake.weight_history)]
    for call in gate.calls:
        step = [0, 10, 50, 100].index(call.green_weight)
        assert call.t_from_ns >= starts[step], "the window must not reach back before its step"
        if step + 1 < len(starts):
            assert call.t_to_ns <= starts[step + 1]
        assert call.t_to_ns > call.t_from_ns
    # One window per step: a step's analysis covers the whole step so far.
    assert len({c.t_from_ns for c in gate.calls}) == 4


def test_an_unhealthy_release_is_rolled_back_on_its_own() -> None:
    fake = FakePlatform()
    gate = Gate(fake, unhealthy_from=50)
    outcome = _controller(fake, gate).roll_out("flow-500")
    assert not outcome.promoted
    assert outcome.reason == SLO_BROKEN
    assert outcome.last_weight == 50
    assert outcome.t_detect_ns is not None
    assert outcome.t_rolled_back_ns is not None
    assert outcome.t_deploy_ns < outcome.t_detect_ns <= outcome.t_rolled_back_ns
    took = outcome.time_to_rollback_s
    assert took == (outcome.t_rolled_back_ns - outcome.t_deploy_ns) / 1e9
    # Two full steps (0 % and 10 %) passed before the 50 % step failed at its first look.
    assert took >= 2 * STEP_S
    assert [c.green_weight for c in gate.calls].count(50) == 1
    assert fake.calls[-3:] == [
        f"set_app_weights({BLUE}=50, {GREEN}=50)",
        "retire_release()",
        "rollback_schema()",
    ]
    assert fake.green_weights() == [10, 50, 0]
    assert fake.weights == {BLUE: 100}
    assert fake.versions == {BLUE: "stable"}
    assert fake.green == ()
    assert not outcome.schema_rolled_back
    assert outcome.sentence == (
        f"release 'flow-500' rolled back {took:.1f} s after deploy at 50 % of traffic: {SLO_BROKEN}"
    )


def test_a_migration_that_breaks_blue_is_caught_before_any_traffic_and_migrated_back() -> None:
    fake = FakePlatform(releases={"migrate-breaking": FakeRelease(migrates=True)})
    gate = Gate(fake, unhealthy_from=0)
    outcome = _controller(fake, gate).roll_out("migrate-breaking")
    assert not outcome.promoted
    assert outcome.last_weight == 0
    assert len(gate.calls) == 1
    assert outcome.schema_rolled_back
    assert not fake.migrated
    assert not any(fake.green_weights()), "green never had traffic"
    assert outcome.sentence.endswith(f"at 0 % of traffic: {SLO_BROKEN}; schema migrated back")


def test_a_release_that_crashes_at_start_never_takes_traffic() -> None:
    fake = FakePlatform(releases={"crash-at-start": FakeRelease(crashes_at_start=True)})
    gate = Gate(fake)
    outcome = _controller(fake, gate).roll_out("crash-at-start")
    assert not outcome.promoted
    assert outcome.reason == (
        "green did not start (expected green-1 (release 'crash-at-start') to stay up, it "
        "exited with status 1 at start; read its log)"
    ), "only the error's first line, not the log tail"
    assert outcome.last_weight == 0
    assert gate.calls == []
    assert fake.calls == [
        "deploy_release(crash-at-start, 1)",
        "retire_release()",
        "rollback_schema()",
    ]
    assert fake.weights == {BLUE: 100}
    assert "green-1" not in fake.health, "the crashed instance is cleaned up"
    assert outcome.t_rolled_back_ns is not None


def test_a_release_that_never_gets_ready_is_rolled_back_after_the_readiness_timeout() -> None:
    fake = FakePlatform(releases={"readiness-fails": FakeRelease(ready_after_polls=None)})
    gate = Gate(fake)
    outcome = _controller(fake, gate, ready_timeout_s=1.0).roll_out("readiness-fails")
    assert not outcome.promoted
    assert outcome.reason == "green never passed the readiness gate within 1 s"
    assert outcome.last_weight == 0
    took = outcome.time_to_rollback_s
    assert took is not None
    assert took >= 1.0
    assert fake.calls.count("release_ready()") > 1, "readiness is polled, not asked once"
    assert gate.calls == []
    assert fake.weight_history[:-1] == [], "no traffic was ever set before the rollback"
    assert fake.weights == {BLUE: 100}


def test_traffic_waits_for_readiness() -> None:
    fake = FakePlatform(releases={"slow-start": FakeRelease(ready_after_polls=3)})
    gate = Gate(fake)
    outcome = _controller(fake, gate).roll_out("slow-start")
    assert outcome.promoted
    assert fake.calls.count("release_ready()") == 4
    first_weights = next(i for i, c in enumerate(fake.calls) if c.startswith("set_app_weights"))
    assert fake.calls[:first_weights].count("release_ready()") == 4
    assert all(c.ready_polls == 4 for c in gate.calls), "no analysis before green was ready"
