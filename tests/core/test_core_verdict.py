"""evaluate_run: every verdict of a run, with sentences a person understands."""

from __future__ import annotations

from collections.abc import Callable

from harness.core.ledger import ReadBack, WriteOrigin, WriteOutcome, WriteRecord
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.steady import LoadFloor
from harness.core.targets import FlowTarget, RecoveryTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Phase, Timeline, TimelineEvent
from harness.core.verdict import (
    LEDGER_SERIES,
    RtoClock,
    RunData,
    RunVerdicts,
    SampleRange,
    VerdictKind,
    evaluate_run,
    figure,
    plain,
)

MS = 1_000_000
S = 1_000 * MS
NOON = 1_700_049_600 * S  # 2023-11-15 12:00:00 UTC
TARGETS = (
    FlowTarget("checkout", True, 99.0, 250.0, 900.0),
    FlowTarget("stock", False, 90.0, 250.0),
)


def probe(
    flow: str,
    until_s: int,
    down: Callable[[int], bool],
    latency_ms: Callable[[int], int] = lambda t: 20,
) -> FlowSamples:
    series = SampleSeries(flow)
    for start in range(0, until_s * S, 200 * MS):
        if down(start):
            series.add(start, start + S, Outcome.TIMEOUT, "timeout")
        else:
            series.add(start, start + latency_ms(start) * MS, Outcome.OK)
    return series.freeze()


def run_with(
    down: Callable[[int], bool],
    *,
    until_s: int = 200,
    extra: tuple[TimelineEvent, ...] = (),
    ledger: tuple[WriteRecord, ...] = (),
    read_back: ReadBack | None = None,
    degraded_p95_ms: float | None = None,
    slow_ms: Callable[[int], int] = lambda t: 20,
    rto_clock: RtoClock = RtoClock.INJECT,
    durable_flows: frozenset[str] = frozenset(),
    rpo_writes: int = 0,
    load: LoadFloor | None = None,
) -> RunVerdicts:
    events = (
        TimelineEvent(EventKind.PHASE_START, 0, "baseline", Phase.BASELINE),
        TimelineEvent(EventKind.PHASE_START, 60 * S, "fault", Phase.FAULT),
        TimelineEvent(EventKind.FAULT_INJECTED, 60 * S, "kill pg-1"),
        TimelineEvent(EventKind.FAULT_LANDED, 61 * S, "primary pg-1 gone"),
        TimelineEvent(EventKind.PHASE_START, 150 * S, "after", Phase.AFTER),
        TimelineEvent(EventKind.RUN_END, until_s * S, "end"),
        *extra,
    )
    run = RunData(
        scenario="db-failover",
        family="db-failover",
        timeline=Timeline(mono_anchor_ns=0, wall_anchor_ns=NOON, events=events),
        flows={
            "checkout": probe("checkout", until_s, down, slow_ms),
            "stock": probe("stock", until_s, down, slow_ms),
        },
        flow_targets=TARGETS,
        steady=SteadyStateSpec(10.0, 30.0),
        recovery_target=RecoveryTarget(
            "db-failover",
            30.0,
            5.0 if rpo_writes else 0.0,
            rpo_writes,
            degraded_p95_ms=degraded_p95_ms,
        ),
        ledger=ledger,
        read_back=read_back,
        rto_clock=rto_clock,
        durable_flows=durable_flows,
        load=load,
    )
    return evaluate_run(run)


def outage_from_61_2_to_95(t: int) -> bool:
    return 61_200 * MS <= t < 95 * S


