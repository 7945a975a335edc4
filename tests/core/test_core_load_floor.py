"""The warehouse load's part of the steady state: OK answers per second over the window."""

from __future__ import annotations

from fractions import Fraction

from harness.core.samples import Outcome, SampleSeries
from harness.core.steady import (
    LOAD_FLOW,
    Interval,
    LoadFloor,
    critical_steady_intervals,
    load_steady_intervals,
    system_steady_intervals,
)
from harness.core.targets import FlowTarget

MS = 1_000_000
S = 1_000 * MS
W = 10 * S


def answers(*ends_ms: int, outcome: Outcome = Outcome.OK) -> SampleSeries:
    series = SampleSeries("all")
    for end in ends_ms:
        series.add(end * MS - 5 * MS, end * MS, outcome)
    return series


def test_the_floor_needs_its_share_of_the_target_over_the_window() -> None:
    floor = LoadFloor(answers().freeze(), target_rps=10)
    assert floor.needed(W) == 90
    assert floor.floor_rps == 9.0
    assert LoadFloor(answers().freeze(), 2.5, Fraction(1, 2)).needed(W) == 13  # 12.5 rounds up
    assert LoadFloor(answers().freeze(), 0.01).needed(W) == 1


def test_steady_from_the_answer_that_fills_the_window_until_one_too_many_left_it() -> None:
    # 10 answers/s from 0.1 s to 30.0 s: the 90th (9.0 s) fills the window; after the last,
    # the 90th-last (21.1 s) leaves at 31.1 s and 89 remain.
    series = answers(*range(100, 30_001, 100))
    floor = LoadFloor(series.freeze(), target_rps=10)
    assert load_steady_intervals(floor, W, 60 * S) == [Interval(9 * S, 31_100 * MS)]
    # Clipped to the observation.
    assert load_steady_intervals(floor, W, 20 * S) == [Interval(9 * S, 20 * S)]


def test_failed_answers_do_not_count_and_a_gap_splits_the_steady_state() -> None:
    series = answers(*range(100, 20_001, 100))
    for end in range(20_100, 25_001, 100):  # 5 s of fast errors: the load got nothing done
        series.add(end * MS - 5 * MS, end * MS, Outcome.ERROR)
    for end in range(25_100, 60_001, 100):
        series.add(end * MS - 5 * MS, end * MS, Outcome.OK)
    floor = LoadFloor(series.freeze(), target_rps=10)
    # No OK answer after 20.0 s: the 90th-last (11.1 s) leaves at 21.1 s. From 25.1 s on
    # they come back; the window holds 90 again with the one ending at 34.0 s.
    intervals = load_steady_intervals(floor, W, 60 * S)
    assert intervals[0] == Interval(9 * S, 21_100 * MS)
    assert intervals[1].start_ns == 34 * S
    assert intervals[1].end_ns == 60 * S


def test_the_load_joins_the_critical_flows_and_the_system_needs_both() -> None:
    probes = SampleSeries("scan")
    for start in range(0, 40 * S, 200 * MS):
        probes.add(start, start + 20 * MS, Outcome.OK)
    flows = {"scan": probes.freeze()}
    targets = (FlowTarget("scan", True, 99.0, 250.0),)
    floor = LoadFloor(answers(*range(100, 20_001, 100)).freeze(), target_rps=10)
    per_flow = critical_steady_intervals(flows, targets, W, 40 * S, floor)
    assert set(per_flow) == {"scan", LOAD_FLOW}
    assert per_flow[LOAD_FLOW] == [Interval(9 * S, 21_100 * MS)]
    steady = system_steady_intervals(flows, targets, W, 40 * S, floor)
    assert steady == [Interval(9 * S, 21_100 * MS)]
    # Without a load the probes alone decide.
    assert system_steady_intervals(flows, targets, W, 40 * S) == [Interval(20 * MS, 40 * S)]
