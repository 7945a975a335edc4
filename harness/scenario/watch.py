"""The DB timeline watcher that runs beside a scenario: the instant of failover, from the
cluster's own record of each promotion (the abort conditions are ``harness.core.abort``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

import psycopg

from harness.core import EventKind
from harness.errors import PlatformError
from harness.platform.base import Promotion

POLL_S = 0.2


def current_timeline(conn: psycopg.Connection[tuple[object, ...]]) -> int | None:
    """The timeline of the WAL file the primary behind ``conn`` is writing."""
    row = conn.execute("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)").fetchone()
    return int(str(row[0]), 16) if row else None


class PromotionRecord(Protocol):
    """Where the DB's promotions are on record (every ``Platform`` is one)."""

    def db_promotions(self) -> tuple[Promotion, ...]: ...


EventSink = Callable[[EventKind, int, str], None]
"""Takes a timeline event: its kind, its instant (monotonic ns) and its label."""


@dataclass(frozen=True)
class TimelineSwitch:
    """A promotion placed on the run's monotonic clock."""

    t_ns: int
    timeline: int
    label: str


def monotonic_instant(wall_ns: int, mono_anchor_ns: int, wall_anchor_ns: int) -> int:
    """A wall-clock instant on the monotonic clock, through the run's one anchor pair
    (``wall_anchor_ns`` was the wall clock at monotonic ``mono_anchor_ns``)."""
    return mono_anchor_ns + (wall_ns - wall_anchor_ns)


def switch_label(promotion: Promotion) -> str:
    """``timeline N -> M, <new leader> promoted``."""
    leader = promotion.new_leader or "a member the record does not name"
    return f"timeline {promotion.previous_timeline} -> {promotion.timeline}, {leader} promoted"


def new_switches(
    promotions: Sequence[Promotion],
    *,
    since_ns: int,
    reported: Collection[int],
    mono_anchor_ns: int,
    wall_anchor_ns: int,
) -> tuple[TimelineSwitch, ...]:
    """The promotions that happened at or after ``since_ns`` (monotonic) and whose
    timeline is not in ``reported``, at their recorded instants, oldest first."""
    switches = [
        TimelineSwitch(
            monotonic_instant(p.wall_ns, mono_anchor_ns, wall_anchor_ns),
            p.timeline,
            switch_label(p),
        )
        for p in promotions
        if p.timeline not in reported
    ]
    return tuple(sorted((s for s in switches if s.t_ns >= since_ns), key=lambda s: s.t_ns))


class TimelineWatch:
    """Records each DB promotion as ``DB_TIMELINE_SWITCH`` at the instant the cluster's
    own record gives it (t_failover), never at the instant the watch noticed.

    The record is read every ``poll_s`` only to notice new promotions; those that
    happened before the watch was made belong to earlier runs and are left out. While
    no member can say (``PlatformError``) a note goes on the timeline once; a promotion
    meanwhile is still dated from the record when it can be read again, and ``stop``
    reads it a last time.
    """

    def __init__(
        self,
        record: PromotionRecord,
        mono_anchor_ns: int,
        wall_anchor_ns: int,
        on_event: EventSink,
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self._record = record
        self._mono_anchor_ns = mono_anchor_ns
        self._wall_anchor_ns = wall_anchor_ns
        self._on_event = on_event
        self._poll_s = poll_s
        self._since_ns = time.monotonic_ns()
        self._reported: set[int] = set()
        self._unreadable = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-timeline", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.poll()

    def poll(self) -> None:
        """Read the record once; put the promotions not reported yet on the timeline."""
        with self._lock:
            try:
                promotions = self._record.db_promotions()
            except PlatformError as exc:
                if not self._unreadable:
                    self._on_event(
                        EventKind.NOTE,
                        time.monotonic_ns(),
                        f"the DB's record of promotions cannot be read ({exc}); a failover "
                        "meanwhile is dated from the record once it can be read again",
                    )
                self._unreadable = True
                return
            self._unreadable = False
            for switch in new_switches(
                promotions,
                since_ns=self._since_ns,
                reported=self._reported,
                mono_anchor_ns=self._mono_anchor_ns,
                wall_anchor_ns=self._wall_anchor_ns,
            ):
                self._reported.add(switch.timeline)
                self._on_event(EventKind.DB_TIMELINE_SWITCH, switch.t_ns, switch.label)

    def _run(self) -> None:
        while not self._stop.wait(self._poll_s):
            self.poll()
