"""Recovery after a fault: t_rec, RTO and its decomposition, and outage time.

Definitions (DESIGN.md "Measurement"; steady state as in ``harness.core.steady``):

- ``t_rec`` is the first instant ``t >= t_inject`` such that the system is steady
  throughout ``[t, t + S)`` and ``t + S`` is within the observation. Since steady
  intervals are half-open ``[start, end)``, ``t_rec`` is the start of the first steady
  interval (clipped to t_inject) long enough: the first instant after the last unstable
  instant that precedes it. A steady spell shorter than S (flapping) does not count.
  If steady state already holds for S from t_inject on, t_rec = t_inject (RTO 0): the
  fault did not disturb the steady state; whether it landed is a separate verdict.
  No such instant before the end of observation means "not recovered", not an error.
- RTO = t_rec - t_inject. A second recovery is measured from the revert:
  ``t_rec_revert`` is the first instant ``t >= t_revert`` steady throughout
  ``[t, t + S)``, so an outage the revert itself causes (a rejoining leader, a
  rollback, a restarted node) delays it like any other. For a fault the harness holds
  (latency, a partition) the target is judged on ``t_rec_revert - t_revert``; for one
  the stack heals by itself (a crash), on ``t_rec - t_inject``, and the revert's own
  recovery is judged too (``harness.core.verdict``). ``revert_outage_ns`` is the
  union of the critical flows' outages after t_revert. ``t_detect`` is the end of
  the first failed sample of a critical flow ending at or after t_inject (when the
  failure was seen).
  ``t_failover`` is the first DB timeline switch at or after t_inject.
  ``t_app_reconnect`` is when every critical flow that failed after t_inject succeeded
  again: for each, the end of its first OK sample started at or after the end of its
  detecting failure; the latest of those. ``t_rec - t_revert`` is signed: negative
  when the system recovered before the harness reverted the fault.
- Outage, per flow, from consecutive samples in start order: it opens at the start of
  a failed sample that follows a success (or opens the series) and closes at the start
  of the next OK sample (at its ``answered`` instant when its first request was held
  up by what it recovered from: ``harness.core.samples``), or earlier at the late answer
  of a stalled sample whose run succeeded in the end (``harness.core.stalls``). Starts
  are used at both ends so that the probe's own latency cancels: if the service is
  down for exactly L and probed every I (outcome decided a fixed delay after the
  start), the first failed
  start lies in [a, a + I) and the first OK start after it in [a + L, a + L + I), so
  the measure is within I of L. An outage still open at the end of observation ends
  there and is marked unrecovered.
  Total outage time of the run is the length of the union of the critical flows'
  outages after t_inject (time during which some critical flow had no success).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.core.samples import FlowSamples, Outcome
from harness.core.steady import (
    LOAD_FLOW,
    Interval,
    LoadFloor,
    WindowState,
    critical_steady_intervals,
    intersect_all,
    window_state,
)
from harness.core.targets import FlowTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Timeline

_FAILED_RUN = re.compile(rb"[^\x00]+")
_OK_BYTE = bytes([Outcome.OK.value])
_STALL = Outcome.STALL.value


@dataclass(frozen=True, slots=True)
class Outage:
    """Flow ``flow`` had no success during ``[start_ns, end_ns)``.

    ``first_index`` is the first failed sample; ``stop_index`` the sample that closed
    it: the OK sample, or the stalled one whose late answer showed the flow answering
    again (``len(samples)`` when it was still open at the end of observation).
    """

    flow: str
    start_ns: int
    end_ns: int
    first_index: int
    stop_index: int
    closed: bool

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def outages(samples: FlowSamples, until_ns: int) -> list[Outage]:
    """The outages of one flow, in order.

    Within a run of failed samples, a stalled one that was answered in the end
    (``harness.core.stalls``) shows the flow answering again from its answer: the
    outage closes there (or at the next OK sample's, whichever is first), and a failed
    sample started after that answer opens the next outage.
    """
    starts, answered = samples.starts, samples.answered
    flags = samples.outcomes.tobytes()
    result: list[Outage] = []
    for run in _FAILED_RUN.finditer(flags):
        first, stop = run.start(), run.end()
        back: int | None = None  # the earliest late answer of a stalled sample so far
        back_by = first
        for index in range(first, stop):
            if back is not None and starts[index] >= back:
                result.append(Outage(samples.flow, starts[first], back, first, back_by, True))
                first, back = index, None
            if (
                flags[index] == _STALL
                and answered[index] > starts[index]
                and (back is None or answered[index] < back)
            ):
                back, back_by = answered[index], index
        if stop < len(starts):
            end = samples.answered[stop] if back is None else min(back, answered[stop])
            by = stop if back is None or answered[stop] < back else back_by
            result.append(Outage(samples.flow, starts[first], end, first, by, True))
        elif back is not None:
            result.append(Outage(samples.flow, starts[first], back, first, back_by, True))
        else:
            end = max(until_ns, starts[first])
            result.append(Outage(samples.flow, starts[first], end, first, stop, False))
    return result


def union_length(intervals: Sequence[Interval]) -> int:
    total = 0
    reach: int | None = None
    for start, end in sorted(intervals):
        if reach is None or start >= reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def first_stable_instant(
    steady: Sequence[Interval], t_from_ns: int, stability_ns: int, until_ns: int
) -> int | None:
    """First ``t >= t_from_ns`` steady throughout ``[t, t + stability_ns)``, within until."""
    for start_ns, end_ns in steady:
        if end_ns <= t_from_ns:
            continue
        start = max(start_ns, t_from_ns)
        if start + stability_ns <= min(end_ns, until_ns):
            return start
    return None


@dataclass(frozen=True, slots=True)
class SampleRef:
    """Sample ``index`` of flow ``flow``."""

    flow: str
    index: int


@dataclass(frozen=True, slots=True)
class Holdout:
    """The critical flow that kept the system from steady state longest after the fault.

    ``steady_from_ns`` is when its own steady state came back (None: not by the end of
    observation); ``window`` is its window just before then (or at the end), which says
    whether availability or latency held it back.
    """

    flow: str
    steady_from_ns: int | None
    window: WindowState


def _holdout(
    per_flow: Mapping[str, Sequence[Interval]],
    flows: Mapping[str, FlowSamples],
    window_ns: int,
    ref_ns: int,
) -> Holdout | None:
    """The critical flow steady last at ``ref_ns``, or one not steady there at all."""
    best: tuple[int, str] | None = None
    for name, own in per_flow.items():
        start = next((i.start_ns for i in own if i.start_ns <= ref_ns < i.end_ns), None)
        if start is None:
            return Holdout(name, None, window_state(flows.get(name), window_ns, ref_ns))
        if best is None or start > best[0]:
            best = (start, name)
    if best is None:
        return None
    start, name = best
    return Holdout(name, start, window_state(flows.get(name), window_ns, start - 1))


@dataclass(frozen=True)
class RecoveryReport:
    """Everything measured about one fault's recovery, on the monotonic clock."""

    t_inject_ns: int
    until_ns: int
    stability_ns: int
    window_ns: int
    t_rec_ns: int | None
    t_detect_ns: int | None
    detected_by: SampleRef | None
    t_failover_ns: int | None
    t_app_reconnect_ns: int | None
    reconnected_by: tuple[SampleRef, ...]
    t_revert_ns: int | None
    outage_ns: int
    outages: tuple[Outage, ...]
    critical_flows: tuple[str, ...]
    holdout: Holdout | None = None
    t_rec_revert_ns: int | None = None
    """First instant at or after the revert steady for the stability period (None:
    not reverted, or not steady again by the end of observation)."""
    revert_outage_ns: int = 0
    """Time after the revert during which some critical flow had no success."""
    revert_holdout: Holdout | None = None
    """The critical flow that held the steady state back longest after the revert."""

    @property
    def recovered(self) -> bool:
        return self.t_rec_ns is not None

    @property
    def rto_ns(self) -> int | None:
        return None if self.t_rec_ns is None else self.t_rec_ns - self.t_inject_ns

    @property
    def time_to_detect_ns(self) -> int | None:
        return None if self.t_detect_ns is None else self.t_detect_ns - self.t_inject_ns

    @property
    def rec_after_revert_ns(self) -> int | None:
        if self.t_rec_ns is None or self.t_revert_ns is None:
            return None
        return self.t_rec_ns - self.t_revert_ns

    @property
    def rto_from_revert_ns(self) -> int | None:
        """``t_rec_revert - t_revert``: how long the stack took once the fault was lifted."""
        if self.t_rec_revert_ns is None or self.t_revert_ns is None:
            return None
        return self.t_rec_revert_ns - self.t_revert_ns

    @property
    def observed_ns(self) -> int:
        return self.until_ns - self.t_inject_ns


def _detecting_failure(samples: FlowSamples, t_inject_ns: int) -> int | None:
    """Index of the failed sample with the earliest end at or after t_inject."""
    starts, ends = samples.starts, samples.ends
    best: int | None = None
    for run in _FAILED_RUN.finditer(samples.outcomes.tobytes()):
        for index in range(run.start(), run.end()):
            if best is not None and starts[index] > ends[best]:
                return best
            if ends[index] >= t_inject_ns and (best is None or ends[index] < ends[best]):
                best = index
    return best


def _first_success_from(samples: FlowSamples, t_ns: int) -> int | None:
    position = samples.outcomes.tobytes().find(_OK_BYTE, bisect_left(samples.starts, t_ns))
    return None if position < 0 else position


def analyse_recovery(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    spec: SteadyStateSpec,
    timeline: Timeline,
    until_ns: int,
    *,
    load: LoadFloor | None = None,
) -> RecoveryReport | None:
    """Measure recovery from the first injected fault; None when no fault was injected.

    With ``load`` the steady state includes the warehouse load keeping its pace
    (``harness.core.steady``); it may then be what held recovery back (``LOAD_FLOW``).
    """
    injected = timeline.first(EventKind.FAULT_INJECTED)
    if injected is None:
        return None
    t_inject = injected.t_ns
    per_flow = critical_steady_intervals(flows, targets, spec.window_ns, until_ns, load)
    steady = intersect_all(per_flow)
    held_by = flows if load is None else {**flows, LOAD_FLOW: load.samples}
    t_rec = first_stable_instant(steady, t_inject, spec.stability_ns, until_ns)
    holdout = None
    if t_rec is None:
        holdout = _holdout(per_flow, held_by, spec.window_ns, until_ns - 1)
    elif t_rec > t_inject:
        holdout = _holdout(per_flow, held_by, spec.window_ns, t_rec)

    critical = tuple(t.name for t in targets if t.critical)
    clipped: list[Interval] = []
    flow_outages: list[Outage] = []
    detected_by: SampleRef | None = None
    t_detect: int | None = None
    reconnects: list[SampleRef] = []
    all_reconnected = True
    for name in critical:
        samples = flows.get(name)
        if samples is None:
            continue
        for outage in outages(samples, until_ns):
            if outage.end_ns > t_inject:
                flow_outages.append(outage)
                clipped.append(Interval(max(outage.start_ns, t_inject), outage.end_ns))
        failed = _detecting_failure(samples, t_inject)
        if failed is None:
            continue
        failed_end = samples.ends[failed]
        if t_detect is None or failed_end < t_detect:
            t_detect, detected_by = failed_end, SampleRef(name, failed)
        success = _first_success_from(samples, failed_end)
        if success is None:
            all_reconnected = False
        else:
            reconnects.append(SampleRef(name, success))

    t_reconnect: int | None = None
    if reconnects and all_reconnected:
        t_reconnect = max(flows[ref.flow].ends[ref.index] for ref in reconnects)
    switch = timeline.first(EventKind.DB_TIMELINE_SWITCH, t_inject)
    revert = timeline.first(EventKind.FAULT_REVERTED, t_inject)
    t_rec_revert: int | None = None
    revert_holdout: Holdout | None = None
    revert_outage = 0
    if revert is not None:
        t_revert = revert.t_ns
        t_rec_revert = first_stable_instant(steady, t_revert, spec.stability_ns, until_ns)
        if t_rec_revert is None:
            revert_holdout = _holdout(per_flow, held_by, spec.window_ns, until_ns - 1)
        elif t_rec_revert > t_revert:
            revert_holdout = _holdout(per_flow, held_by, spec.window_ns, t_rec_revert)
        revert_outage = union_length(
            [Interval(max(i.start_ns, t_revert), i.end_ns) for i in clipped if i.end_ns > t_revert]
        )
    return RecoveryReport(
        t_inject_ns=t_inject,
        until_ns=until_ns,
        stability_ns=spec.stability_ns,
        window_ns=spec.window_ns,
        t_rec_ns=t_rec,
        t_detect_ns=t_detect,
        detected_by=detected_by,
        t_failover_ns=None if switch is None else switch.t_ns,
        t_app_reconnect_ns=t_reconnect,
        reconnected_by=tuple(reconnects),
        t_revert_ns=None if revert is None else revert.t_ns,
        outage_ns=union_length(clipped),
        outages=tuple(flow_outages),
        critical_flows=critical,
        holdout=holdout,
        t_rec_revert_ns=t_rec_revert,
        revert_outage_ns=revert_outage,
        revert_holdout=revert_holdout,
    )