def test_a_slow_recovery_fails_rto_with_a_readable_sentence() -> None:
    ledger = tuple(
        WriteRecord(f"so-{i}", "sale", i * S, i * S + 50 * MS, WriteOutcome.OK) for i in range(1234)
    )
    result = run_with(
        outage_from_61_2_to_95,
        ledger=ledger,
        read_back=ReadBack({f"so-{i}": 1 for i in range(1234)}),
    )
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    # Last failure starts 94.8 s, times out at 95.8 s, leaves the window at 105.8 s.
    assert not rto.passed
    assert rto.measured == 45.8
    assert rto.target == 30.0
    assert rto.window == (60 * S, 135_800 * MS)
    assert rto.sample_refs == (SampleRange("checkout", 250, 679),)
    assert rto.sentence.startswith(
        "db-failover RTO 45.8 s from the injection (the stack heals by itself while the fault "
        "stands) exceeds target 30 s (outage from 12:01:01.200, steady again "
        "at 12:01:45.800); detected +2.2 s, app reconnected +35.0 s, total outage 33.8 s, "
        "checkout steady again last, at +45.8 s (its 10 s before: 50 of 51 OK = 98.04 % "
        "against 99 %, p95 20 ms against 250 ms); 0 of 1,234 acknowledged writes lost"
    )
    assert not result.passed
    (landed,) = [v for v in result.verdicts if v.kind is VerdictKind.LANDED]
    assert landed.passed
    assert landed.sentence == "db-failover fault injected at 12:01:00.000 landed: primary pg-1 gone"


def test_a_recovery_held_back_by_latency_names_the_flow_and_its_p95() -> None:
    # Up again at 70 s but slow (400 ms, over the 250 ms target) until 100 s.
    result = run_with(
        lambda t: 61 * S <= t < 70 * S, slow_ms=lambda t: 400 if 70 * S <= t < 100 * S else 20
    )
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    # p95 tolerates floor(5 % of ~52) = 2 slow samples: the third-last slow probe (99.4 s,
    # ending 99.8 s) leaves the window at 109.8 s.
    assert rto.measured == 49.8
    assert (
        "checkout steady again last, at +49.8 s (its 10 s before: 52 of 52 OK = 100.00 % "
        "against 99 %, p95 400 ms against 250 ms)"
    ) in rto.sentence


def test_no_recovery_gives_a_failing_verdict_not_an_exception() -> None:
    result = run_with(lambda t: t >= 61 * S, until_s=180)
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    assert not rto.passed
    assert rto.measured is None
    assert rto.sentence.startswith(
        "db-failover RTO not recovered within 120.0 s of observation from the injection (the "
        "stack heals by itself while the fault stands) (target 30 s; "
        "outage from 12:01:01.000, not steady for 30 s by 12:03:00.000)"
    )
    assert "checkout not steady by the end (its last 10 s: 0 of 50 OK = 0.00 % against 99 %)" in (
        rto.sentence
    )
    assert result.recovery is not None
    assert not result.recovery.recovered


def test_a_quick_recovery_passes_and_the_gating_phases_are_judged() -> None:
    result = run_with(lambda t: 61 * S <= t < 70 * S)
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    assert rto.passed
    assert rto.measured == 20.8
    slo = [v for v in result.verdicts if v.kind is VerdictKind.SLO]
    # Two gating phases x (checkout: availability, p95, p99; stock: availability, p95).
    assert len(slo) == 10
    assert all(v.passed for v in slo)
    assert slo[0].sentence == (
        "db-failover checkout availability 100.00 % meets target 99 % in baseline "
        "(12:00:00.000-12:01:00.000, 300 samples, error-budget burn 0.00)"
    )
    assert slo[1].sentence.startswith("db-failover checkout p95 latency 20 ms within target 250 ms")
    assert {p.phase for p in result.slo} == {Phase.BASELINE, Phase.FAULT, Phase.AFTER}
    assert result.passed


def test_critical_flows_are_held_to_the_degraded_p95_while_the_fault_stands() -> None:
    def slow_during_fault(t: int) -> int:
        return 1_500 if 60 * S <= t < 150 * S else 20

    within = run_with(lambda t: False, degraded_p95_ms=2_000, slow_ms=slow_during_fault)
    over = run_with(lambda t: False, degraded_p95_ms=1_000, slow_ms=slow_during_fault)
    unjudged = run_with(lambda t: False, slow_ms=slow_during_fault)

    (ok,) = [v for v in within.verdicts if "degraded" in v.sentence]
    assert ok.passed
    assert ok.measured == 1_500
    (bad,) = [v for v in over.verdicts if "degraded" in v.sentence]  # checkout only: critical
    assert not bad.passed
    assert not over.passed
    # 443 of 450: the last 1.5 s of samples straddle the phase end and are in no phase.
    assert bad.sentence == (
        "db-failover checkout p95 latency 1,500 ms exceeds the degraded target 1,000 ms while "
        "the fault stood (12:01:00.000-12:02:30.000, 443 OK samples)"
    )
    assert not [v for v in unjudged.verdicts if "degraded" in v.sentence]


