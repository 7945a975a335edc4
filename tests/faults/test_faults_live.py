"""Every fault against the real local stack: inject, prove it landed (the measured
effect is printed; run with ``-s``), revert, and leave the stack whole. Then the
safety nets: the journal holds the undo before the act, Ctrl-C reverts, an expired
lease is enforced, a SIGKILLed runner's fault is reverted by the reaper, and
``recover`` reverts what a killed runner left when no reaper runs.

Tests run in file order on the session's stack; each restores what it broke.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from harness.core import EventKind
from harness.core.ledger import WriteOutcome
from harness.errors import ComponentFailed, FaultDidNotLand
from harness.faults import journal, links, reaper
from harness.faults.base import Fault, FaultRuntime
from harness.faults.cache import RedisDown, RedisRestart
from harness.faults.database import LeaderCrash, Switchover
from harness.faults.lease import RevertReason
from harness.faults.measure import process_state
from harness.faults.network import LinkBandwidth, LinkLatency, LinkPartition, LinkReset
from harness.faults.node import NodeCrash, NodeHang, ZoneOutage
from harness.faults.objectstore import S3Outage, S3OutageMode
from harness.faults.recover import recover
from harness.faults.storage import DbPathLatency, StorageThrottle
from harness.faults.surge import OrderImportSurge
from harness.faults.undo import UndoOp
from harness.ledger import AppKeyReader, KeyKind
from harness.load.catalog import write_catalog
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from harness.platform.base import Health, IoLimits
from harness.platform.endpoints import HostPort
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.process import log_tail
from harness.scenario import choose
from harness.scenario.watch import TimelineWatch

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]

# A runner in its own process: injects a node hang and then waits to be killed.
RUNNER = """
import sys, time
from pathlib import Path
from harness.faults.base import FaultRuntime
from harness.faults.node import NodeHang
from harness.faults.recover import attach_platform
run_dir = Path(sys.argv[1])
runtime = FaultRuntime(attach_platform(run_dir), run_dir, start_reaper=sys.argv[2] == "reaper")
fault = NodeHang(runtime, sys.argv[3], lease_s=float(sys.argv[4]))
fault.inject()
print(fault.fault_id, flush=True)
time.sleep(600)
"""


@pytest.fixture(scope="module")
def runtime(local_stack: LocalPlatform) -> Iterator[FaultRuntime]:
    run_dir = local_stack.plan.run_dir
    yield FaultRuntime(local_stack, run_dir)
    reaper.stop(run_dir)
    assert reaper.running_pid(run_dir) is None


def assert_whole(stack: LocalPlatform) -> None:
    """Every component UP, every replica streaming, no toxic, every proxy enabled."""
    try:
        stack.cluster.wait_all_streaming(90)
    except ComponentFailed as exc:
        tails = "\n".join(
            f"--- {m.name}\n{log_tail(stack.ctx.log_path(m.name), 15)}" for m in stack.members
        )
        raise AssertionError(f"{exc}\n{tails}") from exc
    deadline = time.monotonic() + 30
    while True:
        down = [c.name for c in stack.status().components if c.health is not Health.UP]
        if not down:
            break
        assert time.monotonic() < deadline, f"not UP after the revert: {down}"
        time.sleep(0.2)
    for state in links.all_states(stack.endpoints().toxiproxy_api):
        assert state.enabled, f"link {state.name} left disabled"
        assert state.toxics == (), f"link {state.name} left with toxics {state.toxics}"
    assert journal.pending(stack.plan.run_dir) == []


def run(fault: Fault) -> None:
    """Inject, prove it landed (printed), revert; the three instants are ordered."""
    with fault:
        evidence = fault.landed()
        print(f"\n[{fault.name}] {evidence.sentence} ({evidence.measured:.1f} {evidence.unit})")
    assert fault.t_inject_ns is not None
    assert fault.t_landed_ns is not None
    assert fault.t_revert_ns is not None
    assert fault.t_inject_ns <= fault.t_landed_ns <= fault.t_revert_ns


def replica_node(stack: LocalPlatform) -> str:
    """A node running a replica and not the shared services (node-c holds etcd & co)."""
    leader = stack.leader()
    for node in ("node-a", "node-b"):
        members = [c for c in stack.nodes()[node] if c.startswith("pg-")]
        if members and leader not in members:
            return node
    raise AssertionError(f"no replica-only node among node-a, node-b (leader {leader})")


# -- node ---------------------------------------------------------------------------------
def test_node_hang_journals_its_undo_before_it_acts(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    fault = NodeHang(runtime, "node-b")
    with fault:
        lines = [
            r for r in journal.raw_lines(runtime.run_dir) if r.get("fault_id") == fault.fault_id
        ]
        assert [r["state"] for r in lines] == ["intent", "applied"]
        assert lines[0]["undo"] == [{"op": "thaw_node", "args": {"node": "node-b"}}]
        assert lines[0]["owner_pid"] == os.getpid()
        evidence = fault.landed()
        print(f"\n[{fault.name}] {evidence.sentence}")
        assert evidence.measured >= 2
    entry = journal.entry(runtime.run_dir, str(fault.fault_id))
    assert entry is not None
    assert entry.reason is RevertReason.OWNER
    assert reaper.running_pid(runtime.run_dir) is not None, "the first fault starts the reaper"
    assert_whole(local_stack)


def _interrupted_inside(fault: NodeHang) -> None:
    with fault:
        fault.landed()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)


def test_sigint_inside_the_context_manager_reverts(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    fault = NodeHang(runtime, "node-a")
    with pytest.raises(KeyboardInterrupt):
        _interrupted_inside(fault)
    assert fault.t_landed_ns is not None
    assert fault.t_revert_ns is not None
    assert not _frozen(local_stack, "node-a")
    assert_whole(local_stack)


def test_zone_outage_freezes_two_nodes(local_stack: LocalPlatform, runtime: FaultRuntime) -> None:
    run(ZoneOutage(runtime, ["node-a", "node-b"]))
    assert_whole(local_stack)


def test_node_crash_kills_every_process_and_the_revert_restarts_them(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    node = replica_node(local_stack)
    fault = NodeCrash(runtime, node)
    assert {s.op for s in fault.undo_steps()} == {UndoOp.START_COMPONENT}
    run(fault)
    assert_whole(local_stack)


# -- storage ------------------------------------------------------------------------------
def test_throttling_the_leaders_disk_slows_commits(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    run(StorageThrottle(runtime, IoLimits(write_iops=20)))
    assert_whole(local_stack)


def test_throttling_a_replica_does_not_land_and_is_reverted(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    replica = next(m.name for m in local_stack.members if m.name != local_stack.leader())
    fault = StorageThrottle(runtime, IoLimits(write_iops=20), member=replica)
    with pytest.raises(FaultDidNotLand, match="not the leader") as caught, fault:
        fault.landed()
    print(f"\n[{fault.name}] {caught.value}")
    assert local_stack.cgroups is not None
    node = local_stack.topology.node_of(replica)
    assert not local_stack.cgroups.throttled(f"{node}/{replica}")
    assert_whole(local_stack)


def test_db_path_latency_and_jitter_are_measured_through_the_link(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    run(DbPathLatency(runtime, 150, jitter_ms=60))
    assert_whole(local_stack)


def test_a_latency_toxic_that_touches_no_connection_does_not_land(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    fault = LinkLatency(runtime, "redis", 200, toxicity=0.0)
    with pytest.raises(FaultDidNotLand, match="at least 80%") as caught, fault:
        fault.landed()
    print(f"\n[{fault.name}] {caught.value}")
    assert_whole(local_stack)


# -- network ------------------------------------------------------------------------------
@pytest.mark.parametrize("link", ["db", "redis"])
def test_a_partition_refuses_connections(
    local_stack: LocalPlatform, runtime: FaultRuntime, link: str
) -> None:
    run(LinkPartition(runtime, link))
    assert_whole(local_stack)


def test_a_bandwidth_cap_slows_replies(local_stack: LocalPlatform, runtime: FaultRuntime) -> None:
    run(LinkBandwidth(runtime, "db", 50))
    assert_whole(local_stack)


@pytest.mark.parametrize("link", ["db", "redis"])
def test_reset_peer_resets_connections(
    local_stack: LocalPlatform, runtime: FaultRuntime, link: str
) -> None:
    run(LinkReset(runtime, link))
    assert_whole(local_stack)


# -- cache and object store -------------------------------------------------------------
def test_redis_down_refuses_and_comes_back(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    run(RedisDown(runtime))
    assert_whole(local_stack)


def test_redis_restart_gets_a_new_run_id(local_stack: LocalPlatform, runtime: FaultRuntime) -> None:
    run(RedisRestart(runtime))
    assert_whole(local_stack)


@pytest.mark.parametrize("mode", list(S3OutageMode))
def test_s3_outage_fails_every_request(
    local_stack: LocalPlatform, runtime: FaultRuntime, mode: S3OutageMode
) -> None:
    run(S3Outage(runtime, mode))
    assert_whole(local_stack)


# -- which nodes scenarios act on --------------------------------------------------------
def test_scenarios_choose_plain_nodes_from_the_topology(local_stack: LocalPlatform) -> None:
    plain = choose.plain_nodes(local_stack)
    assert plain == ["node-a", "node-b"]  # node-c holds etcd, HAProxy, Traefik & co
    assert choose.zone(local_stack) == ["node-a", "node-b"]
    node = choose.leader_node(local_stack)
    assert node in plain
    assert local_stack.leader() in local_stack.nodes()[node]
    other = choose.app_node_without_leader(local_stack, random.Random(1))
    assert other in plain
    assert other != node
    with pytest.raises(choose.TopologyUnfit, match=r"expected 3 nodes without shared services"):
        choose.zone(local_stack, size=3)


# -- batch surge --------------------------------------------------------------------------
def test_an_import_surge_lands_stops_on_revert_and_hands_over_its_writes(
    local_stack: LocalPlatform, runtime: FaultRuntime, tmp_path: Path
) -> None:
    ep = local_stack.endpoints()
    login = ep.app_login
    with OdooClient(ep.ingress_url, login.db, login.login, login.password, 120) as client:
        client.login()
        catalog = write_catalog(seed_warehouse(client, products=20, seed=91), tmp_path / "c.json")
        fault = OrderImportSurge(runtime, catalog)
        run(fault)
        pid = int(fault.pidfile.read_text().split()[0])
        writes = fault.writes()
        acked = [e.record.key for e in writes if e.record.outcome is WriteOutcome.OK]
        found = AppKeyReader(client).copies(KeyKind.SALE_ORDER, acked)
    assert process_state(pid) in (None, "Z"), "Locust still runs after the revert"
    assert len(acked) >= 10
    assert {(e.kind, e.tenant) for e in writes} == {(KeyKind.SALE_ORDER, None)}
    assert all(found.get(key) == 1 for key in acked)
    assert journal.pending(local_stack.plan.run_dir) == []


# -- database -----------------------------------------------------------------------------
WRITES_TABLE = "resilience_failover_writes"


@dataclass(frozen=True)
class WriteAttempt:
    target: str
    t_start_ns: int
    t_end_ns: int
    ok: bool


class Writes:
    """An INSERT tried every ~20 ms on each target (each DB member straight, and the
    read-write route), each from its own thread on a fresh connection, every attempt
    timed."""

    def __init__(self, targets: Mapping[str, str]) -> None:
        self._attempts: list[WriteAttempt] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=item, name=f"writes-{item[0]}", daemon=True)
            for item in targets.items()
        ]

    def __enter__(self) -> Writes:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self, target: str, conninfo: str) -> None:
        while not self._stop.wait(0.02):
            start = time.monotonic_ns()
            try:
                with psycopg.connect(conninfo, autocommit=True) as conn:
                    conn.execute(f"INSERT INTO {WRITES_TABLE} VALUES (%s)", (target,))
                ok = True
            except psycopg.Error:
                ok = False
            with self._lock:
                self._attempts.append(WriteAttempt(target, start, time.monotonic_ns(), ok))

    def _of(self, target: str) -> list[WriteAttempt]:
        with self._lock:
            return [a for a in self._attempts if a.target == target]

    def first_ok(self, target: str, after_ns: int) -> WriteAttempt | None:
        return next((a for a in self._of(target) if a.ok and a.t_start_ns > after_ns), None)

    def last_refused_before(self, target: str, before_ns: int) -> WriteAttempt | None:
        refused = [a for a in self._of(target) if not a.ok and a.t_end_ns < before_ns]
        return refused[-1] if refused else None


def _superuser_conninfo(stack: LocalPlatform, via: HostPort | None = None) -> str:
    """Superuser into the ``postgres`` database, through ``via`` (default: the router)."""
    creds = stack.members[0].credentials
    target = via or stack.endpoints().db.rw
    return (
        f"host={target.host} port={target.port} dbname=postgres user={creds.superuser} "
        f"password={creds.superuser_password} connect_timeout=1 "
        "options='-c statement_timeout=1000'"
    )


@contextmanager
def writes_table(stack: LocalPlatform) -> Iterator[None]:
    with psycopg.connect(_superuser_conninfo(stack), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {WRITES_TABLE} (target text)")
    try:
        yield
    finally:
        # Straight to the leader: the router may still point at none right after a fault.
        leader = stack.cluster.wait_for_leader(60)
        member = next(m for m in stack.members if m.name == leader)
        conninfo = _superuser_conninfo(stack, member.pg_address)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {WRITES_TABLE}")


@dataclass(frozen=True)
class Noticed:
    kind: EventKind
    t_ns: int
    label: str
    noticed_ns: int


@contextmanager
def watching(stack: LocalPlatform) -> Iterator[list[Noticed]]:
    """The scenario's timeline watch on the stack, with one anchor pair taken now."""
    events: list[Noticed] = []
    watch = TimelineWatch(
        stack,
        time.monotonic_ns(),
        time.time_ns(),
        lambda kind, t, label: events.append(Noticed(kind, t, label, time.monotonic_ns())),
    )
    watch.start()
    try:
        yield events
    finally:
        watch.stop()


