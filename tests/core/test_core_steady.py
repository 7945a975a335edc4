"""Steady state: the p95 counting trick and the sliding window, exact to the nanosecond."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.samples import FlowSamples, Outcome, ProbeSample
from harness.core.steady import (
    Interval,
    intersect,
    nearest_rank,
    slow_allowance,
    steady_intervals,
    system_steady_intervals,
)
from harness.core.targets import FlowTarget

MS = 1_000_000


def sort_based_p95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=300), st.integers(0, 1000))
def test_p95_within_target_iff_at_most_floor_5pct_slower(values: list[int], limit: int) -> None:
    slower = sum(1 for v in values if v > limit)
    assert (sort_based_p95(values) <= limit) == (slower <= slow_allowance(len(values)))
    assert nearest_rank(sorted(values), 95) == sort_based_p95(values)
    assert slow_allowance(len(values)) == math.floor(len(values) * 5 / 100)


def test_nearest_rank_of_nothing_is_none() -> None:
    assert nearest_rank([], 95) is None


def brute_steady(samples: list[ProbeSample], target: FlowTarget, window: int, t: int) -> bool:
    inside = [s for s in samples if t - window < s.t_end_ns <= t]
    if not inside:
        return False
    ok = [s.latency_ns for s in inside if s.outcome is Outcome.OK]
    if len(ok) * 100 < target.availability_pct * len(inside):
        return False
    return not ok or sort_based_p95(ok) <= target.p95_ns


sample_st = st.builds(
    lambda start, latency, outcome: (start, latency, outcome),
    st.integers(0, 200),
    st.integers(0, 30),
    st.sampled_from([Outcome.OK, Outcome.OK, Outcome.OK, Outcome.ERROR, Outcome.TIMEOUT]),
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(sample_st, max_size=40),
    st.integers(1, 60),
    st.sampled_from([50.0, 80.0, 100.0]),
    st.integers(1, 30),
)
def test_steady_intervals_equal_brute_force_at_every_edge(
    raw: list[tuple[int, int, Outcome]], window: int, availability: float, p95: int
) -> None:
    samples = [ProbeSample("f", s, s + lat, o) for s, lat, o in raw]
    target = FlowTarget("f", True, availability, p95 / MS)
    until = 300
    intervals = steady_intervals(FlowSamples.of("f", samples), target, window, until)
    edges = {s.t_end_ns for s in samples} | {s.t_end_ns + window for s in samples}
    for t in sorted({e + d for e in edges for d in (-1, 0, 1)} | {0, until - 1}):
        if 0 <= t < until:
            inside = any(i.start_ns <= t < i.end_ns for i in intervals)
            assert inside == brute_steady(samples, target, window, t), t
    for left, right in itertools.pairwise(intervals):
        assert left.end_ns < right.start_ns


def test_window_edges_are_exact_to_the_nanosecond() -> None:
    target = FlowTarget("f", True, 100.0, 1.0)
    samples = FlowSamples.of(
        "f",
        [ProbeSample("f", 0, 1000, Outcome.OK), ProbeSample("f", 2000, 2500, Outcome.ERROR)],
    )
    # The OK sample counts during [1000, 11000); the error during [2500, 12500).
    assert steady_intervals(samples, target, 10_000, 50_000) == [Interval(1000, 2500)]


def test_an_empty_window_is_not_steady() -> None:
    target = FlowTarget("f", True, 0.0, 1.0)
    samples = FlowSamples.of("f", [ProbeSample("f", 0, 10, Outcome.ERROR)])
    # Even with a 0 % availability target, steady only while the window holds a sample.
    assert steady_intervals(samples, target, 100, 1000) == [Interval(10, 110)]
    assert steady_intervals(FlowSamples.of("f", []), target, 100, 1000) == []


def test_system_is_steady_only_when_every_critical_flow_is() -> None:
    ok_long = FlowSamples.of("a", [ProbeSample("a", 0, 10, Outcome.OK)])
    ok_late = FlowSamples.of("b", [ProbeSample("b", 40, 50, Outcome.OK)])
    broken = FlowSamples.of("c", [ProbeSample("c", 0, 10, Outcome.ERROR)])
    targets = [
        FlowTarget("a", True, 100.0, 1.0),
        FlowTarget("b", True, 100.0, 1.0),
        FlowTarget("c", False, 100.0, 1.0),
    ]
    flows = {"a": ok_long, "b": ok_late, "c": broken}
    assert system_steady_intervals(flows, targets, 100, 1000) == [Interval(50, 110)]
    missing = [*targets, FlowTarget("d", True, 100.0, 1.0)]
    assert system_steady_intervals(flows, missing, 100, 1000) == []


def test_intersect_keeps_only_common_time() -> None:
    left = [Interval(0, 10), Interval(20, 30)]
    right = [Interval(5, 25)]
    assert intersect(left, right) == [Interval(5, 10), Interval(20, 25)]
