"""Every fault against the real local stack: inject, prove it landed (the measured
effect is printed; run with ``-s``), revert, and leave the stack whole. Then the
safety nets: the journal holds the undo before the act, Ctrl-C reverts, an expired
lease is enforced, a SIGKILLed runner's fault is reverted by the reaper, and
``recover`` reverts what a killed runner left when no reaper runs.

Tests run in file order on the session's stack; each restores what it broke.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.process import log_tail
from harness.scenario import choose

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
def test_switchover_moves_the_leader_and_the_revert_moves_it_back(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    before = local_stack.leader()
    fault = Switchover(runtime)
    run(fault)
    assert fault.new_leader not in (None, before)
    assert local_stack.leader() == before
    assert_whole(local_stack)


def test_leader_crash_elects_a_new_leader_and_the_old_one_rejoins(
    local_stack: LocalPlatform, runtime: FaultRuntime
) -> None:
    fault = LeaderCrash(runtime)
    run(fault)
    assert fault.new_leader not in (None, fault.old_leader)
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