def test_an_outage_after_the_stack_was_steady_again_is_said_as_later() -> None:
    result = run_with(lambda t: 100 * S <= t < 103 * S)
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    assert rto.sentence.startswith(
        "db-failover RTO 0.0 s from the injection (the stack heals by itself while the fault "
        "stands) within target 30 s (no outage until then; a later outage "
        "from 12:01:40.000, steady again at 12:01:00.000)"
    ), rto.sentence


def test_lost_writes_fail_rpo_and_name_the_keys() -> None:
    ledger = (
        WriteRecord("so-1", "sale", 50 * S, 50_100 * MS, WriteOutcome.OK),
        WriteRecord("so-2", "sale", 57 * S, 57_600 * MS, WriteOutcome.OK),
        WriteRecord("so-3", "sale", 59 * S, 60_500 * MS, WriteOutcome.UNKNOWN),
        WriteRecord("so-4", "sale", 59 * S, 60_200 * MS, WriteOutcome.FAIL),
    )
    result = run_with(
        lambda t: 61 * S <= t < 70 * S,
        ledger=ledger,
        read_back=ReadBack({"so-1": 1, "so-4": 1}),
    )
    (rpo,) = [v for v in result.verdicts if v.kind is VerdictKind.RPO]
    assert not rpo.passed
    assert rpo.measured == 2.4
    assert rpo.sample_refs == (SampleRange(LEDGER_SERIES, 1, 2),)
    assert rpo.sentence == (
        "db-failover RPO 2.4 s misses target 0 s and 0 lost writes: 1 of 2 acknowledged "
        "writes lost (so-2); 1 unknown writes resolved by read-back (0 present, 1 absent)"
    )
    (integrity,) = [v for v in result.verdicts if v.kind is VerdictKind.INVARIANT]
    assert not integrity.passed
    assert integrity.sentence == (
        "db-failover write-ledger integrity violated: 1 writes reported failed but present (so-4)"
    )
    assert integrity.sample_refs == (SampleRange(LEDGER_SERIES, 3, 4),)


def test_a_ledger_without_read_back_cannot_pass() -> None:
    ledger = (WriteRecord("so-1", "sale", 50 * S, 50_100 * MS, WriteOutcome.OK),)
    result = run_with(lambda t: False, ledger=ledger)
    (rpo,) = [v for v in result.verdicts if v.kind is VerdictKind.RPO]
    assert not rpo.passed
    assert "nothing was read back" in rpo.sentence


def test_abort_and_a_fault_that_did_not_land_fail_the_run() -> None:
    extra = (
        TimelineEvent(EventKind.FAULT_DID_NOT_LAND, 62 * S, "added latency 0 ms, expected 500"),
        TimelineEvent(EventKind.ABORT, 100 * S, "Ctrl-C"),
    )
    result = run_with(lambda t: False, extra=extra)
    kinds = {v.kind: v for v in result.failed}
    assert kinds[VerdictKind.ABORT].sentence == "db-failover aborted at 12:01:40.000: Ctrl-C"
    assert kinds[VerdictKind.LANDED].sentence == (
        "db-failover fault injected at 12:01:00.000 did not land: added latency 0 ms, expected 500"
    )


def test_numbers_are_formatted_for_people() -> None:
    assert plain(30.0) == "30"
    assert plain(99.9) == "99.9"
    assert plain(1500.0) == "1,500"
    assert figure(34.2499, 30.0) == "34.2"
    assert figure(30.04, 30.0) == "30.04"
    assert figure(1234.5, None) == "1,234.5"


def test_recovery_before_the_revert_is_said_as_such() -> None:
    revert = (TimelineEvent(EventKind.FAULT_REVERTED, 90 * S, "node-a back"),)
    result = run_with(lambda t: 61 * S <= t < 70 * S, extra=revert)
    rto, after_revert = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    assert "steady 9.2 s before revert" in rto.sentence
    assert after_revert.passed
    assert after_revert.measured == 0.0
    assert after_revert.sentence.startswith(
        "db-failover recovery after the revert 0.0 s from the revert at 12:01:30.000"
    ), after_revert.sentence
    assert result.recovery is not None
    assert result.recovery.rec_after_revert_ns == -9_200_000_000


