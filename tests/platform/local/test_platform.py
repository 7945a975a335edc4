"""The local platform end to end, on real daemons (one stack for the session)."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
import toxiproxy

from harness.platform.base import Health, IoLimits, Platform
from harness.platform.local.component import LocalComponent
from harness.platform.local.patroni import DbRole, PatroniMember
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.process import wait_until
from harness.s3 import S3Client

pytestmark = pytest.mark.integration


def _member(stack: LocalPlatform, name: str) -> PatroniMember:
    return next(m for m in stack.members if m.name == name)


def _rw(stack: LocalPlatform, timeout_s: int = 3) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        stack.endpoints().db.conninfo(connect_timeout_s=timeout_s), autocommit=True
    )


def _dedicated_nodes(stack: LocalPlatform) -> set[str]:
    """Nodes running only DB members and app instances (no shared service)."""
    return {
        node
        for node, members in stack.nodes().items()
        if all(m.startswith(("pg-", "app-")) for m in members)
    }


def _leader_on_a_dedicated_node(stack: LocalPlatform) -> str:
    """Crashing a node that also runs etcd or HAProxy is a zone outage, not a leader loss:
    move the leader to a dedicated node first (earlier tests may have moved it)."""
    leader = stack.leader()
    dedicated = _dedicated_nodes(stack)
    if leader is None or _member(stack, leader).node not in dedicated:
        target = next(m.name for m in stack.members if m.node in dedicated and m.name != leader)
        stack.failover(target)
        stack.cluster.wait_all_streaming(60)
        leader = target
    return leader


def _restore(stack: LocalPlatform, node: str) -> None:
    """Bring every component of ``node`` back and wait for all replicas to stream."""
    if stack.cgroups is not None and stack.cgroups.is_frozen(node):
        stack.thaw_node(node)
    for name in stack.nodes()[node]:
        component = stack.component(name)
        if component.pid() is None or not component.healthy():
            stack.start_component(name)
    stack.cluster.wait_all_streaming(60)


def test_status_shows_every_component_up_and_one_leader(local_stack: LocalPlatform) -> None:
    status = local_stack.status()
    down = [c.name for c in status.components if c.health is not Health.UP]
    assert down == []
    assert status.leader in {"pg-1", "pg-2", "pg-3"}
    roles = sorted(m.role for m in status.db_members)
    assert roles == ["leader", "replica", "replica"]


def test_a_write_through_the_rw_route_is_visible_on_both_replicas(
    local_stack: LocalPlatform,
) -> None:
    with _rw(local_stack) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t_visible (k text PRIMARY KEY)")
        conn.execute("INSERT INTO t_visible VALUES (%s)", ("written-through-haproxy",))
    leader = local_stack.leader()
    replicas = [m for m in local_stack.members if m.name != leader]
    assert len(replicas) == 2
    for member in replicas:
        deadline = time.monotonic() + 10
        while True:
            with psycopg.connect(member.conninfo(), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery(), count(*) FROM t_visible "
                    "WHERE k = 'written-through-haproxy'"
                ).fetchone()
            assert row is not None
            if row[1] == 1:
                assert row[0] is True, f"{member.name} is not a replica"
                break
            assert time.monotonic() < deadline, f"write never reached {member.name}"
            time.sleep(0.1)


def _first_write_after(stack: LocalPlatform, start: float, timeout_s: float) -> float:
    while time.monotonic() - start < timeout_s:
        try:
            with _rw(stack, timeout_s=1) as conn:
                conn.execute("CREATE TABLE IF NOT EXISTS t_failover (t double precision)")
                conn.execute("INSERT INTO t_failover VALUES (%s)", (time.time(),))
            return time.monotonic() - start
        except psycopg.Error:
            time.sleep(0.05)
    raise AssertionError(f"no write succeeded through the rw route within {timeout_s} s")


def test_crashing_the_leaders_node_moves_writes_to_a_new_leader(local_stack: LocalPlatform) -> None:
    old = _leader_on_a_dedicated_node(local_stack)
    old_timeline = local_stack.cluster.timeline()
    node = _member(local_stack, old).node
    log = local_stack.ctx.log_path(old)
    ttl = local_stack.topology.patroni.ttl
    crashed_at = time.monotonic()
    local_stack.crash_node(node)
    try:
        writable_after = _first_write_after(local_stack, crashed_at, ttl + 30)
        new = local_stack.leader()
        print(
            f"\nleader {old} crashed; {new} writable through the app's DB route after "
            f"{writable_after:.2f} s (ttl {ttl} s)"
        )
        assert new is not None
        assert new != old
        assert local_stack.cluster.timeline() == (old_timeline or 0) + 1
        offset = log.stat().st_size
    finally:
        _restore(local_stack, node)
    roles = {m.name: m.role for m in local_stack.cluster.members()}
    assert roles[old] is DbRole.REPLICA
    with log.open("rb") as fh:
        fh.seek(offset)
        assert "running pg_rewind from" in fh.read().decode("utf-8", "replace")


def test_a_failover_to_a_named_replica_promotes_it_and_rw_follows(
    local_stack: LocalPlatform,
) -> None:
    old = local_stack.leader()
    candidate = next(m.name for m in local_stack.members if m.name != old)
    assert local_stack.failover(candidate) == candidate
    wait_until(
        lambda: local_stack.haproxy.rw_servers_up() == [candidate], 10, "rw on the candidate"
    )
    local_stack.cluster.wait_all_streaming(60)


def test_the_local_platform_and_its_components_conform_to_their_protocols(
    local_stack: LocalPlatform,
) -> None:
    platform: Platform = local_stack
    components: list[LocalComponent] = [
        local_stack.etcd,
        local_stack.s3,
        *local_stack.members,
        local_stack.haproxy,
        local_stack.redis,
        local_stack.fault_proxy,
        *local_stack.apps,
        local_stack.traefik,
    ]
    assert platform.name == "local"
    # The test before moved the leader: HAProxy and the apps settle within seconds.
    wait_until(lambda: all(c.healthy() for c in components), 30, "every component healthy")


def test_a_planned_switchover_moves_the_leader(local_stack: LocalPlatform) -> None:
    old = local_stack.leader()
    new = local_stack.switchover()
    assert new != old
    assert local_stack.leader() == new
    local_stack.cluster.wait_all_streaming(60)
    assert _first_write_after(local_stack, time.monotonic(), 30) < 30


def test_freezing_a_replicas_node_stops_it_and_thawing_resumes_it(
    local_stack: LocalPlatform,
) -> None:
    leader = local_stack.leader()
    dedicated = _dedicated_nodes(local_stack)
    replica = next(m for m in local_stack.members if m.name != leader and m.node in dedicated)
    local_stack.freeze_node(replica.node)
    try:
        frozen = {c.name: c.health for c in local_stack.status().components}
        assert frozen[replica.name] is Health.FROZEN
        with (
            pytest.raises(psycopg.OperationalError),
            psycopg.connect(replica.conninfo(connect_timeout_s=2), autocommit=True) as conn,
        ):
            conn.execute("SELECT 1")
    finally:
        local_stack.thaw_node(replica.node)
    with psycopg.connect(replica.conninfo(connect_timeout_s=5), autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def _commit_latencies(stack: LocalPlatform, count: int) -> list[float]:
    leader = _member(stack, stack.leader() or "")
    out = []
    with psycopg.connect(leader.conninfo(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t_fsync (v int)")
        conn.execute("SET synchronous_commit = on")
        for i in range(count):
            t0 = time.perf_counter()
            conn.execute("INSERT INTO t_fsync VALUES (%s)", (i,))
            out.append(time.perf_counter() - t0)
    return out


def test_throttling_the_leaders_storage_slows_its_commits(local_stack: LocalPlatform) -> None:
    leader = local_stack.leader()
    assert leader is not None
    free = statistics.median(_commit_latencies(local_stack, 30))
    local_stack.throttle_storage(leader, IoLimits(write_iops=20))
    try:
        slow = statistics.median(_commit_latencies(local_stack, 15))
    finally:
        local_stack.unthrottle_storage(leader)
    print(
        f"\ncommit median on {leader}: {free * 1000:.1f} ms free, "
        f"{slow * 1000:.1f} ms at 20 write IOPS"
    )
    assert slow > 4 * free
    assert slow > 0.03


def test_redis_answers_through_its_proxy(local_stack: LocalPlatform) -> None:
    redis = local_stack.endpoints().redis
    with socket.create_connection((redis.host, redis.port), timeout=3) as sock:
        sock.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        data = b""
        while not data.endswith(b"hello\r\n"):
            chunk = sock.recv(1024)
            assert chunk, f"redis closed the connection after {data!r}"
            data += chunk
    assert data == b"+OK\r\n$5\r\nhello\r\n"


def test_s3_put_and_get_through_the_app_route(local_stack: LocalPlatform) -> None:
    access = local_stack.endpoints().s3
    with S3Client.from_access(access) as s3:
        s3.put_object(access.attachments_bucket, "pod/1.txt", b"proof of delivery")
        assert s3.get_object(access.attachments_bucket, "pod/1.txt") == b"proof of delivery"


def test_traefik_reaches_every_app_instance(local_stack: LocalPlatform) -> None:
    ingress = local_stack.endpoints().ingress_url
    wanted = set(local_stack.topology.app_instances)
    seen: set[str] = set()
    answers: list[str] = []
    # An instance may still be refilling its DB pool after the faults of earlier tests
    # (its answer is then a 503 naming it): keep asking, for a bounded time.
    deadline = time.monotonic() + 30
    with httpx.Client(timeout=5) as client:
        while seen != wanted and time.monotonic() < deadline:
            response = client.get(f"{ingress}/__double__/status")
            answers.append(f"{response.status_code} {response.text[:120]}")
            if response.status_code == 200:
                seen.add(response.json()["instance"])
    assert seen == wanted, answers[-5:]


def test_the_app_answers_odoo_json_rpc_through_the_ingress(local_stack: LocalPlatform) -> None:
    endpoints = local_stack.endpoints()
    # The run's own database and every other tenant's, each with its own rows.
    assert [t.db for t in endpoints.tenants] == ["odoo_tenant2"]
    for login in (endpoints.app_login, *endpoints.tenants):
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {
                "service": "common",
                "method": "login",
                "args": [login.db, login.login, login.password],
            },
            "id": 1,
        }
        response = httpx.post(f"{endpoints.ingress_url}/jsonrpc", json=body, timeout=10)
        assert response.status_code == 200
        assert response.json()["result"] == 2, login.db
        with psycopg.connect(endpoints.db.conninfo(dbname=login.db)) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == (login.db,)


@pytest.fixture
def db_link(local_stack: LocalPlatform) -> Iterator[toxiproxy.proxy.Proxy]:
    api = local_stack.endpoints().toxiproxy_api.removeprefix("http://")
    host, port = api.split(":")
    server = toxiproxy.Toxiproxy()
    server.update_api_consumer(host, int(port))
    proxy = server.get_proxy("db")
    assert proxy is not None
    yield proxy
    server.reset()


def _select_round_trips(stack: LocalPlatform, count: int) -> float:
    with _rw(stack) as conn:
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            conn.execute("SELECT 1")
            samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def test_toxiproxy_latency_on_the_db_link_is_measurably_added(
    local_stack: LocalPlatform, db_link: toxiproxy.proxy.Proxy
) -> None:
    base = _select_round_trips(local_stack, 20)
    db_link.add_toxic(type="latency", attributes={"latency": 100, "jitter": 0})
    slowed = _select_round_trips(local_stack, 10)
    db_link.destroy_toxic("latency_downstream")
    print(
        f"\nSELECT 1 median through the db link: {base * 1000:.2f} ms, with 100 ms latency "
        f"{slowed * 1000:.2f} ms"
    )
    assert 0.095 <= slowed - base <= 0.2


def test_component_logs_since_offsets_hold_only_what_came_after(
    local_stack: LocalPlatform,
) -> None:
    offsets = local_stack.log_offsets()
    # Every component's log, and whatever else logged in the run (the fault reaper).
    assert {c.name for c in local_stack.status().components} <= set(offsets)
    leader = local_stack.leader()
    assert leader is not None
    time.sleep(2.5)  # Patroni logs every HA loop (loop_wait 2 s)
    window = local_stack.component_logs(since=offsets)
    assert set(window) == set(offsets)
    assert "the leader with the lock" in window[leader]
    whole = local_stack.ctx.log_path(leader).read_bytes()
    assert whole[offsets[leader] :].startswith(window[leader].encode())
    assert len(window[leader].encode()) < len(whole)
