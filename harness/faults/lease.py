"""A fault's lease: who owns it and until when it may stay applied.

The owner is a process identified by its pid *and* its start time (so a recycled
pid is not mistaken for the owner), the expiry is wall-clock seconds (monotonic
clocks mean nothing across processes). ``lapse`` says whether, and why, a lease
no longer protects its fault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class RevertReason(StrEnum):
    """Why a fault was reverted, as the journal records it."""

    OWNER = "reverted-by-owner"
    LEASE_EXPIRED = "lease-expired"
    OWNER_DIED = "owner-died"
    RECOVERED = "recovered"


@dataclass(frozen=True)
class Owner:
    pid: int
    start_ticks: int | None
    """Field 22 of ``/proc/<pid>/stat``: the process's start time in clock ticks."""

    @staticmethod
    def current() -> Owner:
        return Owner(os.getpid(), process_start_ticks(os.getpid()))

    def alive(self) -> bool:
        ticks = process_start_ticks(self.pid)
        if ticks is None:
            return False
        if _is_zombie(self.pid):
            return False
        return self.start_ticks is None or ticks == self.start_ticks


@dataclass(frozen=True)
class Lease:
    owner: Owner
    expires_at: float
    """Wall-clock seconds since the epoch."""

    def lapse(self, now: float) -> RevertReason | None:
        """Why the lease no longer holds at ``now``, or None while it does."""
        if not self.owner.alive():
            return RevertReason.OWNER_DIED
        if now >= self.expires_at:
            return RevertReason.LEASE_EXPIRED
        return None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rfind(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None and len(fields) > 19 else None


def _is_zombie(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and fields[0] in ("Z", "X")