def test_a_held_fault_is_judged_from_its_revert_and_the_hold_is_named() -> None:
    # The harness holds the fault from 60 s to 80 s; the stack is down 61-82 s.
    revert = (TimelineEvent(EventKind.FAULT_REVERTED, 80 * S, "latency lifted"),)
    result = run_with(lambda t: 61 * S <= t < 82 * S, extra=revert, rto_clock=RtoClock.REVERT)
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    # Last failure starts 81.8 s, ends 82.8 s, leaves the window at 92.8 s: 12.8 s after
    # the revert, 32.8 s after the injection (which would miss the 30 s target).
    assert rto.passed
    assert rto.measured == 12.8
    assert rto.window[0] == 80 * S
    assert rto.sentence.startswith(
        "db-failover RTO 12.8 s from the revert (the harness held the fault 20.0 s, from "
        "12:01:00.000; the hold is no part of the stack's RTO) within target 30 s"
    ), rto.sentence
    assert "first steady again 32.8 s after the injection" in rto.sentence


def test_an_outage_the_revert_causes_fails_the_recovery_after_the_revert() -> None:
    # A crash healed by 70 s (steady from 80.8 s); restoring the node at 115 s breaks the
    # stack for 40 s.
    revert = (TimelineEvent(EventKind.FAULT_REVERTED, 115 * S, "node-a started again"),)
    result = run_with(
        lambda t: 61 * S <= t < 70 * S or 116 * S <= t < 156 * S, extra=revert, until_s=260
    )
    rto, after_revert = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    assert rto.passed, rto.sentence
    assert rto.measured == 20.8
    assert not after_revert.passed
    assert after_revert.measured == 51.8
    assert after_revert.sentence.startswith(
        "db-failover recovery after the revert 51.8 s from the revert at 12:01:55.000 "
        "(restoring what the fault took must not break the steady state either) exceeds "
        "target 30 s (outage from 12:01:56.000"
    ), after_revert.sentence
    assert "total outage 40.0 s" in after_revert.sentence
    assert not result.passed


def test_a_durable_flow_loses_no_write_whatever_the_family_rpo_allows() -> None:
    ledger = (
        WriteRecord("so-1", "sale", 50 * S, 50_100 * MS, WriteOutcome.OK),
        WriteRecord("so-2", "sale", 59 * S, 59_900 * MS, WriteOutcome.OK),
        WriteRecord("imp-1", "import", 59 * S, 59_900 * MS, WriteOutcome.OK),
    )
    result = run_with(
        lambda t: 61 * S <= t < 70 * S,
        ledger=ledger,
        read_back=ReadBack({"so-1": 1}),
        durable_flows=frozenset({"sale"}),
        rpo_writes=20,
    )
    rpo, durable = [v for v in result.verdicts if v.kind is VerdictKind.RPO]
    assert rpo.passed, rpo.sentence  # 2 lost within 20 allowed, 0.1 s within 5 s
    assert not durable.passed
    assert durable.measured == 1.0
    assert durable.sample_refs == (SampleRange(LEDGER_SERIES, 1, 2),)
    assert durable.sentence == (
        "db-failover durable writes (sale): 1 of 2 acknowledged writes lost (so-2); "
        "durable_writes: true allows none, whatever the family's RPO says"
    )


def test_durable_writes_all_present_pass_with_their_count() -> None:
    ledger = (WriteRecord("so-1", "sale", 50 * S, 50_100 * MS, WriteOutcome.OK),)
    result = run_with(
        lambda t: 61 * S <= t < 70 * S,
        ledger=ledger,
        read_back=ReadBack({"so-1": 1}),
        durable_flows=frozenset({"sale"}),
    )
    (durable,) = [v for v in result.verdicts if v.sentence.startswith("db-failover durable")]
    assert durable.passed
    assert durable.sentence.endswith(
        "0 of 1 acknowledged writes lost, as durable_writes: true requires"
    )


