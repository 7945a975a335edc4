"""The write ledger: recording, and the read-back through the app and from PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

import psycopg
import pytest

from harness.core import (
    EventKind,
    Phase,
    RecoveryTarget,
    RunData,
    Timeline,
    TimelineEvent,
    VerdictKind,
    WriteOutcome,
    WriteRecord,
    evaluate_run,
    reconcile,
)
from harness.ledger import (
    DONE_SUFFIX,
    AppKeyReader,
    DbReadBack,
    KeyKind,
    LedgerError,
    ReadBackFailed,
    WriteLedger,
    read_back,
)
from harness.levels import BusinessFlow
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooRPCError
from harness.probes import OdooEndpoint, ProbeSet, ProbeSettings, probe_settings
from tests.support.seeded import DB, LEVELS, SeededDouble, seeded_double, targets


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDouble]:
    with seeded_double(tmp_path_factory.mktemp("ledger")) as running:
        yield running


def test_ledger_records_invoke_then_outcome_and_refuses_a_reused_key() -> None:
    ledger = WriteLedger()
    first = ledger.invoke("k1", "order_import", KeyKind.SALE_ORDER, 10)
    ledger.invoke("k2", "receiving", KeyKind.PICKING, 20)
    ledger.complete(first, WriteOutcome.OK, 15)
    ledger.add(WriteRecord("k3", "order_import", 5, 8, WriteOutcome.FAIL), KeyKind.SALE_ORDER)

    records = ledger.records(now_ns=30)
    assert [(r.key, r.outcome, r.t_complete_ns) for r in records] == [
        ("k3", WriteOutcome.FAIL, 8),
        ("k1", WriteOutcome.OK, 15),
        ("k2", WriteOutcome.UNKNOWN, 30),  # still pending: the read-back decides
    ]
    ledger.add(WriteRecord("k4", "order_import", 31, 32, WriteOutcome.OK), KeyKind.SALE_ORDER, "b")
    assert ledger.keys_by_place() == {
        (None, KeyKind.SALE_ORDER): ("k1", "k3"),
        (None, KeyKind.PICKING): ("k2",),
        ("b", KeyKind.SALE_ORDER): ("k4",),
    }
    with pytest.raises(LedgerError, match="'k1' again"):
        ledger.invoke("k1", "order_import", KeyKind.SALE_ORDER)
    with pytest.raises(LedgerError, match="pending"):
        ledger.complete(first, WriteOutcome.OK)


class StaleReplica:
    """A fake app reader: the database's copies minus some keys, as a lagging replica."""

    def __init__(self, dsn: str, missing: set[str]) -> None:
        self.db = DbReadBack(dsn)
        self.missing = missing

    def copies(self, kind: KeyKind, keys: Sequence[str]) -> Mapping[str, int]:
        found = self.db.copies(kind, keys)
        return {key: n for key, n in found.items() if key not in self.missing}


def test_read_back_batches_keys_and_reports_where_the_app_disagrees(
    double: SeededDouble,
) -> None:
    ledger = WriteLedger()
    probes = ProbeSet(
        double.endpoint,
        double.seeded(),
        ledger,
        probe_settings(LEVELS, [BusinessFlow.ORDER_IMPORT]),
    )
    with probes:
        time.sleep(1.0)
    written = [r.key for r in ledger.records()]
    # 1,200 absent keys more make three chunks of 500 for each reader.
    for i in range(1200):
        ledger.add(
            WriteRecord(f"never-{i}", "order_import", 0, 1, WriteOutcome.FAIL), KeyKind.SALE_ORDER
        )

    with double.client() as client:
        agreed = read_back(ledger, AppKeyReader(client), DbReadBack(double.dsn))
    stale = read_back(ledger, StaleReplica(double.dsn, {written[-1]}), DbReadBack(double.dsn))

    assert agreed.disagreements == ()
    assert agreed.read_back.copies == {key: 1 for key in written}
    assert "agree on every one" in agreed.sentence
    assert [(d.key, d.via_app, d.via_db) for d in stale.disagreements] == [(written[-1], 0, 1)]
    assert written[-1] in stale.sentence


