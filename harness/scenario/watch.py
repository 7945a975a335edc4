"""Watchers that run beside a scenario: the DB timeline (the instant of failover)
and the abort condition (a critical flow down for too long)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

import psycopg

from harness.core import FlowSamples, FlowTarget, Outcome

POLL_S = 0.2


def current_timeline(conn: psycopg.Connection[tuple[object, ...]]) -> int | None:
    """The timeline of the WAL file the primary behind ``conn`` is writing."""
    row = conn.execute("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)").fetchone()
    return int(str(row[0]), 16) if row else None


class TimelineWatch:
    """Polls PostgreSQL's current timeline through the read-write route.

    The timeline of the WAL file being written changes the moment a promoted
    replica starts writing; the first new value seen is t_failover.
    """

    def __init__(self, conninfo: str, on_switch: Callable[[int, int, int], None]) -> None:
        self._conninfo = conninfo
        self._on_switch = on_switch
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-timeline", daemon=True)
        self.baseline: int | None = None

    def start(self) -> None:
        self.baseline = self._read(None)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _read(self, conn: psycopg.Connection[tuple[object, ...]] | None) -> int | None:
        try:
            if conn is None:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=2) as fresh:
                    return current_timeline(fresh)
            return current_timeline(conn)
        except psycopg.Error:
            return None

    def _run(self) -> None:
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        while not self._stop.wait(POLL_S):
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=1)
                timeline = current_timeline(conn)
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                conn = None
                continue
            if timeline is not None and self.baseline is not None and timeline != self.baseline:
                self._on_switch(time.monotonic_ns(), self.baseline, timeline)
                self.baseline = timeline
        if conn is not None:
            conn.close()


def longest_down(
    flows: Mapping[str, FlowSamples], critical: Sequence[FlowTarget], since_ns: int, now_ns: int
) -> tuple[str, float] | None:
    """The critical flow down longest right now (no success since its last failure), in s."""
    worst: tuple[str, float] | None = None
    for target in critical:
        samples = flows.get(target.name)
        if samples is None or not len(samples):
            continue
        last_ok = since_ns
        failing = False
        for i in range(len(samples)):
            if samples.starts[i] < since_ns:
                continue
            if samples.outcomes[i] == Outcome.OK:
                last_ok, failing = samples.ends[i], False
            else:
                failing = True
        if failing:
            down_s = (now_ns - last_ok) / 1e9
            if worst is None or down_s > worst[1]:
                worst = (target.name, down_s)
    return worst
