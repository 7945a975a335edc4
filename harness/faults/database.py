"""Database faults: an unplanned leader crash and a planned switchover.

Each proves at once that it landed, and leaves whether a new leader comes to the
scenario's recovery (RTO): a crashed leader has landed when the old primary is gone
(its process dead in ``/proc``, or stopped or not answering in the platform's status);
a switchover has landed when the old leader no longer leads. A switchover the cluster
refuses, or one that leaves the old leader in charge, did not land. A blocked failover
is therefore not a fault that did not land but a stack that did not recover, and the
RTO verdict says so.
"""

from __future__ import annotations

import time

from harness.errors import FaultDidNotLand, FaultError, PlatformError
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.measure import process_state
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.platform.base import ComponentStatus, DbMemberStatus, Health, Platform

#: How long a SIGKILLed member may take to be seen gone.
GONE_WAIT_S = 5.0
_GONE = (Health.STOPPED, Health.DOWN)


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


def _component(platform: Platform, name: str) -> ComponentStatus | None:
    return next((c for c in platform.status().components if c.name == name), None)


def _seconds_since(t_ns: int | None) -> float:
    assert t_ns is not None  # set by inject before measure runs
    return (time.monotonic_ns() - t_ns) / 1e9


class LeaderCrash(Fault):
    """Kill the leader's Patroni and PostgreSQL at once (SIGKILL), unplanned."""

    family = FaultFamily.DB_FAILOVER

    def __init__(self, runtime: FaultRuntime, *, lease_s: float = DEFAULT_LEASE_S) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.old_leader: str | None = None
        self._old_pid: int | None = None

    @property
    def name(self) -> str:
        return "leader-crash"

    def prepare(self) -> None:
        self.old_leader = _leader_or_fault(self.platform)
        old = _component(self.platform, self.old_leader)
        # A pid among its node's host pids is one this kernel knows: its death is read from
        # /proc at once, where a status read may take seconds on a loaded host.
        if old is not None and old.pid is not None and old.pid in self.platform.node_pids(old.node):
            self._old_pid = old.pid

    def undo_steps(self) -> tuple[UndoStep, ...]:
        assert self.old_leader is not None  # set by prepare
        return (UndoStep(UndoOp.START_COMPONENT, {"component": self.old_leader}),)

    def act(self) -> None:
        assert self.old_leader is not None
        self.platform.kill_component(self.old_leader)

    def _gone(self) -> tuple[bool, str]:
        """Whether the old primary is gone, and what was seen."""
        assert self.old_leader is not None
        if self._old_pid is not None:
            state = process_state(self._old_pid)
            if state in (None, "Z"):
                return True, f"its process {self._old_pid} is dead"
            return False, f"its process {self._old_pid} in state {state}"
        old = _component(self.platform, self.old_leader)
        if old is None:
            return False, "no such component in the platform's status"
        return old.health in _GONE, f"{old.health.value} in the platform's status"

    def measure(self) -> LandedEvidence:
        deadline = time.monotonic() + GONE_WAIT_S
        while True:
            gone, seen = self._gone()
            if gone:
                seconds = _seconds_since(self.t_inject_ns)
                return LandedEvidence(
                    self.name,
                    seconds,
                    "s to the old primary gone",
                    f"{self.old_leader}, the DB leader, is gone {seconds:.2f} s after the kill "
                    f"({seen}); whether a new leader takes over is the recovery, judged by RTO",
                )
            if time.monotonic() >= deadline:
                raise FaultDidNotLand(
                    f"expected {self.old_leader}, the DB leader, gone within {GONE_WAIT_S:.0f} s "
                    f"of the kill (its process dead, or it stopped or not answering), saw {seen}; "
                    "the kill did not reach the member: look at its log"
                )
            time.sleep(0.05)


class Switchover(Fault):
    """A planned leader change through the platform; the undo switches back."""

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
        self._refusal: str | None = None

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
        try:
            self.new_leader = self.platform.switchover(self.candidate)
        except PlatformError as exc:
            # Refused, or accepted with no new leader in the platform's wait: ``measure``
            # tells them apart by whether the old leader still leads.
            self._refusal = str(exc)

    def measure(self) -> LandedEvidence:
        status = self.platform.status()
        seconds = _seconds_since(self.t_inject_ns)
        refusal = f" (the platform said: {self._refusal})" if self._refusal else ""
        if status.leader == self.old_leader:
            raise FaultDidNotLand(
                f"expected {self.old_leader} to hand the lead over, saw it still leading "
                f"{seconds:.1f} s after the request{refusal}; the cluster refused the "
                "switchover or did not carry it out: look at the DB members' logs"
            )
        self.new_leader = status.leader
        if status.leader is None:
            detail = (
                f"{self.old_leader} (timeline {self._old_timeline}) stepped down; no leader "
                f"{seconds:.1f} s after the request{refusal}: whether one comes is the "
                "recovery, judged by RTO"
            )
        else:
            new = _member(status.db_members, status.leader)
            detail = (
                f"leader {self.old_leader} (timeline {self._old_timeline}) -> {status.leader} "
                f"(timeline {new.timeline if new is not None else None}) {seconds:.1f} s after "
                f"the request{refusal}"
            )
        return LandedEvidence(self.name, seconds, "s to the hand-over", detail)
