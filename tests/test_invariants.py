"""The ERP invariants, read from the double's PostgreSQL after concurrent flows."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import psycopg
import pytest

from harness.core import VerdictKind
from harness.invariants import (
    Invariant,
    check_invariants,
    invariant_verdicts,
    skipped_references,
)
from harness.ledger import WriteLedger
from harness.levels import BusinessFlow
from harness.odoo.flows import OrderLine, deliver_sale_order
from harness.probes import ProbeSet, probe_settings
from tests.support.seeded import LEVELS, SeededDouble, seeded_double


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDouble]:
    with seeded_double(tmp_path_factory.mktemp("invariants")) as running:
        yield running


def test_skipped_references_are_listed_per_prefix() -> None:
    names = ["WH/IN/00001", "WH/IN/00004", "WH/OUT/00001", "WH/OUT/00002", "S00002", "x"]

    assert skipped_references(names) == {"S": [1], "WH/IN/": [2, 3]}


def _deliveries(double: SeededDouble, product_id: int, count: int) -> None:
    """Deliveries of one product from a thread of its own: they contend on its quants."""
    catalog = double.seeded()
    with double.client() as client:
        for _ in range(count):
            deliver_sale_order(
                client,
                catalog.customer_ids[0],
                f"inv-{uuid.uuid4().hex}",
                [OrderLine(product_id, 1.0)],
            )


def test_invariants_hold_after_concurrent_flows(double: SeededDouble) -> None:
    catalog = double.seeded()
    flows = [
        BusinessFlow.PICKING_VALIDATE,
        BusinessFlow.RECEIVING,
        BusinessFlow.ORDER_IMPORT,
        BusinessFlow.WAREHOUSE_SCAN,
    ]
    hot = catalog.products[0].product_id
    workers = [threading.Thread(target=_deliveries, args=(double, hot, 8)) for _ in range(2)]
    with ProbeSet(double.endpoint, catalog, WriteLedger(), probe_settings(LEVELS, flows)) as p:
        for worker in workers:
            worker.start()
        time.sleep(2.5)
        for worker in workers:
            worker.join(30)
    assert all(s.samples > 5 for s in p.stats())

    results = check_invariants(double.dsn)

    assert [r.invariant for r in results] == list(Invariant)
    assert all(r.holds for r in results), [r.sentence for r in results]
    assert "stock conservation holds over" in results[0].sentence
    verdicts = invariant_verdicts(results, "clean", "none", (0, 1))
    assert all(v.passed and v.kind is VerdictKind.INVARIANT for v in verdicts)


def test_tampering_behind_the_app_is_reported(double: SeededDouble) -> None:
    with psycopg.connect(double.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT q.id, q.product_id, q.location_id FROM stock_quant q "
            "JOIN stock_location l ON l.id = q.location_id "
            "WHERE l.usage = 'internal' ORDER BY q.id LIMIT 1"
        ).fetchone()
        assert row is not None
        quant, product, location = row
        conn.execute("UPDATE stock_quant SET quantity = quantity + 5 WHERE id = %s", (quant,))
        conn.execute(
            "UPDATE stock_picking SET name = 'WH/IN/00001' WHERE id = "
            "(SELECT id FROM stock_picking WHERE name = 'WH/IN/00002')"
        )
        conn.execute("ALTER TABLE product_product ADD COLUMN barcode_v2 varchar")
        try:
            results = {r.invariant: r for r in check_invariants(double.dsn)}
        finally:
            conn.execute("UPDATE stock_quant SET quantity = quantity - 5 WHERE id = %s", (quant,))
            conn.execute(
                "UPDATE stock_picking SET name = 'WH/IN/00002' WHERE id = "
                "(SELECT max(id) FROM stock_picking WHERE name = 'WH/IN/00001')"
            )
            conn.execute("ALTER TABLE product_product DROP COLUMN barcode_v2")

    stock = results[Invariant.STOCK_CONSERVATION]
    assert not stock.holds
    (violation,) = stock.violations
    held, moved = re.fullmatch(
        rf"product {product} in location {location}: quants hold (\S+), done moves give (\S+)",
        violation,
    ).groups()  # type: ignore[union-attr]
    assert Decimal(held) - Decimal(moved) == 5
    assert f"product {product} in location {location}" in stock.sentence
    unique = results[Invariant.UNIQUE_REFERENCES]
    assert unique.violations == ("stock_picking WH/IN/00001 x2",)
    # The renamed picking left WH/IN/00002 unused: counted, not a violation.
    assert re.search(r"\(([1-9][\d,]*) numbers unused", unique.sentence)
    migration = results[Invariant.NO_HALF_APPLIED_MIGRATION]
    assert "['barcode', 'barcode_v2']" in migration.sentence
    verdicts = invariant_verdicts(list(results.values()), "tampered", "none", (0, 1))
    assert [v.passed for v in verdicts] == [False] * 3
    assert check_invariants(double.dsn)[0].holds  # the tampering was undone
