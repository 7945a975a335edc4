"""Database faults: an unplanned leader crash and a planned switchover.

Landed checks read Patroni's cluster view through the platform: the old leader gone
from it (not running) and a new leader elected; for a switchover, a new leader on a
newer timeline.
"""

from __future__ import annotations

import time

from harness.errors import FaultDidNotLand, FaultError
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.platform.base import DbMemberStatus, Platform

#: How long a new leader may take: Patroni's ttl plus a loop or two, with margin.
ELECTION_WAIT_S = 45.0


def _leader_or_fault(platform: Platform) -> str:
    leader = platform.leader()
    if leader is None:
        raise FaultError(
            "expected a running DB leader before the fault, saw none; wait until the cluster "
            "has one (`odoo-resilience status`)"
        )
    return leader


def _member(members: tuple[DbMemberStatus, ...], name: str) -> DbMemberStatus | None:
    return next((m for m in members if m.name == name), None)


class LeaderCrash(Fault):
    """Kill the leader's Patroni and PostgreSQL at once (SIGKILL), unplanned."""

    family = FaultFamily.DB_FAILOVER

    def __init__(self, runtime: FaultRuntime, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.old_leader: str | None = None
        self.new_leader: str | None = None

    @property
    def name(self) -> str:
        return "leader-crash"

    def prepare(self) -> None:
        self.old_leader = _leader_or_fault(self.platform)

    def undo_steps(self) -> tuple[UndoStep, ...]:
        assert self.old_leader is not None  # set by prepare
        return (UndoStep(UndoOp.START_COMPONENT, {"component": self.old_leader}),)

    def act(self) -> None:
        assert self.old_leader is not None
        self.platform.kill_component(self.old_leader)

    def measure(self) -> LandedEvidence:
        assert self.t_inject_ns is not None
        deadline = time.monotonic() + ELECTION_WAIT_S
        seen = "no status yet"
        while time.monotonic() < deadline:
            status = self.platform.status()
            old = _member(status.db_members, self.old_leader or "")
            old_gone = old is None or old.state != "running"
            if old_gone and status.leader not in (None, self.old_leader):
                self.new_leader = status.leader
                seconds = (time.monotonic_ns() - self.t_inject_ns) / 1e9
                return LandedEvidence(
                    self.name,
                    seconds,
                    "s to a new leader",
                    f"{self.old_leader} gone from Patroni's view "
                    f"({'absent' if old is None else old.state}); {status.leader} elected "
                    f"{seconds:.1f} s after the crash",
                )
            seen = f"leader {status.leader}, {self.old_leader} " + (
                "absent" if old is None else f"{old.role}/{old.state}"
            )
            time.sleep(0.2)
        raise FaultDidNotLand(
            f"expected {self.old_leader} gone and a new leader within {ELECTION_WAIT_S:.0f} s, "
            f"saw {seen}; the kill did not reach the member, or failover is blocked"
        )


class Switchover(Fault):
    """A planned leader change through Patroni; the undo switches back."""

    family = FaultFamily.DB_FAILOVER

    def __init__(
        self,
        runtime: FaultRuntime,
        candidate: str | None = None,
        *,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.candidate = candidate
        self.old_leader: str | None = None
        self.new_leader: str | None = None
        self._old_timeline: int | None = None

    @property
    def name(self) -> str:
        return f"switchover:{self.candidate or 'any'}"

    def prepare(self) -> None:
        self.old_leader = _leader_or_fault(self.platform)
        old = _member(self.platform.status().db_members, self.old_leader)
        self._old_timeline = old.timeline if old is not None else None

    def undo_steps(self) -> tuple[UndoStep, ...]:
        assert self.old_leader is not None  # set by prepare
        return (UndoStep(UndoOp.SWITCHOVER, {"candidate": self.old_leader}),)

    def act(self) -> None:
        self.new_leader = self.platform.switchover(self.candidate)

    def measure(self) -> LandedEvidence:
        status = self.platform.status()
        new = _member(status.db_members, status.leader or "")
        timeline = new.timeline if new is not None else None
        moved = status.leader is not None and status.leader != self.old_leader
        newer = timeline is not None and (
            self._old_timeline is None or timeline > self._old_timeline
        )
        detail = (
            f"leader {self.old_leader} (timeline {self._old_timeline}) -> {status.leader} "
            f"(timeline {timeline})"
        )
        if not (moved and newer):
            raise FaultDidNotLand(
                f"expected a different leader on a newer timeline, saw {detail}; Patroni did "
                "not carry out the switchover"
            )
        return LandedEvidence(self.name, float(timeline or 0), "timeline", detail)
