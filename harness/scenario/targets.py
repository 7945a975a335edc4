"""The service levels as the pure core takes them (the loader owns the file format)."""

from __future__ import annotations

from harness.core import FlowTarget, RecoveryTarget, SteadyStateSpec
from harness.levels import FaultFamily, ServiceLevels


def flow_targets(levels: ServiceLevels) -> tuple[FlowTarget, ...]:
    """Every flow with targets; flows declared without targets are probed, not judged."""
    return tuple(
        FlowTarget(
            f.flow.value,
            f.critical,
            f.targets.availability_pct,
            f.targets.p95_ms,
            f.targets.p99_ms,
        )
        for f in levels.flows
        if f.targets is not None
    )


def durable_flows(levels: ServiceLevels) -> frozenset[str]:
    """Flows declared ``durable_writes: true``: none of their acknowledged writes may go."""
    return frozenset(f.flow.value for f in levels.flows if f.durable_writes)


def steady_spec(levels: ServiceLevels) -> SteadyStateSpec:
    return SteadyStateSpec(
        window_s=levels.settings.steady_state_window_s,
        stability_s=levels.settings.stability_period_s,
    )


def recovery_target(levels: ServiceLevels, family: FaultFamily) -> RecoveryTarget:
    targets = levels.recovery_for(family)
    return RecoveryTarget(
        family.value,
        targets.rto_s,
        targets.rpo_s,
        targets.rpo_writes_lost,
        degraded_p95_ms=targets.degraded_p95_ms,
    )
