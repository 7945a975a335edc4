"""The fault journal: one JSON-lines file per run directory, ``faults.journal``.

Each fault appends an ``intent`` line (its undo, owner and lease) *before* it acts,
an ``applied`` line once it acted and a ``reverted`` line (with the reason) once it
was undone, each written with one ``write`` under an exclusive lock and fsynced.
Other processes (the reaper, ``recover``) read it to revert what a dead runner left
behind; readers skip a torn last line (a writer killed mid-line).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.faults.lease import Lease, Owner, RevertReason
from harness.faults.undo import UndoStep
from harness.levels import FaultFamily

JOURNAL_NAME = "faults.journal"


class EntryState(StrEnum):
    INTENT = "intent"
    APPLIED = "applied"
    REVERTED = "reverted"


@dataclass(frozen=True)
class JournalEntry:
    """One fault as the journal knows it after replaying its lines."""

    fault_id: str
    name: str
    family: FaultFamily
    undo: tuple[UndoStep, ...]
    lease: Lease
    state: EntryState
    states: tuple[EntryState, ...]
    """Every transition recorded, in file order (``intent``, ``applied``, ``reverted``)."""
    reason: RevertReason | None


def journal_path(run_dir: Path) -> Path:
    return run_dir / JOURNAL_NAME


def _append(run_dir: Path, record: dict[str, object]) -> None:
    line = (json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n").encode()
    fd = os.open(journal_path(run_dir), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def record_intent(
    run_dir: Path,
    *,
    fault_id: str,
    name: str,
    family: FaultFamily,
    undo: Sequence[UndoStep],
    lease: Lease,
) -> None:
    _append(
        run_dir,
        {
            "fault_id": fault_id,
            "state": EntryState.INTENT.value,
            "t_wall": time.time(),
            "name": name,
            "family": family.value,
            "undo": [step.to_json() for step in undo],
            "owner_pid": lease.owner.pid,
            "owner_start_ticks": lease.owner.start_ticks,
            "lease_expires_at": lease.expires_at,
        },
    )


def record_applied(run_dir: Path, fault_id: str) -> None:
    _append(
        run_dir, {"fault_id": fault_id, "state": EntryState.APPLIED.value, "t_wall": time.time()}
    )


def record_reverted(run_dir: Path, fault_id: str, reason: RevertReason) -> None:
    _append(
        run_dir,
        {
            "fault_id": fault_id,
            "state": EntryState.REVERTED.value,
            "t_wall": time.time(),
            "reason": reason.value,
        },
    )


def raw_lines(run_dir: Path) -> list[dict[str, object]]:
    """Every complete line as written; a torn or unreadable line is skipped."""
    try:
        text = journal_path(run_dir).read_text()
    except FileNotFoundError:
        return []
    records: list[dict[str, object]] = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a writer died mid-line
        if isinstance(record, dict):
            records.append(record)
    return records


def entries(run_dir: Path) -> list[JournalEntry]:
    """Every fault the journal knows, in the order their intents were written."""
    intents: dict[str, dict[str, object]] = {}
    transitions: dict[str, list[dict[str, object]]] = {}
    for record in raw_lines(run_dir):
        fault_id = str(record.get("fault_id"))
        if record.get("state") == EntryState.INTENT.value:
            intents[fault_id] = record
        transitions.setdefault(fault_id, []).append(record)
    found: list[JournalEntry] = []
    for fault_id, intent in intents.items():
        entry = _entry(fault_id, intent, transitions[fault_id])
        if entry is not None:
            found.append(entry)
    return found


def _entry(
    fault_id: str, intent: dict[str, object], records: list[dict[str, object]]
) -> JournalEntry | None:
    try:
        undo_raw = intent["undo"]
        if not isinstance(undo_raw, list):
            return None
        undo = tuple(UndoStep.from_json(step) for step in undo_raw)
        ticks = intent.get("owner_start_ticks")
        owner = Owner(int(str(intent["owner_pid"])), int(str(ticks)) if ticks is not None else None)
        lease = Lease(owner, float(str(intent["lease_expires_at"])))
        family = FaultFamily(str(intent["family"]))
    except (KeyError, ValueError):
        return None
    states = tuple(
        EntryState(str(r["state"]))
        for r in records
        if r.get("state") in {s.value for s in EntryState}
    )
    reason: RevertReason | None = None
    for record in records:
        known = {r.value for r in RevertReason}
        if record.get("state") == EntryState.REVERTED.value and record.get("reason") in known:
            reason = RevertReason(str(record.get("reason")))
    if EntryState.REVERTED in states:
        state = EntryState.REVERTED
    elif EntryState.APPLIED in states:
        state = EntryState.APPLIED
    else:
        state = EntryState.INTENT
    return JournalEntry(
        fault_id, str(intent.get("name")), family, undo, lease, state, states, reason
    )


def pending(run_dir: Path) -> list[JournalEntry]:
    """Faults not reverted: applied, or intended and possibly half applied."""
    return [e for e in entries(run_dir) if e.state is not EntryState.REVERTED]


def entry(run_dir: Path, fault_id: str) -> JournalEntry | None:
    return next((e for e in entries(run_dir) if e.fault_id == fault_id), None)
