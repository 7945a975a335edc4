"""The fault seam: ``Fault`` (inject, prove, revert) and what it returns.

A fault computes its undo (data, see ``undo``) before it acts, makes sure the run's
reaper is watching, journals the undo with its lease, then acts. ``revert`` runs the
undo and is idempotent; an ``inject`` interrupted half way (any exception, Ctrl-C)
reverts before it re-raises; as a context manager ``__exit__`` always reverts.
``landed`` proves the effect with a measurement or raises ``FaultDidNotLand``.

Faults put nothing on the timeline: they keep ``t_inject_ns``, ``t_landed_ns`` and
``t_revert_ns`` (``time.monotonic_ns()``) for the scenario to record.
"""

from __future__ import annotations

import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from harness.errors import FaultError
from harness.faults import journal, reaper, undo
from harness.faults.lease import Lease, Owner, RevertReason
from harness.faults.undo import UndoStep
from harness.ledger import LedgerEntry
from harness.levels import FaultFamily
from harness.platform.base import Platform

DEFAULT_LEASE_S = 300.0


@dataclass(frozen=True)
class LandedEvidence:
    """The measurement that proves a fault had its effect."""

    fault: str
    measured: float
    unit: str
    sentence: str


@dataclass(frozen=True)
class FaultRuntime:
    """What faults act through: the platform and the run directory holding the journal."""

    platform: Platform
    run_dir: Path
    start_reaper: bool = True
    """Start the run's reaper before the first fault acts (off only to test ``recover``)."""
    reaper_poll_s: float = reaper.DEFAULT_POLL_S


class Fault(ABC):
    """One fault and its undo. Subclasses give ``name``, ``undo_steps``, ``act``, ``measure``."""

    family: ClassVar[FaultFamily]

    def __init__(self, runtime: FaultRuntime, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        if lease_s <= 0:
            raise ValueError(f"a fault's lease must be positive seconds, saw {lease_s}")
        self.runtime = runtime
        self.lease_s = lease_s
        self.fault_id: str | None = None
        self.t_inject_ns: int | None = None
        self.t_landed_ns: int | None = None
        self.t_revert_ns: int | None = None
        self._undo: tuple[UndoStep, ...] = ()

    @property
    def platform(self) -> Platform:
        return self.runtime.platform

    @property
    @abstractmethod
    def name(self) -> str:
        """Stable name, e.g. ``node-hang:node-b``."""

    @property
    def hangs(self) -> bool:
        """Whether the stack hangs rather than refuses under this fault (a freeze, a
        throttle, latency): its scenario then names the stall thresholds it applied."""
        return False

    def prepare(self) -> None:
        """Read what the undo or the landed check needs (leader, baselines) before acting."""
        return None

    @abstractmethod
    def undo_steps(self) -> tuple[UndoStep, ...]:
        """The undo, as data; called after ``prepare`` and before ``act``."""

    @abstractmethod
    def act(self) -> None:
        """Apply the fault through the platform."""

    @abstractmethod
    def measure(self) -> LandedEvidence:
        """Prove the effect now; FaultDidNotLand when it cannot be seen."""

    def writes(self) -> Sequence[LedgerEntry]:
        """Keyed writes the fault itself made (a load surge's imports), once reverted.

        The scenario adds them to its write ledger, so they are read back like the
        probes' writes: an acknowledged one that is gone is a lost write.
        """
        return ()

    # -- the lifecycle ------------------------------------------------------------------
    def inject(self) -> int:
        """Journal the undo, then act; returns ``t_inject_ns``."""
        if self.fault_id is not None:
            raise FaultError(
                f"expected {self.name} to be injected once, it already was ({self.fault_id}); "
                "make a new fault object for a second injection"
            )
        run_dir = self.runtime.run_dir
        self.prepare()
        self._undo = self.undo_steps()
        if self.runtime.start_reaper:
            reaper.ensure_running(run_dir, poll_s=self.runtime.reaper_poll_s)
        fault_id = f"{self.name}-{uuid.uuid4().hex[:10]}"
        lease = Lease(Owner.current(), time.time() + self.lease_s)
        journal.record_intent(
            run_dir,
            fault_id=fault_id,
            name=self.name,
            family=self.family,
            undo=self._undo,
            lease=lease,
        )
        self.fault_id = fault_id
        self.t_inject_ns = time.monotonic_ns()
        try:
            self.act()
        except BaseException as exc:
            try:
                self.revert()
            except FaultError as revert_exc:
                exc.add_note(f"reverting the half-applied {self.name} failed too: {revert_exc}")
            raise
        journal.record_applied(run_dir, fault_id)
        return self.t_inject_ns

    def landed(self) -> LandedEvidence:
        if self.fault_id is None or self.t_revert_ns is not None:
            raise FaultError(
                f"expected {self.name} to be applied when asked whether it landed, it is "
                f"{'not injected yet' if self.fault_id is None else 'already reverted'}"
            )
        evidence = self.measure()
        self.t_landed_ns = time.monotonic_ns()
        return evidence

    def revert(self) -> int | None:
        """Undo the fault (idempotent); ``t_revert_ns``, or None when never injected."""
        if self.fault_id is None:
            return None
        if self.t_revert_ns is not None:
            return self.t_revert_ns
        entry = journal.entry(self.runtime.run_dir, self.fault_id)
        # The reaper may have reverted it already (lease expired): nothing left to undo.
        if entry is None or entry.state is not journal.EntryState.REVERTED:
            for step in self._undo:
                undo.execute(step, self.platform)
            journal.record_reverted(self.runtime.run_dir, self.fault_id, RevertReason.OWNER)
        self.t_revert_ns = time.monotonic_ns()
        return self.t_revert_ns

    def __enter__(self) -> Self:
        self.inject()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.revert()