def test_the_recovery_phase_is_held_to_the_degraded_p95() -> None:
    events = (
        TimelineEvent(EventKind.FAULT_REVERTED, 100 * S, "rolled back"),
        TimelineEvent(EventKind.PHASE_START, 100 * S, "recovery", Phase.RECOVERY),
    )
    result = run_with(
        lambda t: False,
        extra=events,
        degraded_p95_ms=1000.0,
        slow_ms=lambda t: 1500 if 100 * S <= t < 150 * S else 20,
    )
    recovering = [v for v in result.verdicts if "while recovering" in v.sentence]
    assert [v.passed for v in recovering] == [False]
    assert recovering[0].sentence.startswith(
        "db-failover checkout p95 latency 1,500 ms exceeds the degraded target 1,000 ms "
        "while recovering (12:01:40.000-12:02:30.000"
    ), recovering[0].sentence


def load_requests(until_s: int, working: Callable[[int], bool], every_ms: int = 50) -> FlowSamples:
    """A load answering OK every ``every_ms`` while ``working``, nothing otherwise."""
    series = SampleSeries("all")
    for start in range(0, until_s * S, every_ms * MS):
        if working(start):
            series.add(start, start + 10 * MS, Outcome.OK)
    return series.freeze()


def test_a_load_that_collapses_holds_recovery_back_with_its_sentence() -> None:
    # The probes recover at 70 s, but Locust died at 65 s: the stack is not steady.
    load = LoadFloor(load_requests(200, lambda t: t < 65 * S), target_rps=20)
    result = run_with(lambda t: 61 * S <= t < 70 * S, load=load)
    (rto,) = [v for v in result.verdicts if v.kind is VerdictKind.RTO]
    assert not rto.passed
    assert rto.measured is None
    assert (
        "warehouse load not steady by the end (its last 10 s: 0 OK answers of 0 requests = "
        "0.0 req/s, below its floor 18 req/s = 90 % of its target 20 req/s; the load "
        "generator was starved or its requests failed)"
    ) in rto.sentence
    # The same run with the load working throughout recovers with the probes.
    working = LoadFloor(load_requests(200, lambda t: True), target_rps=20)
    (rto,) = [
        v
        for v in run_with(lambda t: 61 * S <= t < 70 * S, load=working).verdicts
        if v.kind is VerdictKind.RTO
    ]
    assert rto.passed
    assert rto.measured == 20.8  # as without the load (test above)


def test_a_load_back_at_pace_late_is_what_recovery_waited_for() -> None:
    # Probes steady again at +20.8 s; the load only answers again from 100 s on, at
    # 20 req/s: its window holds the 180 answers its 18 req/s floor needs with the
    # answer ending 100.01 + 179 x 0.05 = 108.96 s.
    load = LoadFloor(load_requests(200, lambda t: not 61 * S <= t < 100 * S), target_rps=20)
    (rto,) = [
        v
        for v in run_with(lambda t: 61 * S <= t < 70 * S, load=load).verdicts
        if v.kind is VerdictKind.RTO
    ]
    assert rto.measured == 48.96
    assert (
        "warehouse load steady again last, at +49.0 s (its 10 s before: 179 OK answers of 179 "
        "requests = 17.9 req/s, below its floor 18 req/s"
    ) in rto.sentence


def test_rpo_counts_probe_and_load_writes_apart() -> None:
    ledger = (
        WriteRecord("probe-1", "sale", 50 * S, 50_100 * MS, WriteOutcome.OK),
        WriteRecord("so-1", "order_import", 51 * S, 51_100 * MS, WriteOutcome.OK, WriteOrigin.LOAD),
        WriteRecord("so-2", "order_import", 52 * S, 52_100 * MS, WriteOutcome.OK, WriteOrigin.LOAD),
        WriteRecord(
            "so-3", "order_import", 53 * S, 53_100 * MS, WriteOutcome.FAIL, WriteOrigin.LOAD
        ),
    )
    result = run_with(
        lambda t: 61 * S <= t < 70 * S,
        ledger=ledger,
        read_back=ReadBack({"probe-1": 1, "so-1": 1}),
    )
    (rpo,) = [v for v in result.verdicts if v.kind is VerdictKind.RPO]
    assert not rpo.passed
    assert rpo.sentence == (
        "db-failover RPO 7.9 s misses target 0 s and 0 lost writes: 1 of 1 probe and 2 load "
        "acknowledged writes lost (so-2)"
    )
