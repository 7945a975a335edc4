"""Abort conditions: when a run must revert its fault at once and fail.

Two conditions, both from the service levels' ``global.abort``:

- a critical flow fully down (no success since its last failure) for longer than the
  active family's ``rto_s`` plus ``critical_flow_down_beyond_rto_s``: the recovery has
  failed, and waiting longer only hurts;
- a critical flow that has spent more than ``max_error_budget_burn_pct`` of its error
  budget over ``error_budget_window_days`` (``harness.core.budget``), counted from the
  baseline: the drill is costing more availability than the business allows.

Pure: the runner asks every tick, with the samples so far.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.core.budget import abort_sentence, budget_exhausted, budget_spend
from harness.core.samples import FlowSamples, Outcome
from harness.core.targets import FlowTarget


@dataclass(frozen=True, slots=True)
class AbortLimits:
    """The abort conditions of one scenario."""

    rto_s: float
    down_beyond_rto_s: float
    budget_window_days: float
    max_burn_pct: float

    @property
    def down_limit_s(self) -> float:
        return self.rto_s + self.down_beyond_rto_s


def longest_down(
    flows: Mapping[str, FlowSamples], critical: Sequence[FlowTarget], since_ns: int, now_ns: int
) -> tuple[str, float] | None:
    """The critical flow down longest right now (no success since its last failure), in s."""
    worst: tuple[str, float] | None = None
    for target in critical:
        samples = flows.get(target.name)
        if samples is None or not len(samples):
            continue
        last_ok = since_ns
        failing = False
        for i in range(len(samples)):
            if samples.starts[i] < since_ns:
                continue
            if samples.outcomes[i] == Outcome.OK:
                last_ok, failing = samples.ends[i], False
            else:
                failing = True
        if failing:
            down_s = (now_ns - last_ok) / 1e9
            if worst is None or down_s > worst[1]:
                worst = (target.name, down_s)
    return worst


def abort_reason(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    limits: AbortLimits,
    *,
    t_inject_ns: int,
    baseline_ns: int,
    now_ns: int,
) -> str | None:
    """Why the run must abort now, in words; None while neither condition is met."""
    critical = [t for t in targets if t.critical]
    down = longest_down(flows, critical, t_inject_ns, now_ns)
    if down is not None and down[1] > limits.down_limit_s:
        return (
            f"{down[0]} fully down for {down[1]:.1f} s, beyond the abort limit of "
            f"{limits.down_limit_s:.0f} s (rto_s {limits.rto_s:g} + "
            f"critical_flow_down_beyond_rto_s {limits.down_beyond_rto_s:g})"
        )
    spends = budget_spend(flows, targets, limits.budget_window_days, baseline_ns, now_ns)
    spent = budget_exhausted(spends, limits.max_burn_pct)
    if spent is not None:
        return abort_sentence(spent, limits.max_burn_pct, limits.budget_window_days)
    return None
