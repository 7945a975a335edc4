"""Revert what a dead run left applied: what ``odoo-resilience recover`` calls.

The platform is attached from the run directory alone (the local platform rebuilds
itself from ``plan.json``), every pending journal entry's undo is executed, and
each is recorded reverted with the reason ``recovered``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.faults import journal, undo
from harness.faults.lease import RevertReason
from harness.levels import FaultFamily
from harness.platform.base import Platform
from harness.platform.local.plan import StackPlan
from harness.platform.local.platform import LocalPlatform


@dataclass(frozen=True)
class RevertedFault:
    fault_id: str
    name: str
    family: FaultFamily
    reason: RevertReason
    steps: tuple[str, ...]
    """The undo steps executed, described (``thaw_node(node=node-b)``)."""


def attach_platform(run_dir: Path) -> Platform:
    """The platform of the run in ``run_dir``, rebuilt in this process."""
    return LocalPlatform(StackPlan.load(run_dir))


def revert_entry(
    entry: journal.JournalEntry, platform: Platform, run_dir: Path, reason: RevertReason
) -> RevertedFault:
    """Execute ``entry``'s undo and record it reverted; FaultError leaves it pending."""
    for step in entry.undo:
        undo.execute(step, platform)
    journal.record_reverted(run_dir, entry.fault_id, reason)
    return RevertedFault(
        entry.fault_id,
        entry.name,
        entry.family,
        reason,
        tuple(step.describe() for step in entry.undo),
    )


def recover(run_dir: Path, platform: Platform | None = None) -> list[RevertedFault]:
    """Revert every fault the journal of ``run_dir`` still has applied (or half applied)."""
    entries = journal.pending(run_dir)
    if not entries:
        return []
    attached = platform if platform is not None else attach_platform(run_dir)
    return [revert_entry(entry, attached, run_dir, RevertReason.RECOVERED) for entry in entries]
