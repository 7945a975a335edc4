"""Write-ledger reconciliation: lost, unknown, failed-but-present, duplicates, RPO."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.core.ledger import ReadBack, WriteOutcome, WriteRecord, reconcile
from harness.core.samples import MeasurementError

MS = 1_000_000
INJECT = 100_000 * MS


def write(key: str, t_ms: int, outcome: WriteOutcome = WriteOutcome.OK) -> WriteRecord:
    return WriteRecord(key, "sale", t_ms * MS - 5 * MS, t_ms * MS, outcome)


def test_rpo_is_inject_minus_the_earliest_lost_ack() -> None:
    records = [
        write("a", 90_000),
        write("b", 97_500),
        write("c", 99_000),
        write("d", 99_500),
        write("e", 101_000),
    ]
    read = ReadBack({"a": 1, "c": 1})
    report = reconcile(records, read, INJECT)
    assert [w.key for w in report.lost] == ["b", "d", "e"]
    assert report.rpo_ns == 2_500 * MS
    assert report.acked == 5
    assert report.acked_present == 2
    assert report.lost_after_inject == 1
    assert report.lost[0].index == 1


def test_a_write_lost_after_the_fault_is_lost_but_adds_nothing_to_rpo() -> None:
    report = reconcile([write("late", 100_400)], ReadBack({}), INJECT)
    assert len(report.lost) == 1
    assert report.rpo_ns == 0
    assert report.lost_after_inject == 1


def test_unknown_outcomes_are_resolved_by_read_back_and_never_lost() -> None:
    records = [
        write("u1", 99_000, WriteOutcome.UNKNOWN),
        write("u2", 99_100, WriteOutcome.UNKNOWN),
        write("ok", 50_000),
    ]
    report = reconcile(records, ReadBack({"u1": 1, "ok": 1}), INJECT)
    assert report.lost == ()
    assert report.rpo_ns == 0
    assert report.unknown_present == ("u1",)
    assert report.unknown_absent == ("u2",)
    assert report.integrity_violations == 0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), max_size=50))
def test_unknown_writes_never_count_as_lost_whatever_the_read_back(
    cases: list[tuple[bool, int]],
) -> None:
    records = [
        write(f"k{i}", 1_000 + i, WriteOutcome.UNKNOWN if unknown else WriteOutcome.OK)
        for i, (unknown, _) in enumerate(cases)
    ]
    copies = {f"k{i}": n for i, (_, n) in enumerate(cases)}
    report = reconcile(records, ReadBack(copies), INJECT)
    expected_lost = {f"k{i}" for i, (unknown, n) in enumerate(cases) if not unknown and n == 0}
    assert {w.key for w in report.lost} == expected_lost
    resolved = len(report.unknown_present) + len(report.unknown_absent)
    assert resolved == sum(1 for unknown, _ in cases if unknown)


def test_duplicates_failed_but_present_and_unexpected_keys_break_integrity() -> None:
    records = [write("a", 1_000), write("f", 1_100, WriteOutcome.FAIL), write("g", 1_200)]
    report = reconcile(records, ReadBack({"a": 2, "f": 1, "g": 1, "stranger": 1}), INJECT)
    assert report.duplicates == (("a", 2),)
    assert report.failed_present == ("f",)
    assert report.unexpected == ("stranger",)
    assert report.integrity_violations == 3
    assert report.lost == ()


def test_a_key_written_twice_by_the_ledger_is_a_harness_bug() -> None:
    with pytest.raises(MeasurementError, match="fresh key"):
        reconcile([write("a", 1), write("a", 2)], ReadBack({}), INJECT)


def test_without_a_fault_lost_writes_count_and_rpo_is_zero() -> None:
    report = reconcile([write("a", 1)], ReadBack({}), None)
    assert len(report.lost) == 1
    assert report.rpo_ns == 0
    assert report.lost_after_inject == 0
