"""Steady state: when a flow, and the system, meet their targets over a sliding window.

Conventions (the contract every RTO rests on):

- The window at instant ``t`` holds the samples with ``t - W < t_end_ns <= t``. A sample
  therefore counts during exactly ``[t_end, t_end + W)``, so the steady state is
  piecewise constant on half-open intervals whose edges are sample ends and sample
  ends plus W. Steady intervals are reported as ``[start, end)`` to the nanosecond.
- A flow is steady at ``t`` iff its window is not empty, the share of OK samples is
  at least the availability target (compared exactly, as fractions), and the p95
  latency of the OK samples in the window is at most the p95 target.
- Latency counts OK samples only: a failure is already charged to availability, and
  counting it again would let fast errors pull p95 down or timeouts double-count.
  With no OK sample in a non-empty window the latency condition holds vacuously,
  which only matters for an availability target of 0 %.
- Percentiles are nearest-rank: p = the ceil(p/100 * m)-th smallest of m values. So
  "p95 <= T" is the same as "at most m - ceil(0.95 m) = floor(0.05 m) values exceed T",
  which a sliding window keeps with counters: O(n) per flow, no sorting.
- The system is steady when every critical flow is and, when the scenario runs the
  warehouse load, the load keeps its pace (``LoadFloor``): at least ``min_share`` of its
  target rate, counted as OK answers whose end falls in the window. A stack that
  answers the probes while the load generator starves (killed, frozen, its requests
  hanging) is not in its steady state. The load is never a flow with targets of its
  own: its availability and latency are reported, the probes are what is judged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from typing import NamedTuple

from harness.core.samples import FlowSamples, MeasurementError, Outcome
from harness.core.targets import FlowTarget


class Interval(NamedTuple):
    """The half-open interval ``[start_ns, end_ns)``."""

    start_ns: int
    end_ns: int


def nearest_rank(sorted_values: Sequence[int], pct: int) -> int | None:
    """The nearest-rank ``pct``-th percentile of ascending values; None when empty."""
    count = len(sorted_values)
    if count == 0:
        return None
    return sorted_values[(pct * count + 99) // 100 - 1]


def slow_allowance(count: int, pct: int = 95) -> int:
    """How many of ``count`` values may exceed T while the ``pct`` percentile stays <= T."""
    return count - (pct * count + 99) // 100


def _check_window(window_ns: int) -> None:
    if window_ns <= 0:
        raise MeasurementError(
            f"steady state: expected a window > 0 ns, saw {window_ns}; set window_s > 0"
        )


def _window_intervals(
    end_at: Sequence[int], window_ns: int, until_ns: int, holds: Callable[[int, int], bool]
) -> list[Interval]:
    """The sliding-window sweep both steady states share (module docstring).

    ``end_at`` is ascending; at each edge the window holds samples ``[leave, enter)`` of
    it and ``holds(enter, leave)`` says whether that window is steady.
    """
    total = len(end_at)
    result: list[Interval] = []
    enter = leave = 0
    steady = False
    since = 0
    while leave < total:
        leave_at = end_at[leave] + window_ns
        at = end_at[enter] if enter < total and end_at[enter] < leave_at else leave_at
        if at >= until_ns:
            break
        while leave < total and end_at[leave] + window_ns == at:
            leave += 1
        while enter < total and end_at[enter] == at:
            enter += 1
        now = holds(enter, leave)
        if now != steady:
            if now:
                since = at
            else:
                result.append(Interval(since, at))
            steady = now
    if steady:
        result.append(Interval(since, until_ns))
    return result


def steady_intervals(
    samples: FlowSamples, target: FlowTarget, window_ns: int, until_ns: int
) -> list[Interval]:
    """Maximal intervals, clipped to ``until_ns``, during which the flow is steady."""
    _check_window(window_ns)
    order = samples.end_order()
    starts, ends, outcomes = samples.starts, samples.ends, samples.outcomes
    ok_code = Outcome.OK.value
    limit = target.p95_ns
    end_at = [ends[i] for i in order]
    is_ok = [outcomes[i] == ok_code for i in order]
    is_slow = [is_ok[k] and ends[i] - starts[i] > limit for k, i in enumerate(order)]
    # Prefix counts: the window [leave, enter) holds ok[enter] - ok[leave] OK samples.
    oks = [0, *accumulate(is_ok)]
    slows = [0, *accumulate(is_slow)]
    availability = target.availability
    need_num, need_den = availability.numerator, availability.denominator

    def holds(enter: int, leave: int) -> bool:
        count = enter - leave
        ok = oks[enter] - oks[leave]
        slow = slows[enter] - slows[leave]
        return count > 0 and ok * need_den >= need_num * count and slow <= slow_allowance(ok)

    return _window_intervals(end_at, window_ns, until_ns, holds)


@dataclass(frozen=True, slots=True)
class WindowState:
    """One flow's window at an instant: how many samples, how many OK, their p95."""

    count: int
    ok: int
    p95_ns: int | None


