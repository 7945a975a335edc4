"""The run's timeline: typed events on the monotonic clock, and the phases they delimit.

Events carry ``t_ns`` (monotonic nanoseconds) and a short label. Phases (baseline,
fault, recovery, after) are derived from ``PHASE_START`` events: a phase runs from
its start to the next phase's start, and the last one to the end of observation.
The timeline also holds the run's one wall-clock anchor (``wall_anchor_ns`` is the
wall-clock time at monotonic ``mono_anchor_ns``), used only to render instants for
people. Instants are rendered in UTC: the core reads no environment, so no local zone.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

from harness.core.samples import MeasurementError


class Phase(enum.Enum):
    BASELINE = "baseline"
    FAULT = "fault"
    RECOVERY = "recovery"
    AFTER = "after"


class EventKind(enum.Enum):
    PHASE_START = "phase-start"
    FAULT_INJECTED = "fault-injected"
    FAULT_LANDED = "fault-landed"
    """The fault proved a measurable effect; the label says what was measured."""
    FAULT_DID_NOT_LAND = "fault-did-not-land"
    FAULT_REVERTED = "fault-reverted"
    DB_TIMELINE_SWITCH = "db-timeline-switch"
    """PostgreSQL's timeline changed: the instant of failover (t_failover)."""
    ABORT = "abort"
    NOTE = "note"
    RUN_END = "run-end"
    """End of observation: nothing after it was watched."""


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    kind: EventKind
    t_ns: int
    label: str = ""
    phase: Phase | None = None

    def __post_init__(self) -> None:
        if (self.kind is EventKind.PHASE_START) != (self.phase is not None):
            raise MeasurementError(
                f"timeline event {self.kind.value} at {self.t_ns}: expected a phase exactly "
                f"when the kind is phase-start, saw phase={self.phase}; pass phase= only "
                "with EventKind.PHASE_START"
            )


@dataclass(frozen=True, slots=True)
class PhaseWindow:
    """Phase ``phase`` covers ``[t_from_ns, t_to_ns)``."""

    phase: Phase
    t_from_ns: int
    t_to_ns: int


@dataclass(frozen=True)
class Timeline:
    mono_anchor_ns: int
    wall_anchor_ns: int
    events: tuple[TimelineEvent, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.events, key=lambda e: e.t_ns))
        object.__setattr__(self, "events", ordered)
        seen: set[Phase] = set()
        for event in ordered:
            if event.phase is not None:
                if event.phase in seen:
                    raise MeasurementError(
                        f"timeline: expected each phase to start once, saw "
                        f"{event.phase.value} start again at {event.t_ns}; record one "
                        "PHASE_START per phase"
                    )
                seen.add(event.phase)

    def first(self, kind: EventKind, at_or_after_ns: int | None = None) -> TimelineEvent | None:
        for event in self.events:
            if event.kind is kind and (at_or_after_ns is None or event.t_ns >= at_or_after_ns):
                return event
        return None

    def of_kind(self, kind: EventKind) -> tuple[TimelineEvent, ...]:
        return tuple(e for e in self.events if e.kind is kind)

    def phases(self, end_ns: int) -> tuple[PhaseWindow, ...]:
        starts = [(e.phase, e.t_ns) for e in self.events if e.phase is not None]
        windows: list[PhaseWindow] = []
        for i, (phase, t_from) in enumerate(starts):
            t_to = starts[i + 1][1] if i + 1 < len(starts) else max(end_ns, t_from)
            windows.append(PhaseWindow(phase, t_from, t_to))
        return tuple(windows)

    def wall_ns(self, t_ns: int) -> int:
        return self.wall_anchor_ns + (t_ns - self.mono_anchor_ns)

    def clock(self, t_ns: int) -> str:
        """``HH:MM:SS.mmm`` (UTC, milliseconds truncated) of a monotonic instant."""
        wall = self.wall_ns(t_ns)
        seconds, rest = divmod(wall, 1_000_000_000)
        stamp = datetime.fromtimestamp(seconds, tz=UTC)
        return f"{stamp:%H:%M:%S}.{rest // 1_000_000:03d}"
