"""The blue/green rollout controller the bad-release family exercises.

A new release is deployed as the green service with no traffic, must pass the
ingress's readiness gate, then takes a growing share of traffic step by step;
after each moment of every step the analysis (SLOs of the probes, measured from
outside) must hold. Any failure rolls back on its own: all traffic to blue, green
retired, a schema migration undone. The outcome says when the release was
deployed, when the controller detected the problem and when the rollback was done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.errors import ComponentFailed


@dataclass(frozen=True)
class GateResult:
    healthy: bool
    reason: str


class ReleasePlatform(Protocol):
    """The platform primitives a rollout needs."""

    def deploy_release(self, release: str, instances: int = 1) -> tuple[str, ...]: ...

    def release_ready(self) -> bool: ...

    def set_app_weights(self, weights: dict[str, int]) -> None: ...

    def retire_release(self) -> None: ...

    def rollback_schema(self) -> bool: ...


@dataclass(frozen=True)
class RolloutOutcome:
    release: str
    promoted: bool
    reason: str
    t_deploy_ns: int
    t_detect_ns: int | None
    t_rolled_back_ns: int | None
    last_weight: int
    schema_rolled_back: bool

    @property
    def time_to_rollback_s(self) -> float | None:
        if self.t_rolled_back_ns is None:
            return None
        return (self.t_rolled_back_ns - self.t_deploy_ns) / 1e9

    @property
    def sentence(self) -> str:
        if self.promoted:
            return f"release {self.release!r} passed every gate and took all traffic"
        took = self.time_to_rollback_s
        return (
            f"release {self.release!r} rolled back {took:.1f} s after deploy at "
            f"{self.last_weight} % of traffic: {self.reason}"
            + ("; schema migrated back" if self.schema_rolled_back else "")
        )


class RolloutController:
    """Deploys, gates, shifts traffic, and rolls back on its own."""

    def __init__(
        self,
        platform: ReleasePlatform,
        analysis: Callable[[int, int], GateResult],
        *,
        steps: Sequence[int] = (10, 50, 100),
        step_s: float = 10.0,
        ready_timeout_s: float = 30.0,
        tick_s: float = 0.5,
        blue: str = "odoo-blue",
        green: str = "odoo-green",
    ) -> None:
        self.platform = platform
        self.analysis = analysis
        self.steps = tuple(steps)
        self.step_s = step_s
        self.ready_timeout_s = ready_timeout_s
        self.tick_s = tick_s
        self.blue, self.green = blue, green

    def roll_out(self, release: str) -> RolloutOutcome:
        t_deploy = time.monotonic_ns()
        try:
            self.platform.deploy_release(release)
        except ComponentFailed as exc:
            first_line = str(exc).splitlines()[0]
            return self._rollback(release, t_deploy, 0, f"green did not start ({first_line})")
        deadline = time.monotonic() + self.ready_timeout_s
        while not self.platform.release_ready():
            if time.monotonic() > deadline:
                return self._rollback(
                    release,
                    t_deploy,
                    0,
                    f"green never passed the readiness gate within {self.ready_timeout_s:.0f} s",
                )
            time.sleep(self.tick_s)
        # Before any traffic moves: a release that breaks what blue serves (a migration)
        # shows in the analysis already.
        for weight in (0, *self.steps):
            if weight:
                self.platform.set_app_weights({self.blue: 100 - weight, self.green: weight})
            t_from = time.monotonic_ns()
            step_end = time.monotonic() + self.step_s
            while time.monotonic() < step_end:
                time.sleep(self.tick_s)
                gate = self.analysis(t_from, time.monotonic_ns())
                if not gate.healthy:
                    return self._rollback(release, t_deploy, weight, gate.reason)
        return RolloutOutcome(release, True, "every gate passed", t_deploy, None, None, 100, False)

    def _rollback(self, release: str, t_deploy: int, weight: int, reason: str) -> RolloutOutcome:
        t_detect = time.monotonic_ns()
        self.platform.retire_release()
        schema = self.platform.rollback_schema()
        return RolloutOutcome(
            release, False, reason, t_deploy, t_detect, time.monotonic_ns(), weight, schema
        )