def _switches(events: list[Noticed]) -> list[Noticed]:
    return [e for e in events if e.kind is EventKind.DB_TIMELINE_SWITCH]


def _wait(what: str, check: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"expected {what} within {timeout_s:.0f} s"
        time.sleep(0.1)


def test_switchover_moves_the_leader_and_the_revert_moves_it_back(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    before = local_stack.leader()
    fault = Switchover(runtime)
    with watching(local_stack) as events:
        run(fault)
        _wait("two promotions on Patroni's record", lambda: len(_switches(events)) == 2)
    assert fault.new_leader not in (None, before)
    assert local_stack.leader() == before
    there, back = _switches(events)
    assert there.label.endswith(f", {fault.new_leader} promoted")
    assert back.label.endswith(f", {before} promoted")
    assert fault.t_inject_ns is not None
    assert fault.t_revert_ns is not None
    assert fault.t_inject_ns < there.t_ns < back.t_ns < fault.t_revert_ns
    print(
        f"\n[switchover] {there.label} at +{(there.t_ns - fault.t_inject_ns) / 1e9:.3f} s, "
        f"{back.label} at +{(back.t_ns - fault.t_inject_ns) / 1e9:.3f} s after the request"
    )
    assert_whole(local_stack)


def test_a_switchover_the_cluster_refuses_did_not_land(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    before = local_stack.leader()
    fault = Switchover(runtime, candidate="pg-9")
    with pytest.raises(FaultDidNotLand, match="still leading") as caught, fault:
        fault.landed()
    print(f"\n[{fault.name}] {caught.value}")
    assert "candidate does not exists" in str(caught.value)  # Patroni's own words (412)
    assert local_stack.leader() == before
    assert_whole(local_stack)


def test_leader_crash_lands_at_once_and_the_promotion_is_dated_before_the_first_write(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    """t_failover is Patroni's record of the promotion, which lies before the first
    write the new leader accepts, and before the watch (a poller) even noticed it."""
    targets = {m.name: _superuser_conninfo(local_stack, m.pg_address) for m in local_stack.members}
    fault = LeaderCrash(runtime)
    targets["router"] = _superuser_conninfo(local_stack)
    with (
        writes_table(local_stack),
        watching(local_stack) as events,
        Writes(targets) as writes,
        fault,
    ):
        evidence = fault.landed()
        print(f"\n[{fault.name}] {evidence.sentence}")
        assert "is dead" in evidence.sentence, "read from /proc, not from a status read"
        assert evidence.measured < 1.0, "the old primary's death is seen at once"
        assert fault.t_inject_ns is not None
        t_inject = fault.t_inject_ns
        new = local_stack.cluster.wait_for_leader(60, not_equal=fault.old_leader)
        _wait(
            f"a write accepted by {new} and through the router, and the promotion recorded",
            lambda: (
                writes.first_ok(new, t_inject) is not None
                and writes.first_ok("router", t_inject) is not None
                and len(_switches(events)) == 1
            ),
        )
    (switch,) = _switches(events)
    direct = writes.first_ok(new, t_inject)
    routed = writes.first_ok("router", t_inject)
    assert direct is not None
    assert routed is not None
    assert switch.label.startswith("timeline ")
    assert switch.label.endswith(f", {new} promoted")
    assert fault.t_landed_ns is not None
    assert t_inject < fault.t_landed_ns < switch.t_ns < direct.t_end_ns
    assert switch.t_ns < routed.t_end_ns
    refused = writes.last_refused_before(new, direct.t_start_ns)
    assert refused is not None, f"{new} refused writes while it was a replica"

    def at(t_ns: int) -> str:
        return f"+{(t_ns - t_inject) / 1e9:.3f} s"

    print(
        f"[{fault.name}] after the kill: landed {at(fault.t_landed_ns)}; "
        f"{switch.label} at {at(switch.t_ns)} (Patroni's record); "
        f"{new} last refused a write started {at(refused.t_start_ns)}, first accepted one "
        f"{at(direct.t_start_ns)}..{at(direct.t_end_ns)}; first write through the router "
        f"{at(routed.t_end_ns)}; the watch noticed the promotion at {at(switch.noticed_ns)}"
    )
    assert_whole(local_stack)


def _set_pause(stack: LocalPlatform, paused: bool) -> None:
    """Patroni's maintenance mode (``patronictl pause``): no automatic failover."""
    answers = []
    for url in stack.endpoints().patroni_rest.values():  # any live member writes the DCS
        with contextlib.suppress(httpx.HTTPError):
            answers.append(httpx.patch(f"{url}/config", json={"pause": paused}, timeout=5))
            break
    assert [r.status_code for r in answers] == [200], [r.text for r in answers]

    def everyone_agrees() -> bool:
        for member_url in stack.endpoints().patroni_rest.values():
            with contextlib.suppress(httpx.HTTPError):
                if (
                    bool(httpx.get(f"{member_url}/patroni", timeout=2).json().get("pause"))
                    != paused
                ):
                    return False
        return True

    _wait(f"every reachable member {'paused' if paused else 'resumed'}", everyone_agrees)


def test_a_leader_crash_with_failover_blocked_lands_and_leaves_no_leader(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    """Whether a new leader comes is recovery (RTO), not whether the crash landed."""
    ttl = local_stack.timings().leader_ttl_s
    fault = LeaderCrash(runtime)
    _set_pause(local_stack, True)
    try:
        with fault:
            evidence = fault.landed()
            print(f"\n[{fault.name}, failover paused] {evidence.sentence}")
            assert evidence.measured < 1.0
            time.sleep(ttl + 2 * local_stack.timings().ha_loop_s + 2)
            assert local_stack.leader() is None, "a paused cluster promoted a replica"
            _set_pause(local_stack, False)
            local_stack.cluster.wait_for_leader(60, not_equal=fault.old_leader)
    finally:
        _set_pause(local_stack, False)
    assert_whole(local_stack)


# -- leases, the reaper, recover ----------------------------------------------------------
def _frozen(stack: LocalPlatform, node: str) -> bool:
    return stack.cgroups is not None and stack.cgroups.is_frozen(node)


def _reverted_entry(run_dir: Path, fault_id: str) -> journal.JournalEntry:
    """The entry once the reaper recorded it reverted (it thaws first, then writes)."""
    deadline = time.monotonic() + 5
    while True:
        entry = journal.entry(run_dir, fault_id)
        assert entry is not None
        if entry.state is journal.EntryState.REVERTED:
            return entry
        assert time.monotonic() < deadline, f"{fault_id} not recorded reverted: {entry}"
        time.sleep(0.02)


def test_an_expired_lease_is_reverted_by_the_reaper_while_its_owner_lives(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    fault = NodeHang(runtime, "node-b", lease_s=3)
    fault.inject()
    started = time.monotonic()
    while _frozen(local_stack, "node-b"):
        assert time.monotonic() - started < 3 + 5, "the reaper did not enforce the lease"
        time.sleep(0.05)
    thawed_after = time.monotonic() - started
    entry = _reverted_entry(runtime.run_dir, str(fault.fault_id))
    assert entry is not None
    assert entry.reason is RevertReason.LEASE_EXPIRED
    assert fault.revert() is not None  # a no-op now: the journal says reverted
    print(f"\n[lease] 3 s lease enforced: node-b thawed {thawed_after:.2f} s after inject")
    assert thawed_after >= 3
    assert_whole(local_stack)


def _runner(
    run_dir: Path, with_reaper: bool, node: str, lease_s: float
) -> tuple[subprocess.Popen[str], str]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUNNER,
            str(run_dir),
            "reaper" if with_reaper else "none",
            node,
            str(lease_s),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert child.stdout is not None
    fault_id = child.stdout.readline().strip()
    assert fault_id, f"the runner did not inject (exit {child.poll()})"
    return child, fault_id


def test_a_sigkilled_runners_fault_is_reverted_by_the_reaper(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    run_dir = runtime.run_dir
    reaper.stop(run_dir)  # the runner's first fault must start one itself
    lease_s, poll_s = 5.0, reaper.DEFAULT_POLL_S
    child, fault_id = _runner(run_dir, True, "node-b", lease_s)
    reaper_pid = reaper.running_pid(run_dir)
    assert reaper_pid is not None
    assert reaper_pid != child.pid
    assert _frozen(local_stack, "node-b")
    killed = time.monotonic()
    child.kill()
    child.wait()
    assert child.stdout is not None
    child.stdout.close()
    while _frozen(local_stack, "node-b"):
        assert time.monotonic() - killed < lease_s + poll_s + 2, "the reaper did not thaw"
        time.sleep(0.02)
    thawed_after = time.monotonic() - killed
    entry = _reverted_entry(run_dir, fault_id)
    assert entry is not None
    assert entry.states[-1] is journal.EntryState.REVERTED
    assert entry.reason is RevertReason.OWNER_DIED
    print(f"\n[reaper] runner SIGKILLed; node-b thawed by the reaper {thawed_after:.2f} s later")
    reaper.stop(run_dir)  # it outlived its starter: stop and reap it here
    assert_whole(local_stack)


def test_recover_reverts_what_a_killed_runner_left_without_a_reaper(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    run_dir = runtime.run_dir
    reaper.stop(run_dir)
    child, fault_id = _runner(run_dir, False, "node-b", 300)
    child.kill()
    child.wait()
    assert child.stdout is not None
    child.stdout.close()
    assert reaper.running_pid(run_dir) is None
    assert [e.fault_id for e in journal.pending(run_dir)] == [fault_id]
    assert _frozen(local_stack, "node-b")
    reverted = recover(run_dir)
    assert [(r.fault_id, r.reason) for r in reverted] == [(fault_id, RevertReason.RECOVERED)]
    assert reverted[0].steps == ("thaw_node(node=node-b)",)
    assert not _frozen(local_stack, "node-b")
    assert_whole(local_stack)
