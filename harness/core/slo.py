"""SLO compliance per flow and per phase (baseline, fault, recovery, after).

A sample belongs to the phase in which it started (the request was issued then); a
sample still running when its phase ended straddled two conditions (a request issued
in the baseline and slowed by the fault's first moment) and is judged in no phase's
SLO, though recovery and outage arithmetic still see it.
Availability and error rate count every sample; latency percentiles are nearest-rank
over OK samples only, as in the steady state (``harness.core.steady``). Error-budget
burn is the error rate divided by the budget ``1 - availability target``: 1.0 spends
the budget exactly as fast as the target allows; a 100 % target has no budget, so any
error burns at an infinite rate. A phase with no sample of a flow is not compliant:
nothing shows that the flow met its targets.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from harness.core.samples import FlowSamples, Outcome
from harness.core.steady import nearest_rank
from harness.core.targets import FlowTarget
from harness.core.timeline import Phase, PhaseWindow


@dataclass(frozen=True, slots=True)
class PhaseSlo:
    """One flow's service levels over one phase; samples ``[first_index, stop_index)``."""

    flow: str
    phase: Phase
    t_from_ns: int
    t_to_ns: int
    first_index: int
    stop_index: int
    count: int
    ok: int
    availability_pct: float | None
    error_rate: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    budget_burn: float | None
    availability_met: bool
    p95_met: bool
    p99_met: bool

    @property
    def compliant(self) -> bool:
        return self.availability_met and self.p95_met and self.p99_met


def _ms(value_ns: int | None) -> float | None:
    return None if value_ns is None else value_ns / 1_000_000


def phase_slo(samples: FlowSamples, target: FlowTarget, window: PhaseWindow) -> PhaseSlo:
    starts, ends, outcomes = samples.starts, samples.ends, samples.outcomes
    first = bisect_left(starts, window.t_from_ns)
    stop = bisect_left(starts, window.t_to_ns, lo=first)
    ok_code = Outcome.OK.value
    within = [
        (s, e, o)
        for s, e, o in zip(starts[first:stop], ends[first:stop], outcomes[first:stop], strict=True)
        if e <= window.t_to_ns
    ]
    latencies = sorted(e - s for s, e, o in within if o == ok_code)
    count, ok = len(within), len(latencies)
    p50, p95, p99 = (nearest_rank(latencies, pct) for pct in (50, 95, 99))
    if count == 0:
        availability = error_rate = burn = None
        availability_met = False
    else:
        availability = 100.0 * ok / count
        error_rate = (count - ok) / count
        budget = 1 - target.availability
        if budget == 0:
            burn = math.inf if ok < count else 0.0
        else:
            burn = float(Fraction(count - ok, count) / budget)
        availability_met = Fraction(ok, count) >= target.availability
    p99_limit = target.p99_ns
    return PhaseSlo(
        flow=samples.flow,
        phase=window.phase,
        t_from_ns=window.t_from_ns,
        t_to_ns=window.t_to_ns,
        first_index=first,
        stop_index=stop,
        count=count,
        ok=ok,
        availability_pct=availability,
        error_rate=error_rate,
        p50_ms=_ms(p50),
        p95_ms=_ms(p95),
        p99_ms=_ms(p99),
        budget_burn=burn,
        availability_met=availability_met,
        p95_met=count > 0 and (p95 is None or p95 <= target.p95_ns),
        p99_met=count > 0 and (p99_limit is None or p99 is None or p99 <= p99_limit),
    )


def slo_by_phase(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    windows: Sequence[PhaseWindow],
) -> tuple[PhaseSlo, ...]:
    """Every flow with a target, over every phase; a flow never probed has empty phases."""
    result: list[PhaseSlo] = []
    for target in targets:
        samples = flows.get(target.name)
        if samples is None:
            samples = FlowSamples.of(target.name, [])
        result.extend(phase_slo(samples, target, window) for window in windows)
    return tuple(result)
