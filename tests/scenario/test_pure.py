"""The scenario layer's pure parts: the rollout gate's analysis, the RTO floor, the
abort watch's arithmetic and the mapping of service levels onto the core."""

from __future__ import annotations

from harness.core import FlowSamples, FlowTarget, Outcome, ProbeSample, RecoveryReport
from harness.core.abort import longest_down
from harness.levels import DEFAULT_SERVICE_LEVELS, FaultFamily, load_service_levels
from harness.platform.base import PlatformTimings
from harness.scenario.analysis import window_gate
from harness.scenario.floor import explain, recovery_floor
from harness.scenario.targets import flow_targets, recovery_target, steady_spec

MS = 1_000_000
S = 1_000 * MS
SCAN = FlowTarget("warehouse_scan", True, 99.5, 300, 800)


def _flow(outcomes: list[Outcome], latency_ms: int = 20, every_ms: int = 200) -> FlowSamples:
    samples = [
        ProbeSample("warehouse_scan", i * every_ms * MS, (i * every_ms + latency_ms) * MS, o)
        for i, o in enumerate(outcomes)
    ]
    return FlowSamples.of("warehouse_scan", samples)


def test_the_gate_holds_when_every_probe_succeeds_fast() -> None:
    flows = {"warehouse_scan": _flow([Outcome.OK] * 20)}
    assert window_gate(flows, [SCAN], 0, 5_000 * MS).healthy


def test_one_failure_in_a_window_breaks_a_half_percent_budget_and_names_the_error() -> None:
    outcomes = [Outcome.OK] * 19 + [Outcome.ERROR]
    samples = [
        ProbeSample("warehouse_scan", i * 200 * MS, (i * 200 + 20) * MS, o, "builtins.TypeError")
        for i, o in enumerate(outcomes)
    ]
    flows = {"warehouse_scan": FlowSamples.of("warehouse_scan", samples)}
    gate = window_gate(flows, [SCAN], 0, 5_000 * MS)
    assert not gate.healthy
    assert "1 of 20 probes failed (builtins.TypeError x1)" in gate.reason


def test_a_slow_window_breaks_the_gate_on_p95() -> None:
    flows = {"warehouse_scan": _flow([Outcome.OK] * 20, latency_ms=400)}
    gate = window_gate(flows, [SCAN], 0, 10_000 * MS)
    assert not gate.healthy
    assert "p95 400 ms over its 300 ms target" in gate.reason


def test_too_few_samples_say_nothing_yet() -> None:
    flows = {"warehouse_scan": _flow([Outcome.ERROR] * 2)}
    assert window_gate(flows, [SCAN], 0, 5_000 * MS).healthy


TIMINGS = PlatformTimings(10, 2, 1.0, 2, 1, 1.0)


def test_a_leader_loss_floor_adds_lock_expiry_router_ingress_and_window() -> None:
    floor = recovery_floor(FaultFamily.DB_FAILOVER, TIMINGS, 10, leader_lost=True)
    assert [s.name for s in floor.stages] == [
        "leader lock expiry",
        "router sees the new primary",
        "ingress health check",
        "steady-state window clears",
    ]
    assert floor.total_s == 8 + 1 + 1 + 10
    assert "Patroni ttl 10 s" in floor.lines()[0]


def test_a_latency_floor_is_the_window_alone() -> None:
    floor = recovery_floor(FaultFamily.STORAGE_LATENCY, TIMINGS, 10, leader_lost=False)
    assert floor.total_s == 10


def test_a_held_fault_puts_its_hold_in_the_floor_and_is_compared_from_the_revert() -> None:
    floor = recovery_floor(FaultFamily.STORAGE_LATENCY, TIMINGS, 10, leader_lost=False, hold_s=20)
    assert [s.name for s in floor.stages] == [
        "the harness holds the fault",
        "steady-state window clears",
    ]
    assert (floor.total_s, floor.hold_s) == (30, 20)
    # Injected at 0, reverted at 20 s, steady again at 28.1 s: no outage at all.
    report = RecoveryReport(
        t_inject_ns=0,
        until_ns=100 * S,
        stability_ns=30 * S,
        window_ns=10 * S,
        t_rec_ns=28_100 * MS,
        t_detect_ns=None,
        detected_by=None,
        t_failover_ns=None,
        t_app_reconnect_ns=None,
        reconnected_by=(),
        t_revert_ns=20 * S,
        outage_ns=0,
        outages=(),
        critical_flows=("warehouse_scan",),
        t_rec_revert_ns=28_100 * MS,
    )
    lines = explain(floor, report)
    assert lines[1] == (
        "measured RTO from the revert (the target's clock) 8.1 s against the floor less "
        "the hold of 10.0 s: 1.9 s under it (stages overlapped)"
    )
    assert lines[2] == (
        "recovery from the injection 28.1 s against a floor of 30.0 s: 1.9 s under it "
        "(stages overlapped)"
    )


def test_longest_down_measures_from_the_last_success() -> None:
    flows = {"warehouse_scan": _flow([Outcome.OK] * 5 + [Outcome.ERROR] * 10)}
    down = longest_down(flows, [SCAN], 0, 3_000 * MS)
    assert down is not None
    assert down[0] == "warehouse_scan"
    assert abs(down[1] - (3_000 - 820) / 1000) < 1e-9
    healthy = {"warehouse_scan": _flow([Outcome.OK] * 5)}
    assert longest_down(healthy, [SCAN], 0, 3_000 * MS) is None


def test_service_levels_map_onto_the_cores_targets() -> None:
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    targets = {t.name: t for t in flow_targets(levels)}
    assert targets["warehouse_scan"].critical
    assert targets["warehouse_scan"].availability_pct == 99.5
    assert steady_spec(levels).window_s == 10
    assert recovery_target(levels, FaultFamily.DB_FAILOVER).rto_s == 30
