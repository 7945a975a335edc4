"""Recovery: t_rec, RTO decomposition and outage time, on hand-built timelines."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.recovery import (
    analyse_recovery,
    first_stable_instant,
    outages,
    union_length,
)
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.steady import Interval
from harness.core.targets import FlowTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Timeline, TimelineEvent

MS = 1_000_000
S = 1_000 * MS


def probe(
    flow: str,
    until_ms: int,
    down: Callable[[int], bool],
    *,
    every_ms: int = 200,
    latency_ms: int = 20,
    first_ms: int = 0,
) -> FlowSamples:
    """A probe every ``every_ms``; it fails (and times out at 1 s) while ``down(start)``."""
    series = SampleSeries(flow)
    for start in range(first_ms * MS, until_ms * MS, every_ms * MS):
        if down(start):
            series.add(start, start + S, Outcome.TIMEOUT, "timeout")
        else:
            series.add(start, start + latency_ms * MS, Outcome.OK)
    return series.freeze()


def timeline(*events: tuple[EventKind, int]) -> Timeline:
    return Timeline(0, 0, tuple(TimelineEvent(kind, t) for kind, t in events))


TARGET = FlowTarget("checkout", True, 99.0, 250.0)
SPEC = SteadyStateSpec(window_s=10.0, stability_s=30.0)


@settings(max_examples=300, deadline=None)
@given(
    length_ms=st.integers(1, 60_000),
    every_ms=st.integers(10, 2_000),
    phase_ns=st.integers(0, 2_000 * MS),
    onset_ms=st.integers(5_000, 20_000),
    decided_after_ns=st.integers(0, 50 * MS),
)
def test_an_outage_of_length_l_probed_every_i_measures_within_i_of_l(
    length_ms: int, every_ms: int, phase_ns: int, onset_ms: int, decided_after_ns: int
) -> None:
    every = every_ms * MS
    down_from, down_to = onset_ms * MS, (onset_ms + length_ms) * MS
    series = SampleSeries("f")
    start = phase_ns % every
    while start < down_to + 3 * every + 5 * S:
        seen_at = start + decided_after_ns
        failed = down_from <= seen_at < down_to
        series.add(start, start + 60 * MS, Outcome.ERROR if failed else Outcome.OK)
        start += every
    measured = sum(o.duration_ns for o in outages(series.freeze(), start))
    assert abs(measured - length_ms * MS) < every


def test_an_outage_open_at_the_end_of_observation_ends_there() -> None:
    samples = probe("f", 2_000, lambda t: t >= 1_000 * MS)
    (only,) = outages(samples, 5_000 * MS)
    assert (only.start_ns, only.end_ns, only.closed) == (1_000 * MS, 5_000 * MS, False)
    assert only.stop_index == len(samples)


def test_union_length_counts_overlap_once() -> None:
    assert union_length([Interval(0, 10), Interval(5, 20), Interval(30, 40)]) == 30


def test_recovery_counts_only_after_the_stability_period_holds() -> None:
    steady = [Interval(100, 129), Interval(150, 400)]
    assert first_stable_instant(steady, 50, 30, 1000) == 150
    assert first_stable_instant(steady, 50, 29, 1000) == 100
    assert first_stable_instant(steady, 160, 30, 1000) == 160
    assert first_stable_instant(steady, 50, 30, 179) is None
    assert first_stable_instant(steady, 50, 30, 180) == 150


def test_flapping_takes_the_last_unstable_instant() -> None:
    # Down 10.0-20.0 s, up, down again 35.0-36.0 s (a flap inside the stability period).
    def down(t: int) -> bool:
        return 10 * S <= t < 20 * S or 35 * S <= t < 36 * S

    samples = probe("checkout", 200_000, down)
    events = timeline((EventKind.FAULT_INJECTED, 10 * S))
    report = analyse_recovery({"checkout": samples}, [TARGET], SPEC, events, 200 * S)
    assert report is not None
    # The last failed sample starts at 35.8 s and ends (times out) at 36.8 s; it leaves
    # the 10 s window at 46.8 s, and from then on the window holds only OK samples.
    assert report.t_rec_ns == 46_800 * MS
    assert report.rto_ns == 36_800 * MS
    assert report.outage_ns == 11 * S


def test_millisecond_exact_rto_and_decomposition() -> None:
    def down(t: int) -> bool:
        return 10 * S <= t < 22 * S

    flows = {
        "checkout": probe("checkout", 120_000, down),
        "stock": probe("stock", 120_000, down, first_ms=100),
        "report": probe("report", 120_000, lambda t: True),
    }
    targets = [TARGET, FlowTarget("stock", True, 99.0, 250.0), FlowTarget("report", False, 99, 1)]
    events = timeline(
        (EventKind.FAULT_INJECTED, 9_950 * MS),
        (EventKind.DB_TIMELINE_SWITCH, 15_000 * MS),
        (EventKind.FAULT_REVERTED, 30_000 * MS),
    )
    report = analyse_recovery(flows, targets, SPEC, events, 120 * S)
    assert report is not None
    # Last failure: stock probe started at 21.9 s, timed out at 22.9 s; out of the window
    # at 32.9 s. Checkout's last failure (21.8 s start) left at 32.8 s.
    assert report.t_rec_ns == 32_900 * MS
    assert report.rto_ns == 22_950 * MS
    assert report.time_to_detect_ns == 1_050 * MS  # checkout's 10.0 s probe times out at 11.0 s
    assert report.detected_by is not None
    assert report.detected_by.flow == "checkout"
    assert report.t_failover_ns == 15_000 * MS
    # First OK after detection: checkout at 22.0 s (ends 22.02), stock at 22.1 s (22.12).
    assert report.t_app_reconnect_ns == 22_120 * MS
    assert report.rec_after_revert_ns == 2_900 * MS
    # Union of [10.0, 22.0) and [10.1, 22.1): the non-critical flow does not count.
    assert report.outage_ns == 12_100 * MS
    # Stock turned steady last; just before, its window still held that one timeout.
    assert report.holdout is not None
    assert (report.holdout.flow, report.holdout.steady_from_ns) == ("stock", 32_900 * MS)
    assert report.holdout.window.count - report.holdout.window.ok == 1


def test_no_recovery_before_the_end_of_observation_is_a_result_not_an_error() -> None:
    samples = probe("checkout", 120_000, lambda t: t >= 10 * S)
    events = timeline((EventKind.FAULT_INJECTED, 10 * S))
    report = analyse_recovery({"checkout": samples}, [TARGET], SPEC, events, 120 * S)
    assert report is not None
    assert not report.recovered
    assert report.rto_ns is None
    assert report.t_app_reconnect_ns is None
    assert report.observed_ns == 110 * S


def test_recovery_needs_a_fault() -> None:
    samples = probe("checkout", 60_000, lambda t: False)
    assert analyse_recovery({"checkout": samples}, [TARGET], SPEC, timeline(), 60 * S) is None


def test_a_fault_that_never_disturbed_the_steady_state_recovers_at_injection() -> None:
    samples = probe("checkout", 120_000, lambda t: False)
    events = timeline((EventKind.FAULT_INJECTED, 40 * S))
    report = analyse_recovery({"checkout": samples}, [TARGET], SPEC, events, 120 * S)
    assert report is not None
    assert report.rto_ns == 0
    assert report.t_detect_ns is None
    assert report.outage_ns == 0
