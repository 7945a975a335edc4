"""The rollout gate's analysis: did the critical flows keep their SLOs in a window?

Measured from outside by the probes, since Odoo answers JSON-RPC errors with HTTP
200 and the ingress's own status codes cannot see them. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from harness.core import FlowSamples, FlowTarget, Outcome
from harness.core.steady import nearest_rank
from harness.scenario.rollout import GateResult

#: Fewer samples than this in a window say nothing yet.
MIN_SAMPLES = 3


def window_gate(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    t_from_ns: int,
    t_to_ns: int,
) -> GateResult:
    """Unhealthy when a critical flow's error ratio exceeds its budget or its p95 its target."""
    for target in targets:
        if not target.critical or target.name not in flows:
            continue
        samples = flows[target.name]
        errors: Counter[str] = Counter()
        latencies: list[int] = []
        total = 0
        for i in range(len(samples)):
            if not t_from_ns <= samples.starts[i] < t_to_ns or samples.ends[i] > t_to_ns:
                continue
            total += 1
            if samples.outcomes[i] == Outcome.OK:
                latencies.append(samples.ends[i] - samples.starts[i])
            else:
                errors[samples.details[i] or Outcome(samples.outcomes[i]).name.lower()] += 1
        if total < MIN_SAMPLES:
            continue
        failed = sum(errors.values())
        budget = 1 - target.availability_pct / 100
        if failed / total > budget:
            common = ", ".join(f"{name} x{n}" for name, n in errors.most_common(2))
            return GateResult(
                False,
                f"{target.name}: {failed} of {total} probes failed ({common}), over its "
                f"{budget:.1%} error budget",
            )
        p95 = nearest_rank(sorted(latencies), 95)
        if p95 is not None and p95 > target.p95_ns:
            return GateResult(
                False,
                f"{target.name}: p95 {p95 / 1e6:.0f} ms over its {target.p95_ms:.0f} ms target",
            )
    return GateResult(True, "every critical flow within its SLO")
