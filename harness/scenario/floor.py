"""The RTO floor: the fastest recovery a configuration allows, stage by stage.

A slow recovery should point at the setting that causes it. For each fault the
floor adds the stages recovery cannot skip (the leader lock expiring, the router
noticing the new primary, the ingress re-admitting instances, the steady-state
window emptying of failed samples) and the report sets the measured decomposition
beside them. For a fault the harness holds for a fixed time (latency, a partition),
the hold is a stage of its own, the harness's and not the stack's: the RTO of such a
fault is judged from the revert, so the report compares recovery from the revert with
the floor less the hold, and recovery from the injection with the whole floor.
Pure: timings in, sentences out.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core import RecoveryReport
from harness.levels import FaultFamily
from harness.platform.base import PlatformTimings


@dataclass(frozen=True)
class FloorStage:
    name: str
    seconds: float
    setting: str


HOLD = "the harness holds the fault"


@dataclass(frozen=True)
class RecoveryFloor:
    stages: tuple[FloorStage, ...]

    @property
    def total_s(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def hold_s(self) -> float:
        return sum(stage.seconds for stage in self.stages if stage.name == HOLD)

    def lines(self) -> tuple[str, ...]:
        parts = " + ".join(f"{s.name} {s.seconds:.1f} s ({s.setting})" for s in self.stages)
        return (f"floor {self.total_s:.1f} s = {parts}",)


def recovery_floor(
    family: FaultFamily,
    timings: PlatformTimings,
    window_s: float,
    *,
    leader_lost: bool,
    hold_s: float | None = None,
) -> RecoveryFloor:
    """Stages for a fault of ``family``; ``leader_lost`` when the DB primary went away;
    ``hold_s`` when the harness holds the fault that long before reverting it."""
    stages: list[FloorStage] = []
    if hold_s is not None:
        stages.append(FloorStage(HOLD, hold_s, f"hold_s {hold_s:g} s before the revert"))
    if leader_lost:
        stages.append(
            FloorStage(
                "leader lock expiry",
                timings.leader_ttl_s - timings.ha_loop_s,
                f"Patroni ttl {timings.leader_ttl_s:g} s minus loop_wait "
                f"{timings.ha_loop_s:g} s (the last renewal)",
            )
        )
        stages.append(
            FloorStage(
                "router sees the new primary",
                timings.router_rise * timings.router_check_s,
                f"HAProxy rise {timings.router_rise} x inter {timings.router_check_s:g} s",
            )
        )
    if family in (FaultFamily.NODE_LOSS, FaultFamily.ZONE_OUTAGE, FaultFamily.BAD_RELEASE) or (
        leader_lost
    ):
        stages.append(
            FloorStage(
                "ingress health check",
                timings.ingress_check_s,
                f"Traefik health-check interval {timings.ingress_check_s:g} s",
            )
        )
    stages.append(
        FloorStage(
            "steady-state window clears",
            window_s,
            f"steady_state_window_s {window_s:g} s: the last failed probe must leave the window",
        )
    )
    return RecoveryFloor(tuple(stages))


def explain(floor: RecoveryFloor, report: RecoveryReport | None) -> tuple[str, ...]:
    """The floor, then the measured stages against it."""
    lines = list(floor.lines())
    if report is None or report.t_rec_ns is None:
        lines.append("not recovered: no measured stages to compare")
        return tuple(lines)
    t_inject_ns = report.t_inject_ns
    from_revert = report.rto_from_revert_ns
    if floor.hold_s and from_revert is not None:
        lines.append(
            _against(
                "measured RTO from the revert (the target's clock)",
                from_revert / 1e9,
                floor.total_s - floor.hold_s,
                "the floor less the hold",
            )
        )
    label = "recovery from the injection" if floor.hold_s else "measured RTO"
    lines.append(_against(label, (report.t_rec_ns - t_inject_ns) / 1e9, floor.total_s, "a floor"))
    marks = (
        ("first failure seen", report.t_detect_ns),
        ("DB timeline switched", report.t_failover_ns),
        ("app answered again", report.t_app_reconnect_ns),
        ("steady again", report.t_rec_ns),
    )
    for name, t_ns in marks:
        if t_ns is not None:
            lines.append(f"  {name} at +{(t_ns - t_inject_ns) / 1e9:.1f} s")
    return tuple(lines)


def _against(what: str, measured_s: float, floor_s: float, floor_name: str) -> str:
    gap = measured_s - floor_s
    relation = (
        f"{gap:.1f} s above the floor" if gap >= 0 else f"{-gap:.1f} s under it (stages overlapped)"
    )
    return f"{what} {measured_s:.1f} s against {floor_name} of {floor_s:.1f} s: {relation}"
