"""What the write ledger's read-back yields besides RPO: the app/database agreement
verdict, and every write as the evidence exports it.

``harness.ledger.read_back`` reads each key through the app and from the database; the
database's copies judge RPO and integrity (``harness.core``), and this module judges
the rest: a key on which the app and the database disagree (a stale replica, a cache,
an app that cannot read its own data) fails ``readback_verdict``. ``ledger_writes``
pairs each ``WriteRecord`` with the copies found of its key and the class the RPO and
integrity verdicts gave it (``LedgerReport``), so the bundle's ``ledger.csv`` lets an
auditor re-derive RPO. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from harness.core.ledger import LedgerReport, WriteOutcome, WriteRecord
from harness.core.verdict import Verdict, VerdictKind
from harness.evidence.model import LedgerWrite, WriteClass
from harness.ledger import ReadBackResult


def readback_verdict(
    result: ReadBackResult, scenario: str, family: str, window: tuple[int, int]
) -> Verdict:
    """An INVARIANT verdict: passes when the app and the database agree on every key read
    back; its sentence names up to 5 keys that differ, with their copies on each side."""
    return Verdict(
        VerdictKind.INVARIANT,
        scenario,
        family,
        not result.disagreements,
        0.0,
        float(len(result.disagreements)),
        "keys",
        window,
        (),
        f"{scenario} {result.sentence}",
    )


def ledger_writes(
    records: Sequence[WriteRecord],
    result: ReadBackResult,
    report: LedgerReport,
    tenants: Mapping[str, str],
) -> tuple[LedgerWrite, ...]:
    """Every write of ``records`` (the ledger the verdicts judged, in its order) with the
    copies of its key in the database and through the app, and its class in ``report``.

    ``tenants`` maps the key of a write that went to another tenant's database to that
    database's name.
    """
    lost = {w.key for w in report.lost}
    unknown_present = set(report.unknown_present)
    failed_present = set(report.failed_present)
    via_app = {d.key: d.via_app for d in result.disagreements}
    db_copies = result.read_back.copies

    def write_class(record: WriteRecord) -> WriteClass:
        if record.outcome is WriteOutcome.OK:
            return WriteClass.LOST if record.key in lost else WriteClass.ACKNOWLEDGED_PRESENT
        if record.outcome is WriteOutcome.UNKNOWN:
            if record.key in unknown_present:
                return WriteClass.UNKNOWN_PRESENT
            return WriteClass.UNKNOWN_ABSENT
        if record.key in failed_present:
            return WriteClass.FAILED_PRESENT
        return WriteClass.FAILED_ABSENT

    writes: list[LedgerWrite] = []
    for record in records:
        in_db = db_copies.get(record.key, 0)
        writes.append(
            LedgerWrite(
                key=record.key,
                flow=record.flow,
                tenant=tenants.get(record.key),
                t_invoke_ns=record.t_invoke_ns,
                t_complete_ns=record.t_complete_ns,
                outcome=record.outcome,
                origin=record.origin,
                db_copies=in_db,
                app_copies=via_app.get(record.key, in_db),
                write_class=write_class(record),
            )
        )
    return tuple(writes)
