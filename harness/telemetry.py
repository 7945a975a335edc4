"""Infrastructure telemetry beside a scenario: what the database, cache and ingress did.

``TelemetrySampler`` reads, about once a second and only through ``StackEndpoints`` (so
on any platform), four sources, each in its own thread so that a source that hangs
delays no other:

- ``postgres``, through the read-write route the app uses (``endpoints.db``): the
  timeline the primary writes on, and the client connections per state. The app's
  account may not read other roles' session state: those count as ``other roles``.
  The sampler's own short connection is one of the ``active`` ones.
- ``patroni``: replication lag in bytes per replica, as the members' REST APIs report it
  (``endpoints.patroni_rest``, any member answering for the cluster; not sampled on a
  platform that has none).
- ``redis``: ``used_memory`` from ``INFO memory`` (``endpoints.redis``).
- ``traefik``: ``traefik_service_requests_total`` per service and status code, summed
  over methods, from its Prometheus endpoint (``endpoints.traefik_metrics``).

``start()`` and ``stop()`` never raise: a read that fails is recorded as a ``Gap`` named
after its exception, so a fault that takes a source away shows in the evidence as gaps,
never as a crashed scenario. Times are ``time.monotonic_ns()``, the clock of the
scenario's timeline, so telemetry and probe samples share one axis.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import httpx
import psycopg

from harness.errors import HarnessError
from harness.platform.endpoints import StackEndpoints
from harness.platform.local.patroni import DbRole, PatroniCluster
from harness.platform.local.redis import redis_command
from harness.scenario.watch import current_timeline

INTERVAL_S = 1.0
#: Every read is bounded by this (connect, query, HTTP, Redis), so a tick stays short.
READ_TIMEOUT_S = 1.0
#: libpq refuses connect timeouts under 2 s.
DB_CONNECT_TIMEOUT_S = 2
#: How long ``stop()`` waits for a source that is still reading.
STOP_WAIT_S = 3.0
OTHER_ROLES = "other roles"
TOTAL = "total"

_CONNECTIONS_SQL = f"""
SELECT coalesce(state, '{OTHER_ROLES}'), count(*)::int FROM pg_stat_activity
WHERE datid IS NOT NULL AND (backend_type = 'client backend' OR backend_type IS NULL)
GROUP BY 1
"""
_USED_MEMORY = re.compile(rb"^used_memory:(\d+)\r?$", re.MULTILINE)
_REQUESTS = re.compile(r"^traefik_service_requests_total\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class Source(Enum):
    """Where a reading comes from (each read by its own thread)."""

    POSTGRES = "postgres"
    PATRONI = "patroni"
    REDIS = "redis"
    TRAEFIK = "traefik"


class Metric(Enum):
    """What a reading measures; ``series`` tells the readings of one metric apart."""

    DB_TIMELINE = "db_timeline"
    DB_CONNECTIONS = "db_connections"
    """series: the session state, ``other roles`` or ``total``"""
    REPLICATION_LAG = "replication_lag_bytes"
    """series: the replica"""
    REDIS_MEMORY = "redis_used_memory_bytes"
    REQUESTS = "traefik_requests_total"
    """series: ``<service> <status code>``; a counter"""

    @property
    def source(self) -> Source:
        return _SOURCE_OF[self]


_SOURCE_OF = {
    Metric.DB_TIMELINE: Source.POSTGRES,
    Metric.DB_CONNECTIONS: Source.POSTGRES,
    Metric.REPLICATION_LAG: Source.PATRONI,
    Metric.REDIS_MEMORY: Source.REDIS,
    Metric.REQUESTS: Source.TRAEFIK,
}


class TelemetryReadError(HarnessError):
    """A source answered, but not with what the sampler reads from it."""


@dataclass(frozen=True, slots=True)
class Reading:
    t_ns: int
    metric: Metric
    series: str
    value: float


@dataclass(frozen=True, slots=True)
class Gap:
    """A read that failed: ``error`` is the exception's name, ``detail`` its first line."""

    t_ns: int
    source: Source
    error: str
    detail: str


Points = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Telemetry:
    """Everything one sampler recorded, in time order."""

    interval_s: float
    readings: tuple[Reading, ...] = ()
    gaps: tuple[Gap, ...] = ()

    def series(self, metric: Metric) -> dict[str, Points]:
        """``series -> ((t_ns, value), ...)`` of one metric."""
        found: dict[str, list[tuple[int, float]]] = {}
        for reading in self.readings:
            if reading.metric is metric:
                found.setdefault(reading.series, []).append((reading.t_ns, reading.value))
        return {name: tuple(points) for name, points in sorted(found.items())}

    def rates(self, metric: Metric) -> dict[str, Points]:
        """Per-second increase of a counter between consecutive scrapes, per series.

        A series missing from a scrape had not counted anything yet (Prometheus counters
        appear at their first increment), so it starts from 0 there; a counter that went
        down was reset (its process restarted) and gives no rate for that step.
        """
        scrapes = sorted({r.t_ns for r in self.readings if r.metric is metric})
        values = {(r.series, r.t_ns): r.value for r in self.readings if r.metric is metric}
        rates: dict[str, Points] = {}
        for name in self.series(metric):
            points: list[tuple[int, float]] = []
            previous: tuple[int, float] | None = None
            seen = False
            for t_ns in scrapes:
                value = values.get((name, t_ns))
                if value is None:
                    previous = previous if seen else (t_ns, 0.0)
                    continue
                seen = True
                if previous is not None and value >= previous[1]:
                    points.append((t_ns, (value - previous[1]) * 1e9 / (t_ns - previous[0])))
                previous = (t_ns, value)
            rates[name] = tuple(points)
        return rates


