"""The write ledger in the bundle: every write in ``ledger.csv`` (hashed, linked, attached),
each classed as the verdicts judged it; app/database disagreement is a verdict."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from harness.core.ledger import ReadBack, WriteOutcome, WriteRecord, reconcile
from harness.core.verdict import VerdictKind
from harness.evidence.chain import verify
from harness.evidence.model import WriteClass
from harness.ledger import Disagreement, ReadBackResult
from harness.scenario.readback import ledger_writes, readback_verdict
from tests.evidence.synthetic import MS, S, finished_bundle

FOLDER = "scenarios/db-failover-primary-crash"


def test_every_write_is_in_ledger_csv_with_its_instants_copies_and_class(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path)
    rows = list(csv.reader((bundle / FOLDER / "ledger.csv").read_text().splitlines()))
    assert rows[0] == [
        "key",
        "flow",
        "tenant",
        "invoked_s",
        "completed_s",
        "invoked_utc",
        "completed_utc",
        "outcome",
        "db_copies",
        "app_copies",
        "class",
        "origin",
    ]
    assert len(rows) == 1 + 100
    # so-7: invoked 7 s after the anchor (12:00:00 UTC), acknowledged 50 ms later.
    assert rows[8] == [
        "so-7",
        "picking",
        "",
        "7.000000000",
        "7.050000000",
        "2024-05-01T12:00:07.000000000Z",
        "2024-05-01T12:00:07.050000000Z",
        "ok",
        "1",
        "1",
        "acknowledged-present",
        "probe",
    ]


def test_ledger_csv_is_hashed_and_a_flipped_byte_in_it_is_named(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path)
    name = f"{FOLDER}/ledger.csv"
    path = bundle / name
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    assert f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {name}" in sums
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    result = verify(bundle)
    assert not result.ok
    assert result.changed == (name,), result.report()


def test_ledger_csv_is_linked_from_the_report_and_attached_to_allure(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path)
    html = (bundle / "report.html").read_text()
    assert f'<a href="{FOLDER}/ledger.csv">ledger.csv</a>' in html
    assert "Every write (100)" in html
    results = [json.loads(p.read_text()) for p in (bundle / "allure-results").glob("*-result.json")]
    passed = next(r for r in results if r["name"] == "db-failover-primary-crash")
    (attached,) = [a for a in passed["attachments"] if a["name"] == "write ledger"]
    assert attached["type"] == "text/csv"
    attachment = bundle / "allure-results" / attached["source"]
    assert attachment.read_bytes() == (bundle / FOLDER / "ledger.csv").read_bytes()


def test_each_write_is_classed_as_the_verdicts_judged_it_with_copies_on_both_sides() -> None:
    records = (
        WriteRecord("so-1", "picking", 1 * S, 1 * S + 40 * MS, WriteOutcome.OK),
        WriteRecord("so-2", "picking", 2 * S, 2 * S + 40 * MS, WriteOutcome.OK),
        WriteRecord("so-3", "order_import", 3 * S, 4 * S, WriteOutcome.UNKNOWN),
        WriteRecord("so-4", "order_import", 5 * S, 6 * S, WriteOutcome.UNKNOWN),
        WriteRecord("in-5", "receiving", 7 * S, 7 * S + 90 * MS, WriteOutcome.FAIL),
        WriteRecord("in-6", "receiving", 8 * S, 8 * S + 90 * MS, WriteOutcome.FAIL),
    )
    read_back = ReadBack({"so-1": 1, "so-3": 1, "in-5": 2})
    # The app still sees so-2, which the database lost (a stale replica behind it).
    result = ReadBackResult(read_back, len(records), (Disagreement("so-2", 1, 0),))
    report = reconcile(records, read_back, t_inject_ns=3 * S)
    writes = ledger_writes(records, result, report, {"so-3": "tenant-b"})
    assert [(w.key, w.write_class, w.db_copies, w.app_copies, w.tenant) for w in writes] == [
        ("so-1", WriteClass.ACKNOWLEDGED_PRESENT, 1, 1, None),
        ("so-2", WriteClass.LOST, 0, 1, None),
        ("so-3", WriteClass.UNKNOWN_PRESENT, 1, 1, "tenant-b"),
        ("so-4", WriteClass.UNKNOWN_ABSENT, 0, 0, None),
        ("in-5", WriteClass.FAILED_PRESENT, 2, 2, None),
        ("in-6", WriteClass.FAILED_ABSENT, 0, 0, None),
    ]
    # RPO re-derived from the rows alone: t_inject minus the oldest lost acknowledgement.
    lost_acks = [w.t_complete_ns for w in writes if w.write_class is WriteClass.LOST]
    assert 3 * S - min(lost_acks) == report.rpo_ns == 960 * MS


def test_the_read_back_verdict_passes_when_app_and_database_agree() -> None:
    agree = ReadBackResult(ReadBack({"so-1": 1}), 1_204, ())
    verdict = readback_verdict(agree, "db-failover:leader-crash", "db-failover", (0, 90 * S))
    assert verdict.kind is VerdictKind.INVARIANT
    assert verdict.passed
    assert (verdict.target, verdict.measured, verdict.unit) == (0.0, 0.0, "keys")
    assert verdict.window == (0, 90 * S)
    assert verdict.sentence == (
        "db-failover:leader-crash read back 1,204 keys: the app and the database agree on every one"
    )


def test_the_read_back_verdict_fails_naming_five_keys_and_their_copies() -> None:
    disagreements = tuple(Disagreement(f"so-{i}", 0, 1) for i in range(7))
    result = ReadBackResult(ReadBack({}), 300, disagreements)
    verdict = readback_verdict(result, "network:db-partition", "network", (0, S))
    assert not verdict.passed
    assert verdict.measured == 7.0
    assert verdict.sentence == (
        "network:db-partition read back 300 keys: the app and the database disagree on 7: "
        "so-0 (app 0, db 1), so-1 (app 0, db 1), so-2 (app 0, db 1), so-3 (app 0, db 1), "
        "so-4 (app 0, db 1) and 2 more; the database's copies are used"
    )
