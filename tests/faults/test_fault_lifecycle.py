"""The fault lifecycle of ``harness/faults/base.py`` on the fake platform: the undo is on
disk before the fault acts, a half-finished inject reverts, revert is idempotent, and a
fault with no measurable effect does not land."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import FaultDidNotLand, FaultError, PlatformError
from harness.faults import journal
from harness.faults.base import Fault, FaultRuntime, LandedEvidence
from harness.faults.journal import EntryState
from harness.faults.lease import RevertReason
from harness.faults.recover import revert_entry
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from tests.support.fake_platform import FakePlatform


class FreezeNodes(Fault):
    """A node hang measured through the fake's freezer state (the real ``NodeHang`` reads
    ``/proc``, which the fake has nothing in). Records what the journal held when it acted."""

    family = FaultFamily.NODE_LOSS

    def __init__(self, runtime: FaultRuntime, *nodes: str) -> None:
        super().__init__(runtime)
        self.nodes = nodes
        self.journal_when_acting: list[journal.JournalEntry] = []

    @property
    def name(self) -> str:
        return f"node-hang:{','.join(self.nodes)}"

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return tuple(UndoStep(UndoOp.THAW_NODE, {"node": n}) for n in self.nodes)

    def act(self) -> None:
        self.journal_when_acting = journal.entries(self.runtime.run_dir)
        for node in self.nodes:
            self.platform.freeze_node(node)

    def measure(self) -> LandedEvidence:
        states = {n: set(self.platform.node_freezer_states(n).values()) for n in self.nodes}
        thawed = sorted(n for n, s in states.items() if s != {"FROZEN"})
        if thawed:
            raise FaultDidNotLand(
                f"expected {', '.join(self.nodes)} frozen, saw {thawed} not FROZEN; "
                "the freezer did not take"
            )
        return LandedEvidence(self.name, float(len(self.nodes)), "nodes frozen", "all frozen")


@pytest.fixture
def fake() -> FakePlatform:
    return FakePlatform()


def _runtime(fake: FakePlatform, run_dir: Path) -> FaultRuntime:
    return FaultRuntime(fake, run_dir, start_reaper=False)


def _states(run_dir: Path, fault: Fault) -> tuple[EntryState, ...]:
    assert fault.fault_id is not None
    entry = journal.entry(run_dir, fault.fault_id)
    assert entry is not None
    return entry.states


def test_inject_journals_the_undo_before_it_acts(fake: FakePlatform, tmp_path: Path) -> None:
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-b")
    t_inject = fault.inject()
    (seen,) = fault.journal_when_acting
    assert seen.fault_id == fault.fault_id
    assert seen.state is EntryState.INTENT
    assert seen.undo == (UndoStep(UndoOp.THAW_NODE, {"node": "node-b"}),)
    assert seen.family is FaultFamily.NODE_LOSS
    assert fake.frozen == {"node-b"}
    assert _states(tmp_path, fault) == (EntryState.INTENT, EntryState.APPLIED)
    assert fault.t_inject_ns == t_inject
    evidence = fault.landed()
    assert (evidence.measured, evidence.unit) == (1.0, "nodes frozen")
    assert fault.t_landed_ns is not None
    assert fault.t_landed_ns >= t_inject


def test_a_half_finished_inject_reverts_what_it_did_and_re_raises(
    fake: FakePlatform, tmp_path: Path
) -> None:
    fake.fail_on("freeze_node(node-b)", PlatformError("freezer of node-b is gone"))
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-a", "node-b")
    with pytest.raises(PlatformError, match="freezer of node-b is gone"):
        fault.inject()
    assert fake.calls == [
        "freeze_node(node-a)",
        "freeze_node(node-b)",
        "thaw_node(node-a)",
        "thaw_node(node-b)",
    ]
    assert fake.frozen == set()
    assert _states(tmp_path, fault) == (EntryState.INTENT, EntryState.REVERTED)
    assert journal.pending(tmp_path) == []
    assert fault.t_revert_ns is not None


def test_ctrl_c_during_inject_still_reverts(fake: FakePlatform, tmp_path: Path) -> None:
    fake.fail_on("freeze_node(node-a)", KeyboardInterrupt())
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-a")
    with pytest.raises(KeyboardInterrupt):
        fault.inject()
    assert fake.calls[-1] == "thaw_node(node-a)"
    assert journal.pending(tmp_path) == []


def test_a_revert_that_fails_after_a_failed_inject_is_noted_and_left_pending(
    fake: FakePlatform, tmp_path: Path
) -> None:
    fake.fail_on("freeze_node(node-b)", PlatformError("freezer of node-b is gone"))
    fake.fail_on("thaw_node(node-a)", PlatformError("cgroup of node-a unreadable"))
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-a", "node-b")
    with pytest.raises(PlatformError, match="freezer of node-b is gone") as info:
        fault.inject()
    (note,) = info.value.__notes__
    assert "reverting the half-applied node-hang:node-a,node-b failed too" in note
    assert "thaw_node(node=node-a)" in note
    assert "odoo-resilience recover" in note
    # Still applied as far as anyone can tell: the journal keeps it for the reaper.
    (left,) = journal.pending(tmp_path)
    assert left.fault_id == fault.fault_id
    assert fault.t_revert_ns is None


def test_revert_is_idempotent(fake: FakePlatform, tmp_path: Path) -> None:
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-c")
    assert fault.revert() is None, "a fault never injected has nothing to revert"
    fault.inject()
    first = fault.revert()
    assert first is not None
    assert fault.revert() == first
    assert fake.calls.count("thaw_node(node-c)") == 1
    assert fake.frozen == set()
    entry = journal.entry(tmp_path, str(fault.fault_id))
    assert entry is not None
    assert entry.states == (EntryState.INTENT, EntryState.APPLIED, EntryState.REVERTED)
    assert entry.reason is RevertReason.OWNER


def test_a_context_manager_reverts_when_its_body_fails(fake: FakePlatform, tmp_path: Path) -> None:
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-a")

    def scenario() -> None:
        with fault:
            assert fake.frozen == {"node-a"}
            raise AssertionError("scenario failed")

    with pytest.raises(AssertionError, match="scenario failed"):
        scenario()
    assert fake.frozen == set()
    assert journal.pending(tmp_path) == []


def test_what_the_reaper_reverted_is_not_undone_again(fake: FakePlatform, tmp_path: Path) -> None:
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-b")
    fault.inject()
    # Another process (reaper, `recover`) executes the journalled undo: it alone is enough.
    (entry,) = journal.pending(tmp_path)
    reverted = revert_entry(entry, fake, tmp_path, RevertReason.LEASE_EXPIRED)
    assert reverted.steps == ("thaw_node(node=node-b)",)
    assert fake.frozen == set()
    fake.freeze_node("node-b")  # someone else's freeze since: the owner must not touch it
    assert fault.revert() is not None
    assert fake.frozen == {"node-b"}
    assert fake.calls.count("thaw_node(node-b)") == 1
    final = journal.entry(tmp_path, str(fault.fault_id))
    assert final is not None
    assert final.reason is RevertReason.LEASE_EXPIRED


def test_a_fault_with_no_measurable_effect_did_not_land(fake: FakePlatform, tmp_path: Path) -> None:
    fake.inert("freeze_node(node-b)")
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-b")
    with fault:
        with pytest.raises(FaultDidNotLand, match=r"saw \['node-b'\] not FROZEN"):
            fault.landed()
        assert fault.t_landed_ns is None
    assert journal.pending(tmp_path) == []


def test_landed_is_asked_only_while_applied_and_inject_only_once(
    fake: FakePlatform, tmp_path: Path
) -> None:
    fault = FreezeNodes(_runtime(fake, tmp_path), "node-a")
    with pytest.raises(FaultError, match="not injected yet"):
        fault.landed()
    fault.inject()
    with pytest.raises(FaultError, match="it already was"):
        fault.inject()
    assert fake.calls.count("freeze_node(node-a)") == 1
    fault.revert()
    with pytest.raises(FaultError, match="already reverted"):
        fault.landed()
