"""The scenario layer's pure parts: the rollout gate's analysis, the RTO floor, the
abort watch's arithmetic and the mapping of service levels onto the core."""

from __future__ import annotations

from harness.core import FlowSamples, FlowTarget, Outcome, ProbeSample
from harness.levels import DEFAULT_SERVICE_LEVELS, FaultFamily, load_service_levels
from harness.platform.base import PlatformTimings
from harness.scenario.analysis import window_gate
from harness.scenario.floor import recovery_floor
from harness.scenario.targets import flow_targets, recovery_target, steady_spec
from harness.scenario.watch import longest_down

MS = 1_000_000
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
