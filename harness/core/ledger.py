"""Write-ledger reconciliation (Jepsen-style): what was acknowledged against what is there.

Every write the ledger makes carries a unique key and ends OK (acknowledged at
``t_complete_ns``, its t_ack), FAIL (the system said it did not happen) or UNKNOWN
(timeout, reset: it may or may not have happened). After recovery every key is read
back and the system says how many copies it holds of each (absent keys hold 0).

- lost: acknowledged and absent. Reported with exact keys, oldest ack first.
- UNKNOWN writes are resolved by the read-back into present or absent, and are never
  counted as lost (nothing was promised) nor as fine.
- failed-but-present: a FAIL that committed anyway (a retry by the client would
  duplicate it); unexpected: present but never written by the ledger; duplicates: any
  key held more than once. All three are integrity violations.
- RPO_s = max(t_inject - t_ack) over lost writes acknowledged at or before t_inject,
  0 when there is none: the window of data the fault destroyed. A write acknowledged
  after t_inject and lost is still lost (it counts against the lost-writes target) but
  adds nothing to RPO_s, which measures how far back before the fault data was lost.
  Without an injected fault RPO_s is 0 and lost writes still count.
- Every write says who made it (``WriteOrigin``): the probes or the warehouse load.
  Both are judged alike; the report counts each, so "0 writes lost" says over what.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from harness.core.samples import MeasurementError


class WriteOutcome(enum.Enum):
    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"


class WriteOrigin(enum.Enum):
    """Who made a write: a probe, or a Locust user of the warehouse load."""

    PROBE = "probe"
    LOAD = "load"


@dataclass(frozen=True, slots=True)
class WriteRecord:
    key: str
    flow: str
    t_invoke_ns: int
    t_complete_ns: int
    outcome: WriteOutcome
    origin: WriteOrigin = WriteOrigin.PROBE


@dataclass(frozen=True)
class ReadBack:
    """Copies the system holds per key after recovery; a key not listed holds none."""

    copies: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LostWrite:
    """Acknowledged write ``index`` of the ledger, absent from the read-back."""

    index: int
    key: str
    flow: str
    t_ack_ns: int


@dataclass(frozen=True)
class LedgerReport:
    written: int
    acked: int
    acked_present: int
    lost: tuple[LostWrite, ...]
    unknown_present: tuple[str, ...]
    unknown_absent: tuple[str, ...]
    failed_present: tuple[str, ...]
    unexpected: tuple[str, ...]
    duplicates: tuple[tuple[str, int], ...]
    t_inject_ns: int | None
    rpo_ns: int
    acked_by: Mapping[WriteOrigin, int] = field(default_factory=dict)
    """Acknowledged writes per origin (an origin that acknowledged none is absent)."""

    @property
    def lost_after_inject(self) -> int:
        if self.t_inject_ns is None:
            return 0
        return sum(1 for w in self.lost if w.t_ack_ns > self.t_inject_ns)

    @property
    def integrity_violations(self) -> int:
        return len(self.duplicates) + len(self.failed_present) + len(self.unexpected)


def reconcile(
    records: Sequence[WriteRecord], read_back: ReadBack, t_inject_ns: int | None
) -> LedgerReport:
    copies = read_back.copies
    seen: set[str] = set()
    lost: list[LostWrite] = []
    unknown_present: list[str] = []
    unknown_absent: list[str] = []
    failed_present: list[str] = []
    acked = acked_present = 0
    acked_by: dict[WriteOrigin, int] = {}
    for index, record in enumerate(records):
        key = record.key
        if key in seen:
            raise MeasurementError(
                f"write ledger: expected unique keys, saw {key!r} written twice (second at "
                f"record {index}); the ledger must mint a fresh key for every write"
            )
        seen.add(key)
        present = copies.get(key, 0) > 0
        outcome = record.outcome
        if outcome is WriteOutcome.OK:
            acked += 1
            acked_by[record.origin] = acked_by.get(record.origin, 0) + 1
            if present:
                acked_present += 1
            else:
                lost.append(LostWrite(index, key, record.flow, record.t_complete_ns))
        elif outcome is WriteOutcome.UNKNOWN:
            (unknown_present if present else unknown_absent).append(key)
        elif present:
            failed_present.append(key)
    lost.sort(key=lambda w: (w.t_ack_ns, w.index))
    rpo_ns = 0
    if t_inject_ns is not None and lost and lost[0].t_ack_ns <= t_inject_ns:
        rpo_ns = t_inject_ns - lost[0].t_ack_ns
    return LedgerReport(
        written=len(records),
        acked=acked,
        acked_present=acked_present,
        lost=tuple(lost),
        unknown_present=tuple(unknown_present),
        unknown_absent=tuple(unknown_absent),
        failed_present=tuple(failed_present),
        unexpected=tuple(sorted(k for k, n in copies.items() if n > 0 and k not in seen)),
        duplicates=tuple(sorted((k, n) for k, n in copies.items() if n > 1)),
        t_inject_ns=t_inject_ns,
        rpo_ns=rpo_ns,
        acked_by=acked_by,
    )