def test_rows_deleted_behind_the_app_after_ack_are_lost_with_keys_and_rpo(
    double: SeededDouble,
) -> None:
    ledger = WriteLedger()
    settings = probe_settings(LEVELS, [BusinessFlow.ORDER_IMPORT, BusinessFlow.RECEIVING])
    t_begin = time.monotonic_ns()
    with ProbeSet(double.endpoint, double.seeded(), ledger, settings):
        time.sleep(1.5)
    t_inject = time.monotonic_ns()
    acked = [r for r in ledger.records() if r.outcome is WriteOutcome.OK]
    orders = [r for r in acked if r.flow == "order_import"][1:3]
    receipt = next(r for r in acked if r.flow == "receiving" and not r.key.endswith(DONE_SUFFIX))
    # Deleting the receipt also loses its validation: the stock it moved is gone.
    validated = [r for r in acked if r.key == receipt.key + DONE_SUFFIX]
    with psycopg.connect(double.dsn, autocommit=True) as conn:
        order_keys = [r.key for r in orders]
        conn.execute(
            "DELETE FROM stock_picking WHERE sale_id IN "
            "(SELECT id FROM sale_order WHERE client_order_ref = ANY(%s))",
            (order_keys,),
        )
        conn.execute("DELETE FROM sale_order WHERE client_order_ref = ANY(%s)", (order_keys,))
        conn.execute("DELETE FROM stock_picking WHERE origin = %s", (receipt.key,))
    t_end = time.monotonic_ns()

    with double.client() as client:
        result = read_back(ledger, AppKeyReader(client), DbReadBack(double.dsn))
    report = reconcile(ledger.records(), result.read_back, t_inject)

    lost = [*orders, receipt, *validated]
    assert validated, "the receipt's validation is a write of its own"
    assert {w.key for w in report.lost} == {r.key for r in lost}
    oldest_ack = min(r.t_complete_ns for r in lost)
    assert report.rpo_ns == t_inject - oldest_ack
    assert report.acked_present == report.acked - len(lost)
    run = RunData(
        "deleted-rows",
        "db-failover",
        Timeline(
            t_begin,
            time.time_ns(),
            (
                TimelineEvent(EventKind.PHASE_START, t_begin, phase=Phase.BASELINE),
                TimelineEvent(EventKind.FAULT_INJECTED, t_inject, "rows deleted in PostgreSQL"),
                TimelineEvent(EventKind.RUN_END, t_end),
            ),
        ),
        {},
        targets(),
        recovery_target=RecoveryTarget("db-failover", 30.0, 0.0, 0),
        ledger=ledger.records(),
        read_back=result.read_back,
    )
    rpo = next(v for v in evaluate_run(run).verdicts if v.kind is VerdictKind.RPO)
    assert not rpo.passed
    assert rpo.measured == pytest.approx((t_inject - oldest_ack) / 1e9)
    assert f"{len(lost)} of" in rpo.sentence
    for record in lost:
        assert record.key in rpo.sentence


def test_an_unknown_write_that_committed_is_recovered_not_lost(double: SeededDouble) -> None:
    # The slow release sleeps 1.5 s before each business call and then commits; the probe
    # gives up after 1 s (a login, pbkdf2 in every common.login, fits in it), so it cannot
    # know whether its receipt was created.
    slow_url = double.start_extra("--release", "slow", "--slow-ms", "1500")
    ledger = WriteLedger()
    settings = [ProbeSettings(BusinessFlow.RECEIVING, 200, 1000, 500)]
    endpoint = OdooEndpoint(slow_url, "odoo", "admin", "admin")
    probes = ProbeSet(endpoint, double.seeded(), ledger, settings)
    with probes:
        time.sleep(1.5)
    time.sleep(2.0)  # let the server finish the calls the client gave up on

    records = ledger.records()
    assert records, probes.samples()["receiving"].details
    assert {r.outcome for r in records} == {WriteOutcome.UNKNOWN}
    samples = probes.samples()["receiving"]
    # Each run timed out at its create (the slow release answers after the timeout).
    assert {str(d) for d in samples.details} == {
        "OdooTimeout (read) at /jsonrpc object.execute_kw stock.picking.create"
    }
    with double.client() as client:
        result = read_back(ledger, AppKeyReader(client), DbReadBack(double.dsn))
    report = reconcile(records, result.read_back, None)

    assert report.lost == ()
    assert set(report.unknown_present) == {r.key for r in records}
    assert report.unknown_absent == ()
    assert report.integrity_violations == 0


