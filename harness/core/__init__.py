"""The pure measurement core: samples, timeline, steady state, recovery, SLO, ledger, verdicts.

No I/O, no clock reads, no environment, stdlib only. Times are integer nanoseconds on
the monotonic clock; the timeline's one wall-clock anchor renders them for people.
Definitions follow DESIGN.md "Measurement"; each module's docstring states its
conventions exactly. ``evaluate_run`` is the entry point for a whole run.
"""

from harness.core.ledger import LedgerReport, ReadBack, WriteOutcome, WriteRecord, reconcile
from harness.core.recovery import RecoveryReport, analyse_recovery, first_stable_instant
from harness.core.samples import (
    FlowSamples,
    MeasurementError,
    Outcome,
    ProbeSample,
    SampleSeries,
)
from harness.core.slo import PhaseSlo
from harness.core.steady import Interval
from harness.core.targets import FlowTarget, RecoveryTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Phase, PhaseWindow, Timeline, TimelineEvent
from harness.core.verdict import (
    LEDGER_SERIES,
    RunData,
    RunVerdicts,
    SampleRange,
    Verdict,
    VerdictKind,
    evaluate_run,
)

__all__ = [
    "LEDGER_SERIES",
    "EventKind",
    "FlowSamples",
    "FlowTarget",
    "Interval",
    "LedgerReport",
    "MeasurementError",
    "Outcome",
    "Phase",
    "PhaseSlo",
    "PhaseWindow",
    "ProbeSample",
    "ReadBack",
    "RecoveryReport",
    "RecoveryTarget",
    "RunData",
    "RunVerdicts",
    "SampleRange",
    "SampleSeries",
    "SteadyStateSpec",
    "Timeline",
    "TimelineEvent",
    "Verdict",
    "VerdictKind",
    "WriteOutcome",
    "WriteRecord",
    "analyse_recovery",
    "evaluate_run",
    "first_stable_instant",
    "reconcile",
]