def window_state(samples: FlowSamples | None, window_ns: int, at_ns: int) -> WindowState:
    """The samples with ``at_ns - window_ns < end <= at_ns``, summarised (none: empty)."""
    if samples is None:
        return WindowState(0, 0, None)
    latencies = sorted(
        end - start
        for start, end, outcome in zip(samples.starts, samples.ends, samples.outcomes, strict=True)
        if at_ns - window_ns < end <= at_ns and outcome == Outcome.OK.value
    )
    count = sum(1 for end in samples.ends if at_ns - window_ns < end <= at_ns)
    return WindowState(count, len(latencies), nearest_rank(latencies, 95))


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    """Intersection of two ascending lists of disjoint half-open intervals."""
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start_ns, right[j].start_ns)
        end = min(left[i].end_ns, right[j].end_ns)
        if start < end:
            result.append(Interval(start, end))
        if left[i].end_ns <= right[j].end_ns:
            i += 1
        else:
            j += 1
    return result


LOAD_FLOW = "warehouse load"
"""The name the load's part of the steady state goes by (never a flow of the levels)."""


@dataclass(frozen=True)
class LoadFloor:
    """The warehouse load's part of the steady state (module docstring)."""

    samples: FlowSamples
    """Every request the load made, all its flows together."""
    target_rps: float
    min_share: Fraction = Fraction(9, 10)

    @property
    def floor_rps(self) -> float:
        return float(self.min_share * Fraction(str(self.target_rps)))

    def needed(self, window_ns: int) -> int:
        """OK answers a window of ``window_ns`` must hold (at least one)."""
        exact = self.min_share * Fraction(str(self.target_rps)) * Fraction(window_ns, 10**9)
        return max(1, -(-exact.numerator // exact.denominator))


def load_steady_intervals(load: LoadFloor, window_ns: int, until_ns: int) -> list[Interval]:
    """Maximal intervals, clipped to ``until_ns``, during which the load keeps its pace.

    Same window convention as the flows: an OK answer counts during ``[end, end + W)``.
    """
    _check_window(window_ns)
    samples = load.samples
    ok_code = Outcome.OK.value
    ends = sorted(e for e, o in zip(samples.ends, samples.outcomes, strict=True) if o == ok_code)
    need = load.needed(window_ns)
    return _window_intervals(ends, window_ns, until_ns, lambda enter, leave: enter - leave >= need)


def critical_steady_intervals(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    window_ns: int,
    until_ns: int,
    load: LoadFloor | None = None,
) -> dict[str, list[Interval]]:
    """Each critical flow's own steady intervals, and the load's under ``LOAD_FLOW``.

    A flow with no samples is never steady. The load comes first: when it is starved as
    well as a flow, the starved generator is what explains the rest."""
    result: dict[str, list[Interval]] = {}
    if load is not None:
        result[LOAD_FLOW] = load_steady_intervals(load, window_ns, until_ns)
    for target in targets:
        if target.critical:
            samples = flows.get(target.name)
            result[target.name] = (
                [] if samples is None else steady_intervals(samples, target, window_ns, until_ns)
            )
    return result


def intersect_all(per_flow: Mapping[str, Sequence[Interval]]) -> list[Interval]:
    """When every flow of ``per_flow`` is steady; nothing when it is empty."""
    result: list[Interval] | None = None
    for own in per_flow.values():
        result = list(own) if result is None else intersect(result, own)
    return result if result is not None else []


def system_steady_intervals(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    window_ns: int,
    until_ns: int,
    load: LoadFloor | None = None,
) -> list[Interval]:
    """When every critical flow is steady (and the load keeps its pace, when given).

    A critical flow with no samples is never steady."""
    return intersect_all(critical_steady_intervals(flows, targets, window_ns, until_ns, load))
