"""Probe samples: the outcome of one probe of one business flow, stored column-wise.

A run holds up to millions of samples, so a flow's samples live in parallel typed
arrays (``array('q')`` for nanosecond times, ``array('b')`` for outcomes) rather than
in one object per sample. ``SampleSeries`` is the append side used while the run is
going; ``FlowSamples`` is the read side the measurements use, sorted once by
``t_start_ns`` (probes may report slightly out of order). Indices into a
``FlowSamples`` are what verdicts cite as the samples behind a figure.

Times are integers in nanoseconds on the monotonic clock.

Besides its start and end, a sample keeps ``answered_ns``: from when the flow was being
answered again, for an OK sample that ends an outage (``harness.core.recovery``). It is
the start, unless the run's first request was itself held up by what it recovers from
(a thawing component answers it late): then it is when that request was answered, less
the flow's usual time for it, so an outage ends when the stack answered, not when a
request that merely waited for it was sent. A ``STALL`` sample whose run was answered in
the end carries the instant of that late answer (its end), which ends an outage too;
every other failed sample was never answered and keeps its start.
"""

from __future__ import annotations

import enum
import operator
from array import array
from dataclasses import dataclass
from itertools import islice

from harness.errors import HarnessError


class MeasurementError(HarnessError):
    """The measurement core was handed data that breaks its contract (a harness bug)."""


class Outcome(enum.IntEnum):
    """How one probe ended. Stored as its integer value in ``array('b')``.

    ``STALL`` is a flow that was not answering: one of its HTTP exchanges stayed
    unanswered past the flow's stall threshold, whether an answer came later or none
    did (``harness.probes``, "Stalls"). It is a failure like the others.
    """

    OK = 0
    ERROR = 1
    TIMEOUT = 2
    STALL = 3


@dataclass(frozen=True, slots=True)
class ProbeSample:
    """One probe of one flow: when it started and ended, and how it ended."""

    flow: str
    t_start_ns: int
    t_end_ns: int
    outcome: Outcome
    detail: str = ""
    answered_ns: int | None = None
    """From when the flow was answered (module docstring); None: from its start."""

    def __post_init__(self) -> None:
        if self.answered_ns is not None and not (
            self.t_start_ns <= self.answered_ns <= self.t_end_ns
        ):
            raise MeasurementError(
                f"probe sample of flow {self.flow!r}: expected answered_ns within its start "
                f"{self.t_start_ns} and end {self.t_end_ns}, saw {self.answered_ns}"
            )
        if self.t_end_ns < self.t_start_ns:
            raise MeasurementError(
                f"probe sample of flow {self.flow!r}: expected t_end_ns >= t_start_ns, saw "
                f"start {self.t_start_ns} and end {self.t_end_ns}; the probe must read "
                "time.monotonic_ns() before and after the request"
            )

    @property
    def latency_ns(self) -> int:
        return self.t_end_ns - self.t_start_ns


class SampleSeries:
    """Append-only samples of one flow, in arrival order."""

    __slots__ = ("_answered", "_details", "_ends", "_outcomes", "_starts", "flow")

    def __init__(self, flow: str) -> None:
        self.flow = flow
        self._starts = array("q")
        self._ends = array("q")
        self._answered = array("q")
        self._outcomes = array("b")
        self._details: list[str] = []

    def __len__(self) -> int:
        return len(self._starts)

    def add(
        self,
        t_start_ns: int,
        t_end_ns: int,
        outcome: Outcome,
        detail: str = "",
        answered_ns: int | None = None,
    ) -> None:
        """Append one sample without building a ``ProbeSample`` (the hot path)."""
        if t_end_ns < t_start_ns:
            raise MeasurementError(
                f"probe sample of flow {self.flow!r}: expected t_end_ns >= t_start_ns, saw "
                f"start {t_start_ns} and end {t_end_ns}; the probe must read "
                "time.monotonic_ns() before and after the request"
            )
        self._starts.append(t_start_ns)
        self._ends.append(t_end_ns)
        self._answered.append(t_start_ns if answered_ns is None else answered_ns)
        self._outcomes.append(outcome)
        self._details.append(detail)

    def append(self, sample: ProbeSample) -> None:
        if sample.flow != self.flow:
            raise MeasurementError(
                f"expected a sample of flow {self.flow!r}, saw one of flow {sample.flow!r}; "
                "keep one SampleSeries per flow"
            )
        self.add(
            sample.t_start_ns, sample.t_end_ns, sample.outcome, sample.detail, sample.answered_ns
        )

    def freeze(self) -> FlowSamples:
        """Sort once by start time (stable, so equal starts keep arrival order)."""
        starts = self._starts
        if _non_decreasing(starts):
            return FlowSamples(
                self.flow,
                array("q", starts),
                array("q", self._ends),
                array("b", self._outcomes),
                tuple(self._details),
                array("q", self._answered),
            )
        order = sorted(range(len(starts)), key=starts.__getitem__)
        ends, outcomes, details, answered = (
            self._ends,
            self._outcomes,
            self._details,
            self._answered,
        )
        return FlowSamples(
            self.flow,
            array("q", [starts[i] for i in order]),
            array("q", [ends[i] for i in order]),
            array("b", [outcomes[i] for i in order]),
            tuple(details[i] for i in order),
            array("q", [answered[i] for i in order]),
        )


def _non_decreasing(values: array[int]) -> bool:
    return all(map(operator.le, values, islice(values, 1, None)))


@dataclass(frozen=True, eq=False)
class FlowSamples:
    """The samples of one flow sorted by ``t_start_ns``; treat the arrays as read-only."""

    flow: str
    starts: array[int]
    ends: array[int]
    outcomes: array[int]
    details: tuple[str, ...]
    answered: array[int]
    """Per sample, from when the flow was answered (its start unless said otherwise)."""

    @classmethod
    def of(cls, flow: str, samples: list[ProbeSample]) -> FlowSamples:
        series = SampleSeries(flow)
        for sample in samples:
            series.append(sample)
        return series.freeze()

    def __len__(self) -> int:
        return len(self.starts)

    def sample(self, index: int) -> ProbeSample:
        answered = self.answered[index]
        return ProbeSample(
            self.flow,
            self.starts[index],
            self.ends[index],
            Outcome(self.outcomes[index]),
            self.details[index],
            None if answered == self.starts[index] else answered,
        )

    def end_order(self) -> list[int]:
        """Indices ordered by ``t_end_ns``: the order in which results became known."""
        ends = self.ends
        if _non_decreasing(ends):
            return list(range(len(ends)))
        return sorted(range(len(ends)), key=ends.__getitem__)
