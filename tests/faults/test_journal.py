"""The journal, leases and undo steps as data: no stack needed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.faults import journal
from harness.faults.lease import Lease, Owner, RevertReason, process_start_ticks
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily

THAW = UndoStep(UndoOp.THAW_NODE, {"node": "node-b"})


def _intent(run_dir: Path, fault_id: str, expires_in_s: float = 60) -> None:
    journal.record_intent(
        run_dir,
        fault_id=fault_id,
        name="node-hang:node-b",
        family=FaultFamily.NODE_LOSS,
        undo=(THAW,),
        lease=Lease(Owner.current(), time.time() + expires_in_s),
    )


def test_states_replay_in_order_and_pending_lists_unreverted(tmp_path: Path) -> None:
    _intent(tmp_path, "a")
    journal.record_applied(tmp_path, "a")
    _intent(tmp_path, "b")
    _intent(tmp_path, "c")
    journal.record_applied(tmp_path, "c")
    journal.record_reverted(tmp_path, "c", RevertReason.OWNER)
    by_id = {e.fault_id: e for e in journal.entries(tmp_path)}
    assert by_id["a"].states == (journal.EntryState.INTENT, journal.EntryState.APPLIED)
    assert by_id["b"].state is journal.EntryState.INTENT
    assert by_id["c"].reason is RevertReason.OWNER
    assert by_id["a"].undo == (THAW,)
    assert [e.fault_id for e in journal.pending(tmp_path)] == ["a", "b"]


def test_a_torn_last_line_is_skipped(tmp_path: Path) -> None:
    _intent(tmp_path, "a")
    journal.record_applied(tmp_path, "a")
    with open(journal.journal_path(tmp_path), "a") as fh:
        fh.write('{"fault_id": "a", "state": "rever')
    (entry,) = journal.pending(tmp_path)
    assert entry.state is journal.EntryState.APPLIED
    assert journal.raw_lines(tmp_path)[-1]["state"] == "applied"


def test_an_absent_journal_has_nothing_pending(tmp_path: Path) -> None:
    assert journal.pending(tmp_path) == []


def test_a_lease_lapses_when_it_expires_or_its_owner_dies() -> None:
    me = Owner.current()
    assert Lease(me, time.time() + 60).lapse(time.time()) is None
    assert Lease(me, time.time() - 1).lapse(time.time()) is RevertReason.LEASE_EXPIRED
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        owner = Owner(child.pid, process_start_ticks(child.pid))
        assert owner.alive()
    finally:
        child.kill()
        child.wait()
    assert Lease(owner, time.time() + 60).lapse(time.time()) is RevertReason.OWNER_DIED
    recycled = Owner(me.pid, (me.start_ticks or 0) + 1)
    assert not recycled.alive(), "a pid with another start time is not the owner"


def test_undo_steps_round_trip_and_refuse_wrong_arguments() -> None:
    step = UndoStep(UndoOp.REMOVE_TOXIC, {"link": "db", "toxic": "t1"})
    assert UndoStep.from_json(step.to_json()) == step
    assert step.describe() == "remove_toxic(link=db, toxic=t1)"
    with pytest.raises(ValueError, match="takes arguments"):
        UndoStep(UndoOp.THAW_NODE, {"nodes": "node-b"})
    with pytest.raises(ValueError, match="expected an undo op"):
        UndoStep.from_json({"op": "rm -rf", "args": {}})