def test_writes_to_another_tenant_are_read_back_from_its_database(double: SeededDouble) -> None:
    tenant_dsn = double.postgres.create_database("tenant2")
    url = double.start_extra("--db-name", f"{DB},tenant2")
    with OdooClient(url, "tenant2", "admin", "admin", 30) as tenant, double.client() as own:
        tenant.login()
        partner = tenant.execute_kw("res.partner", "create", [{"name": "Tenant Two Ltd"}])
        tenant.execute_kw(
            "sale.order", "create", [{"partner_id": partner, "client_order_ref": "t2-order"}]
        )
        ledger = WriteLedger()
        for key in ("t2-order", "t2-never-written"):
            record = WriteRecord(key, "order_import", 1, 2, WriteOutcome.OK)
            ledger.add(record, KeyKind.SALE_ORDER, "tenant2")
        with pytest.raises(ReadBackFailed, match="tenant database 'tenant2'"):
            read_back(ledger, AppKeyReader(own), DbReadBack(double.dsn))
        result = read_back(
            ledger,
            AppKeyReader(own),
            DbReadBack(double.dsn),
            tenants={"tenant2": (AppKeyReader(tenant), DbReadBack(tenant_dsn))},
        )
    # Found in the tenant's database (and not looked for in the run's own).
    assert result.read_back.copies == {"t2-order": 1}
    assert result.disagreements == ()


def test_a_validation_the_database_forgot_is_a_lost_stock_movement(double: SeededDouble) -> None:
    ledger = WriteLedger()
    settings = probe_settings(LEVELS, [BusinessFlow.PICKING_VALIDATE, BusinessFlow.RECEIVING])
    with ProbeSet(double.endpoint, double.seeded(), ledger, settings):
        time.sleep(1.5)
    acked = [r for r in ledger.records() if r.outcome is WriteOutcome.OK]
    done = [r for r in acked if r.key.endswith(DONE_SUFFIX)]
    assert {r.flow for r in done} == {"picking_validate", "receiving"}
    delivery = next(r for r in done if r.flow == "picking_validate")
    receipt = next(r for r in done if r.flow == "receiving")
    # Both transfers are done; now the database forgets the two validations.
    with psycopg.connect(double.dsn, autocommit=True) as conn:
        conn.execute(
            "UPDATE stock_picking SET state = 'assigned' WHERE sale_id IN "
            "(SELECT id FROM sale_order WHERE client_order_ref = %s)",
            (delivery.key.removesuffix(DONE_SUFFIX),),
        )
        conn.execute(
            "UPDATE stock_picking SET state = 'assigned' WHERE origin = %s",
            (receipt.key.removesuffix(DONE_SUFFIX),),
        )
    with double.client() as client:
        result = read_back(ledger, AppKeyReader(client), DbReadBack(double.dsn))
    assert result.disagreements == ()
    report = reconcile(ledger.records(), result.read_back, None)
    # The order and the receipt are still there; only their stock movements are gone.
    assert {w.key for w in report.lost} == {delivery.key, receipt.key}


class _SettlingApp:
    """An app answering a search_read with ``failures`` first (a stack still settling)."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def execute_kw(self, model: str, method: str, args: list[object]) -> object:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return [{"id": 1, "client_order_ref": "so-1"}]


def _pool_full() -> OdooRPCError:
    return OdooRPCError(
        endpoint="/jsonrpc object.execute_kw sale.order.search_read",
        name="psycopg2.pool.PoolError",
        message="The Connection Pool Is Full",
        code=200,
        http_status=200,
    )


def test_the_app_read_back_waits_out_a_database_tier_still_settling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AppKeyReader, "RETRY_S", 0.01)
    app = _SettlingApp(_pool_full(), _pool_full())
    reader = AppKeyReader(app, wait_s=5)  # type: ignore[arg-type]
    assert reader.copies(KeyKind.SALE_ORDER, ["so-1", "so-2"]) == {"so-1": 1}
    assert app.calls == 3


def test_an_app_read_back_that_keeps_failing_says_for_how_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AppKeyReader, "RETRY_S", 0.01)
    reader = AppKeyReader(_SettlingApp(*[_pool_full()] * 1000), wait_s=0.1)  # type: ignore[arg-type]
    with pytest.raises(ReadBackFailed) as caught:
        reader.copies(KeyKind.SALE_ORDER, ["so-1"])
    assert str(caught.value).startswith(
        "expected to read 1 SALE_ORDER keys back through the app within 0.1 s, saw: Odoo "
        "answered /jsonrpc object.execute_kw sale.order.search_read with error "
        "psycopg2.pool.PoolError"
    )
    # A business error is not the stack settling: no retry.
    business = OdooRPCError(
        endpoint="x", name="odoo.exceptions.AccessError", message="no", code=200, http_status=200
    )
    app = _SettlingApp(business)
    with pytest.raises(ReadBackFailed):
        AppKeyReader(app, wait_s=5).copies(KeyKind.SALE_ORDER, ["so-1"])  # type: ignore[arg-type]
    assert app.calls == 1
