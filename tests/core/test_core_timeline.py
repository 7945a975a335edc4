"""Timeline: ordering, phases derived from events, wall-clock rendering; target checks."""

from __future__ import annotations

import pytest

from harness.core.samples import MeasurementError
from harness.core.targets import FlowTarget, RecoveryTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Phase, PhaseWindow, Timeline, TimelineEvent
from harness.errors import ConfigError

S = 1_000_000_000


def start(phase: Phase, t: int) -> TimelineEvent:
    return TimelineEvent(EventKind.PHASE_START, t, phase.value, phase)


def test_phases_run_from_their_start_to_the_next_and_the_last_to_the_end() -> None:
    timeline = Timeline(
        0,
        0,
        (
            start(Phase.FAULT, 60 * S),
            TimelineEvent(EventKind.FAULT_INJECTED, 60 * S, "kill"),
            start(Phase.BASELINE, 0),
            start(Phase.AFTER, 120 * S),
        ),
    )
    assert timeline.phases(200 * S) == (
        PhaseWindow(Phase.BASELINE, 0, 60 * S),
        PhaseWindow(Phase.FAULT, 60 * S, 120 * S),
        PhaseWindow(Phase.AFTER, 120 * S, 200 * S),
    )
    injected = timeline.first(EventKind.FAULT_INJECTED)
    assert injected is not None
    assert injected.label == "kill"
    assert timeline.first(EventKind.FAULT_INJECTED, 61 * S) is None


def test_a_phase_cannot_start_twice_and_only_phase_starts_carry_a_phase() -> None:
    with pytest.raises(MeasurementError, match="each phase to start once"):
        Timeline(0, 0, (start(Phase.FAULT, 1), start(Phase.FAULT, 2)))
    with pytest.raises(MeasurementError, match="phase-start"):
        TimelineEvent(EventKind.PHASE_START, 0, "no phase")
    with pytest.raises(MeasurementError, match="phase-start"):
        TimelineEvent(EventKind.NOTE, 0, "note", Phase.AFTER)


def test_instants_render_as_utc_clock_time_to_the_millisecond() -> None:
    noon = 1_700_049_600 * S  # 2023-11-15 12:00:00 UTC
    timeline = Timeline(mono_anchor_ns=5 * S, wall_anchor_ns=noon)
    assert timeline.clock(5 * S) == "12:00:00.000"
    assert timeline.clock(6 * S + 200_999_999) == "12:00:01.200"
    assert timeline.clock(4 * S) == "11:59:59.000"


def test_targets_refuse_meaningless_values() -> None:
    with pytest.raises(ConfigError, match="availability_pct between 0 and 100"):
        FlowTarget("pick", True, 101.0, 250.0)
    with pytest.raises(ConfigError, match="p99_ms > 0"):
        FlowTarget("pick", True, 99.0, 250.0, 0.0)
    with pytest.raises(ConfigError, match="window_s > 0"):
        SteadyStateSpec(window_s=0.0)
    with pytest.raises(ConfigError, match=">= 0"):
        RecoveryTarget("db-failover", -1.0, 0.0)
    assert FlowTarget("pick", True, 99.9, 250.0).availability.denominator == 1000
