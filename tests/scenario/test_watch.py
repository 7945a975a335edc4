"""The timeline watch: a promotion goes on the run's monotonic clock at the instant the
cluster's own record gives it, through the run's one wall-clock anchor, never at the
instant the watch noticed it. The record is a fake (``FakePromotionRecord``)."""

from __future__ import annotations

import threading
import time

from harness.core import EventKind
from harness.errors import PlatformError
from harness.platform.base import Promotion
from harness.scenario.watch import (
    TimelineSwitch,
    TimelineWatch,
    monotonic_instant,
    new_switches,
    switch_label,
)

MS = 1_000_000
S = 1_000_000_000
WALL0 = 1_764_000_000 * S  # the run's wall clock at its monotonic anchor
MONO0 = 5_000 * S


class FakePromotionRecord:
    """Stands in for a platform's ``db_promotions``: the promotions a test put on record,
    or the error a test made it raise."""

    def __init__(self, *promotions: Promotion) -> None:
        self.promotions = promotions
        self.error: PlatformError | None = None
        self.reads = 0

    def db_promotions(self) -> tuple[Promotion, ...]:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return self.promotions


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[EventKind, int, str]] = []
        self.lock = threading.Lock()

    def __call__(self, kind: EventKind, t_ns: int, label: str) -> None:
        with self.lock:
            self.events.append((kind, t_ns, label))

    def of(self, kind: EventKind) -> list[tuple[int, str]]:
        with self.lock:
            return [(t, label) for k, t, label in self.events if k is kind]


def test_a_wall_clock_instant_lands_on_the_monotonic_clock_through_the_anchor() -> None:
    assert monotonic_instant(WALL0, MONO0, WALL0) == MONO0
    assert monotonic_instant(WALL0 + 13_512 * MS, MONO0, WALL0) == MONO0 + 13_512 * MS
    assert monotonic_instant(WALL0 - 1, MONO0, WALL0) == MONO0 - 1


def test_the_label_names_both_timelines_and_the_new_leader() -> None:
    assert switch_label(Promotion(3, 4, WALL0, "pg-2")) == "timeline 3 -> 4, pg-2 promoted"
    assert switch_label(Promotion(1, 3, WALL0, None)) == (
        "timeline 1 -> 3, a member the record does not name promoted"
    )


def test_switches_are_dated_by_the_record_and_earlier_runs_are_left_out() -> None:
    before_the_run = Promotion(1, 2, WALL0 - 30 * S, "pg-2")
    crash = Promotion(2, 3, WALL0 + 12_345 * MS, "pg-3")
    back = Promotion(3, 4, WALL0 + 40 * S, "pg-1")
    switches = new_switches(
        (back, before_the_run, crash),
        since_ns=MONO0 + 1 * S,
        reported=(),
        mono_anchor_ns=MONO0,
        wall_anchor_ns=WALL0,
    )
    assert switches == (
        TimelineSwitch(MONO0 + 12_345 * MS, 3, "timeline 2 -> 3, pg-3 promoted"),
        TimelineSwitch(MONO0 + 40 * S, 4, "timeline 3 -> 4, pg-1 promoted"),
    )
    again = new_switches(
        (before_the_run, crash, back),
        since_ns=MONO0,
        reported={3},
        mono_anchor_ns=MONO0,
        wall_anchor_ns=WALL0,
    )
    assert [s.timeline for s in again] == [4]


def _anchored_now() -> tuple[int, int]:
    return time.monotonic_ns(), time.time_ns()


def test_the_watch_dates_a_promotion_it_notices_late_at_the_recorded_instant() -> None:
    mono0, wall0 = _anchored_now()
    record = FakePromotionRecord(Promotion(4, 5, wall0 - 60 * S, "pg-1"))  # an earlier run's
    events = Recorder()
    watch = TimelineWatch(record, mono0, wall0, events)
    watch.poll()
    assert events.events == []
    promoted_wall = wall0 + 50 * MS
    record.promotions = (*record.promotions, Promotion(5, 6, promoted_wall, "pg-2"))
    time.sleep(0.3)  # the watch notices 300 ms late, as a poller does
    watch.poll()
    watch.poll()
    assert events.of(EventKind.DB_TIMELINE_SWITCH) == [
        (mono0 + 50 * MS, "timeline 5 -> 6, pg-2 promoted")
    ]
    assert events.of(EventKind.NOTE) == []


def test_an_unreadable_record_is_noted_once_and_the_promotion_is_dated_when_readable() -> None:
    mono0, wall0 = _anchored_now()
    record = FakePromotionRecord()
    events = Recorder()
    watch = TimelineWatch(record, mono0, wall0, events)
    record.error = PlatformError("expected one of the Patroni REST APIs to answer, none did")
    watch.poll()
    watch.poll()
    (note,) = events.of(EventKind.NOTE)
    assert "none did" in note[1]
    assert mono0 <= note[0] <= time.monotonic_ns()
    record.error = None
    record.promotions = (Promotion(1, 2, wall0 + 2 * S, "pg-3"),)
    watch.poll()
    assert events.of(EventKind.DB_TIMELINE_SWITCH) == [
        (mono0 + 2 * S, "timeline 1 -> 2, pg-3 promoted")
    ]
    record.error = PlatformError("down again")
    watch.poll()
    assert len(events.of(EventKind.NOTE)) == 2, "a new streak of failures is noted again"


def test_the_running_watch_polls_and_reads_a_last_time_when_stopped() -> None:
    mono0, wall0 = _anchored_now()
    record = FakePromotionRecord()
    events = Recorder()
    watch = TimelineWatch(record, mono0, wall0, events, poll_s=0.01)
    watch.start()
    record.promotions = (Promotion(2, 3, wall0 + 10 * MS, "pg-2"),)
    deadline = time.monotonic() + 5
    while not events.of(EventKind.DB_TIMELINE_SWITCH):
        assert time.monotonic() < deadline, "the watch never polled"
        time.sleep(0.01)
    record.promotions = (*record.promotions, Promotion(3, 4, wall0 + 20 * MS, "pg-1"))
    watch.stop()
    reads = record.reads
    assert events.of(EventKind.DB_TIMELINE_SWITCH) == [
        (mono0 + 10 * MS, "timeline 2 -> 3, pg-2 promoted"),
        (mono0 + 20 * MS, "timeline 3 -> 4, pg-1 promoted"),
    ]
    time.sleep(0.05)
    assert record.reads == reads, "the watch still polls after stop"