Values = list[tuple[Metric, str, float]]


class TelemetrySampler:
    """Samples the stack's infrastructure until stopped (see the module docstring)."""

    def __init__(self, endpoints: StackEndpoints, interval_s: float = INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._endpoints = endpoints
        readers: dict[Source, Callable[[], Values]] = {
            Source.POSTGRES: self._postgres,
            Source.REDIS: self._redis,
            Source.TRAEFIK: self._traefik,
        }
        if endpoints.patroni_rest:
            readers[Source.PATRONI] = self._patroni
        self._threads = {
            source: threading.Thread(
                target=self._loop,
                args=(source, read),
                name=f"telemetry-{source.value}",
                daemon=True,
            )
            for source, read in readers.items()
        }
        self._lock = threading.Lock()
        self._readings: list[Reading] = []
        self._gaps: list[Gap] = []
        self._stop = threading.Event()

    def start(self) -> None:
        for source, thread in self._threads.items():
            try:
                thread.start()
            except RuntimeError as exc:  # no thread to be had: that source is one gap
                self._gap(source, exc)

    def stop(self) -> Telemetry:
        """Stop every source and return what was recorded; a source still reading after
        ``STOP_WAIT_S`` is left to finish on its own and noted as a gap."""
        self._stop.set()
        deadline = time.monotonic() + STOP_WAIT_S
        for source, thread in self._threads.items():
            if thread.ident is None:
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self._gap(
                    source,
                    TimeoutError(f"still reading {STOP_WAIT_S:g} s after the sampler stopped"),
                )
        with self._lock:
            readings, gaps = tuple(self._readings), tuple(self._gaps)
        return Telemetry(
            self.interval_s,
            tuple(sorted(readings, key=lambda r: r.t_ns)),
            tuple(sorted(gaps, key=lambda g: g.t_ns)),
        )

    # -- the loop ------------------------------------------------------------------------
    def _loop(self, source: Source, read: Callable[[], Values]) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            t_ns = time.monotonic_ns()
            try:
                values = read()
            except Exception as exc:  # every failure of a read is a gap, never a crash
                self._gap(source, exc, t_ns)
            else:
                with self._lock:
                    if not self._stop.is_set():
                        self._readings.extend(Reading(t_ns, m, s, v) for m, s, v in values)
            next_at = max(next_at + self.interval_s, time.monotonic())
            self._stop.wait(next_at - time.monotonic())

    def _gap(self, source: Source, exc: BaseException, t_ns: int | None = None) -> None:
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        gap = Gap(time.monotonic_ns() if t_ns is None else t_ns, source, type(exc).__name__, detail)
        with self._lock:
            self._gaps.append(gap)

    # -- the sources ---------------------------------------------------------------------
    def _postgres(self) -> Values:
        conninfo = self._endpoints.db.conninfo(connect_timeout_s=DB_CONNECT_TIMEOUT_S)
        timeout_ms = int(READ_TIMEOUT_S * 1000)
        with psycopg.connect(
            conninfo, autocommit=True, options=f"-c statement_timeout={timeout_ms}"
        ) as conn:
            timeline = current_timeline(conn)
            rows = conn.execute(_CONNECTIONS_SQL).fetchall()
        values: Values = [(Metric.DB_CONNECTIONS, str(state), float(n)) for state, n in rows]
        total = sum(float(n) for _, n in rows)
        values.append((Metric.DB_CONNECTIONS, TOTAL, total))
        if timeline is not None:
            values.append((Metric.DB_TIMELINE, "", float(timeline)))
        return values

    def _patroni(self) -> Values:
        members = PatroniCluster(self._endpoints.patroni_rest).members()
        return [
            (Metric.REPLICATION_LAG, m.name, float(m.lag_bytes))
            for m in members
            if m.role is not DbRole.LEADER and m.lag_bytes is not None
        ]

    def _redis(self) -> Values:
        address = self._endpoints.redis
        reply = redis_command(
            address.port, "INFO", "memory", timeout_s=READ_TIMEOUT_S, host=address.host
        )
        found = _USED_MEMORY.search(reply) if isinstance(reply, bytes) else None
        if found is None:
            raise TelemetryReadError(
                f"expected used_memory in the reply to INFO memory from Redis at {address}, "
                f"saw {reply!r:.120}"
            )
        return [(Metric.REDIS_MEMORY, "used_memory", float(found.group(1)))]

    def _traefik(self) -> Values:
        response = httpx.get(self._endpoints.traefik_metrics, timeout=READ_TIMEOUT_S)
        response.raise_for_status()
        return traefik_requests(response.text)


def traefik_requests(exposition: str) -> Values:
    """``traefik_service_requests_total`` summed over methods and protocols, per service
    and status code, from Prometheus text exposition."""
    totals: dict[str, float] = {}
    for line in exposition.splitlines():
        found = _REQUESTS.match(line)
        if found is None:
            continue
        labels = dict(_LABEL.findall(found.group("labels")))
        series = f"{labels.get('service', '?')} {labels.get('code', '?')}"
        totals[series] = totals.get(series, 0.0) + float(found.group("value"))
    return [(Metric.REQUESTS, series, total) for series, total in sorted(totals.items())]
