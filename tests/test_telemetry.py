"""The telemetry sampler on the real local stack: it sees real replication lag, connections,
Redis memory and request counts; a source it cannot reach becomes gaps, never an
exception. Then the arithmetic it hands the charts (request rates, the Prometheus parse).
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from harness.platform.base import IoLimits
from harness.platform.endpoints import (
    AppLogin,
    DatabaseAccess,
    HostPort,
    S3Access,
    StackEndpoints,
)
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.ports import LOOPBACK, pick_free_ports
from harness.platform.local.redis import redis_command
from harness.telemetry import (
    OTHER_ROLES,
    STOP_WAIT_S,
    TOTAL,
    Metric,
    Reading,
    Source,
    Telemetry,
    TelemetrySampler,
    traefik_requests,
)

S = 1_000_000_000
BIG_VALUE_BYTES = 4 * 2**20
IDLE_CONNECTIONS = 3
REQUESTS = 30


def _last(telemetry: Telemetry, metric: Metric, series: str) -> float:
    return telemetry.series(metric)[series][-1][1]


def _first(telemetry: Telemetry, metric: Metric, series: str) -> float:
    return telemetry.series(metric)[series][0][1]


@pytest.mark.integration
def test_the_sampler_sees_real_lag_connections_memory_and_requests(
    local_stack: LocalPlatform,
) -> None:
    endpoints = local_stack.endpoints()
    leader = local_stack.leader()
    replicas = sorted(m.name for m in local_stack.members if m.name != leader)
    slow = replicas[0]
    redis_port = local_stack.plan.port("redis", "redis")
    # Traefik's counter of a service appears with its first request: have it there.
    assert httpx.get(f"{endpoints.ingress_url}/web/health", timeout=5).status_code == 200
    sampler = TelemetrySampler(endpoints)
    sampler.start()
    time.sleep(1.5)  # a first reading of everything, before anything happens
    held = [psycopg.connect(endpoints.db.conninfo()) for _ in range(IDLE_CONNECTIONS)]
    redis_command(redis_port, "SET", "telemetry-test", b"x" * BIG_VALUE_BYTES)
    with httpx.Client(base_url=endpoints.ingress_url, timeout=5) as http:
        for _ in range(REQUESTS):
            assert http.get("/web/health").status_code == 200
    # One replica's disk slowed down while the primary writes ~14 MB of WAL: it falls behind.
    local_stack.throttle_storage(slow, IoLimits(write_iops=2, write_bps=32 * 1024))
    try:
        with psycopg.connect(endpoints.db.conninfo(), autocommit=True) as conn:
            conn.execute(
                "CREATE TABLE telemetry_lag AS "
                "SELECT g, repeat('x', 400) AS pad FROM generate_series(1, 30000) g"
            )
        time.sleep(4)
    finally:
        local_stack.unthrottle_storage(slow)
        for conn in held:
            conn.close()
        redis_command(redis_port, "DEL", "telemetry-test")
        with psycopg.connect(endpoints.db.conninfo(), autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS telemetry_lag")
    time.sleep(4)  # the replica catches up
    telemetry = sampler.stop()
    print(f"\n{len(telemetry.readings)} readings; last of each series:")
    for metric in Metric:
        for name, points in telemetry.series(metric).items():
            peak = max(v for _, v in points)
            print(f"  {metric.value} {name}: {points[-1][1]:,.0f} (max {peak:,.0f})")

    assert telemetry.gaps == ()
    lag = telemetry.series(Metric.REPLICATION_LAG)
    assert sorted(lag) == replicas
    assert max(v for _, v in lag[slow]) > 1_000_000  # megabytes behind while throttled
    assert lag[slow][-1][1] < 64 * 1024  # and caught up once the throttle was lifted
    assert all(v < 1_000_000 for _, v in lag[replicas[1]])
    connections = telemetry.series(Metric.DB_CONNECTIONS)
    assert {"active", "idle", OTHER_ROLES, TOTAL} <= set(connections)
    assert (
        max(v for _, v in connections["idle"])
        >= _first(telemetry, Metric.DB_CONNECTIONS, "idle") + IDLE_CONNECTIONS
    )
    assert min(v for _, v in connections["active"]) >= 1  # the sampler's own
    memory = telemetry.series(Metric.REDIS_MEMORY)["used_memory"]
    assert max(v for _, v in memory) >= memory[0][1] + BIG_VALUE_BYTES
    ok = "odoo-blue@file 200"
    counted = _last(telemetry, Metric.REQUESTS, ok) - _first(telemetry, Metric.REQUESTS, ok)
    assert counted >= REQUESTS
    assert max(v for _, v in telemetry.rates(Metric.REQUESTS)[ok]) > 0
    assert {v for _, v in telemetry.series(Metric.DB_TIMELINE)[""]} == {
        _first(telemetry, Metric.DB_TIMELINE, "")
    }


@pytest.fixture
def black_hole() -> Iterator[HostPort]:
    """A port that accepts connections and never answers (a frozen server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen(16)
        yield HostPort(LOOPBACK, sock.getsockname()[1])


@pytest.mark.integration
def test_unreachable_sources_become_gaps_named_after_their_errors(
    local_stack: LocalPlatform, black_hole: HostPort
) -> None:
    real = local_stack.endpoints()
    (closed,) = pick_free_ports(1)
    endpoints = dataclasses.replace(
        real,
        redis=HostPort(LOOPBACK, closed),
        traefik_metrics=f"http://{black_hole}/metrics",
        patroni_rest={"pg-9": f"http://{LOOPBACK}:{closed}"},
    )
    sampler = TelemetrySampler(endpoints)
    started = time.monotonic()
    sampler.start()
    time.sleep(3)
    telemetry = sampler.stop()
    assert time.monotonic() - started < 3 + STOP_WAIT_S

    errors = {(g.source, g.error) for g in telemetry.gaps}
    assert (Source.REDIS, "ConnectionRefusedError") in errors
    assert (Source.TRAEFIK, "ReadTimeout") in errors
    assert (Source.PATRONI, "PlatformError") in errors
    assert len([g for g in telemetry.gaps if g.source is Source.REDIS]) >= 3
    assert all(g.detail for g in telemetry.gaps)
    # The database was reachable: its readings went on beside the gaps.
    assert not any(g.source is Source.POSTGRES for g in telemetry.gaps)
    assert len(telemetry.series(Metric.DB_CONNECTIONS)[TOTAL]) >= 3
    for metric in (Metric.REDIS_MEMORY, Metric.REQUESTS, Metric.REPLICATION_LAG):
        assert telemetry.series(metric) == {}


def test_a_database_that_never_answers_is_a_gap_and_stop_does_not_wait_for_it(
    black_hole: HostPort,
) -> None:
    nowhere = f"http://{black_hole}"
    endpoints = StackEndpoints(
        platform="none",
        run_id="t",
        ingress_url=nowhere,
        app_login=AppLogin("odoo", "admin", "secret-password"),
        db=DatabaseAccess(black_hole, black_hole, "odoo", "odoo", "secret-password"),
        redis=black_hole,
        s3=S3Access(black_hole, "key", "secret", "us-east-1", "a", "b", "/none"),
        toxiproxy_api=nowhere,
        traefik_api=nowhere,
        traefik_metrics=f"{nowhere}/metrics",
    )
    sampler = TelemetrySampler(endpoints)
    started = time.monotonic()
    sampler.start()
    time.sleep(1)
    telemetry = sampler.stop()
    assert time.monotonic() - started < 1 + STOP_WAIT_S + 0.5
    assert telemetry.readings == ()
    by_source = {g.source: g.error for g in telemetry.gaps}
    assert by_source[Source.POSTGRES] == "ConnectionTimeout"
    assert by_source[Source.REDIS] == "TimeoutError"
    assert by_source[Source.TRAEFIK] == "ReadTimeout"
    assert Source.PATRONI not in by_source  # no Patroni on this platform: not sampled


def test_request_rates_start_new_series_from_zero_and_skip_counter_resets() -> None:
    ok, bad = "web 200", "web 502"
    readings = (
        Reading(0, Metric.REQUESTS, ok, 100),
        Reading(1 * S, Metric.REQUESTS, ok, 110),
        Reading(2 * S, Metric.REQUESTS, ok, 130),
        Reading(2 * S, Metric.REQUESTS, bad, 6),
        Reading(4 * S, Metric.REQUESTS, ok, 5),  # Traefik restarted: the counter was reset
        Reading(4 * S, Metric.REQUESTS, bad, 8),
        Reading(5 * S, Metric.REQUESTS, ok, 15),
    )
    rates = Telemetry(1.0, readings).rates(Metric.REQUESTS)
    assert rates[ok] == ((1 * S, 10.0), (2 * S, 20.0), (5 * S, 10.0))
    # 502s first appear at 2 s: they were 0 at the scrape before.
    assert rates[bad] == ((2 * S, 6.0), (4 * S, 1.0))


def test_traefik_requests_are_summed_over_methods_per_service_and_code() -> None:
    exposition = """
# HELP traefik_service_requests_total How many HTTP requests processed on a service.
# TYPE traefik_service_requests_total counter
traefik_service_requests_total{code="200",method="GET",protocol="http",service="odoo-blue@file"} 12
traefik_service_requests_total{code="200",method="POST",protocol="http",service="odoo-blue@file"} 30
traefik_service_requests_total{code="502",method="POST",protocol="http",service="odoo-blue@file"} 2
traefik_entrypoint_requests_total{code="200",entrypoint="web",method="GET",protocol="http"} 44
traefik_service_requests_bytes_total{code="200",method="GET",protocol="http",service="x"} 9
"""
    assert traefik_requests(exposition) == [
        (Metric.REQUESTS, "odoo-blue@file 200", 42.0),
        (Metric.REQUESTS, "odoo-blue@file 502", 2.0),
    ]
