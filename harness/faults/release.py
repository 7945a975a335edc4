"""bad-release: a new app release rolled out blue/green through the ingress weights.

The fault is the release itself; the rollout controller (``harness.scenario.rollout``)
gates it on readiness and on the SLOs the probes measure, and must roll it back on
its own. It landed when the controller saw its effect and rolled back; a release
that passed every gate had no measurable effect. The undo (journalled before the
deploy) retires the green release and undoes its migration, so a dead runner never
leaves a bad release taking traffic.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.errors import FaultDidNotLand
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.scenario.rollout import GateResult, RolloutController, RolloutOutcome


class BadRelease(Fault):
    family = FaultFamily.BAD_RELEASE

    def __init__(
        self,
        runtime: FaultRuntime,
        release: str,
        gate: Callable[[int, int], GateResult],
        *,
        step_s: float = 8.0,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.release = release
        self.controller = RolloutController(self.platform, gate, step_s=step_s)
        self.outcome: RolloutOutcome | None = None

    @property
    def name(self) -> str:
        return f"bad-release:{self.release}"

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.RETIRE_RELEASE), UndoStep(UndoOp.ROLLBACK_SCHEMA))

    def act(self) -> None:
        self.outcome = self.controller.roll_out(self.release)

    def measure(self) -> LandedEvidence:
        outcome = self.outcome
        if outcome is None or outcome.promoted or outcome.time_to_rollback_s is None:
            raise FaultDidNotLand(
                f"expected release {self.release!r} to be caught by the rollout gates, saw it "
                "pass every gate: it had no measurable effect on health or the SLOs"
            )
        return LandedEvidence(
            self.name, outcome.time_to_rollback_s, "s to rollback", outcome.sentence
        )
