"""Every warehouse flow and the seed, end to end against the Odoo double.

The double (fixtures/odoo_double) runs as a subprocess on a run-time port, with its data in
a throwaway PostgreSQL 15 and its sessions in a throwaway Redis (tests/support/standalone).
Against real Odoo these flows run through the lead's real-Odoo driver (env ``ODOO_BIN``);
nothing here claims that.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from harness.odoo import flows
from harness.odoo.client import OdooClient
from harness.odoo.errors import (
    ErrorKind,
    LoginRefused,
    OdooError,
    OdooHTTPError,
    OdooRPCError,
)
from harness.odoo.seed import SeedCatalog, SeededProduct, is_valid_ean13, seed_warehouse
from tests.support.standalone import (
    StandalonePostgres,
    standalone_postgres,
    standalone_redis,
    start_double,
)

DB_NAME = "odoo"
SEED_PRODUCTS = 2000


@dataclass(frozen=True)
class RunningDouble:
    base_url: str
    postgres: StandalonePostgres
    log: Path


@pytest.fixture(scope="module")
def odoo_double() -> Iterator[RunningDouble]:
    with standalone_postgres() as pg, standalone_redis() as redis:
        dsn = pg.create_database(DB_NAME)
        double = start_double(dsn, redis=redis.address)
        try:
            double.wait_ready()
            yield RunningDouble(base_url=double.url, postgres=pg, log=double.log)
        finally:
            code = double.stop()
    assert code == 0, f"the double should stop cleanly; see {double.log}"


@pytest.fixture(scope="module")
def client(odoo_double: RunningDouble) -> Iterator[OdooClient]:
    with OdooClient(odoo_double.base_url, DB_NAME, "admin", "admin", 30.0) as odoo:
        odoo.login()
        yield odoo


@pytest.fixture(scope="module")
def catalog(client: OdooClient) -> SeedCatalog:
    return seed_warehouse(client, products=SEED_PRODUCTS, seed=42, bins=48)


def key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def on_hand(client: OdooClient, catalog: SeedCatalog, product: SeededProduct) -> float:
    scan = flows.scan_barcode(client, catalog.warehouse, product.barcode)
    assert scan.product is not None
    return scan.product.qty_available


def test_warehouse_context_matches_the_warehouse_records(client: OdooClient) -> None:
    ctx = flows.warehouse_context(client)
    assert ctx.version.major == 18
    assert ctx.warehouse_code == "WH"
    types = client.execute_kw(
        "stock.picking.type", "read", [[ctx.in_type_id, ctx.out_type_id], ["code"]]
    )
    assert [row["code"] for row in flows.as_rows(types, "read")] == ["incoming", "outgoing"]
    usages = client.execute_kw(
        "stock.location",
        "read",
        [[ctx.supplier_location_id, ctx.customer_location_id, ctx.lot_stock_id], ["usage"]],
    )
    assert [row["usage"] for row in flows.as_rows(usages, "read")] == [
        "supplier",
        "customer",
        "internal",
    ]
    assert flows.storable_product_values(ctx.version) == {"type": "consu", "is_storable": True}


def test_seed_creates_the_catalog_with_stock_and_is_idempotent(
    client: OdooClient, catalog: SeedCatalog
) -> None:
    assert catalog.created.products == SEED_PRODUCTS
    assert (catalog.created.bins, catalog.created.partners) == (48, 60)
    assert catalog.created.quants == SEED_PRODUCTS
    assert all(is_valid_ean13(p.barcode) for p in catalog.products)
    counted = client.execute_kw(
        "product.product", "search_count", [[["default_code", "=like", "S42-%"]]]
    )
    assert counted == SEED_PRODUCTS

    again = seed_warehouse(client, products=SEED_PRODUCTS, seed=42, bins=48)
    assert (again.created.products, again.created.bins) == (0, 0)
    assert (again.created.partners, again.created.quants) == (0, 0)
    assert again.products == catalog.products
    assert (again.customer_ids, again.vendor_ids) == (catalog.customer_ids, catalog.vendor_ids)


def test_scan_shows_seeded_stock_in_its_bin(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[7]
    scan = flows.scan_barcode(client, catalog.warehouse, product.barcode)
    assert scan.product is not None
    assert scan.product.product_id == product.product_id
    assert product.default_code in scan.product.display_name
    assert scan.product.qty_available == product.initial_qty
    assert [(q.location_id, q.quantity) for q in scan.quants] == [
        (product.bin_id, product.initial_qty)
    ]


def test_scan_of_unknown_barcode_finds_nothing(client: OdooClient, catalog: SeedCatalog) -> None:
    scan = flows.scan_barcode(client, catalog.warehouse, "0000000000000")
    assert (scan.product, scan.quants) == (None, ())


def test_receive_validates_and_adds_stock(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[10]
    before = on_hand(client, catalog, product)
    origin = key("rcv")
    result = flows.receive(
        client, catalog.warehouse, product.product_id, 12, origin, partner_id=catalog.vendor_ids[0]
    )
    assert (result.state, result.origin, result.followed_backorder_wizard) == (
        "done",
        origin,
        False,
    )
    assert result.name.startswith("WH/IN/")
    assert len(result.move_ids) == 1
    assert on_hand(client, catalog, product) == before + 12
    found = flows.find_pickings(client, origin)
    assert [(p.picking_id, p.state) for p in found] == [(result.picking_id, "done")]


def test_short_receipt_is_done_without_backorder(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[11]
    before = on_hand(client, catalog, product)
    origin = key("rcv-short")
    result = flows.receive(
        client, catalog.warehouse, product.product_id, 10, origin, received_qty=4
    )
    assert result.state == "done"
    assert on_hand(client, catalog, product) == before + 4
    # A backorder would carry the same origin.
    assert len(flows.find_pickings(client, origin)) == 1


def test_import_order_is_idempotent_by_client_ref(client: OdooClient, catalog: SeedCatalog) -> None:
    ref = key("so")
    lines = [flows.OrderLine(product_id=catalog.products[20].product_id, quantity=2)]
    first = flows.import_order(client, catalog.customer_ids[0], ref, lines)
    again = flows.import_order(client, catalog.customer_ids[0], ref, lines)
    assert (first.created, again.created) == (True, False)
    assert first.order_id == again.order_id
    assert (first.state, first.client_order_ref) == ("sale", ref)
    assert len(first.picking_ids) == 1
    count = client.execute_kw("sale.order", "search_count", [[["client_order_ref", "=", ref]]])
    assert count == 1


def test_deliver_sale_order_ships_reserved_stock(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[30]
    before = on_hand(client, catalog, product)
    ref = key("dlv")
    result = flows.deliver_sale_order(
        client,
        catalog.customer_ids[1],
        ref,
        [flows.OrderLine(product_id=product.product_id, quantity=3)],
    )
    assert result.order.client_order_ref == ref
    assert [p.state for p in result.pickings] == ["done"]
    assert result.pickings[0].name.startswith("WH/OUT/")
    assert result.waiting_picking_ids == ()
    assert result.lines == (
        flows.DeliveredLine(product_id=product.product_id, ordered=3, delivered=3),
    )
    assert on_hand(client, catalog, product) == before - 3
    repeat = flows.deliver_sale_order(
        client,
        catalog.customer_ids[1],
        ref,
        [flows.OrderLine(product_id=product.product_id, quantity=3)],
    )
    assert (repeat.order.order_id, repeat.order.created, repeat.pickings) == (
        result.order.order_id,
        False,
        (),
    )
    assert on_hand(client, catalog, product) == before - 3


def test_short_delivery_ships_what_is_on_hand(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[31]
    flows.adjust_inventory(client, product.product_id, product.bin_id, 5)
    result = flows.deliver_sale_order(
        client,
        catalog.customer_ids[2],
        key("dlv-short"),
        [flows.OrderLine(product_id=product.product_id, quantity=8)],
    )
    assert [p.state for p in result.pickings] == ["done"]
    assert result.lines == (
        flows.DeliveredLine(product_id=product.product_id, ordered=8, delivered=5),
    )
    assert on_hand(client, catalog, product) == 0


def test_delivery_without_stock_waits(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[32]
    flows.adjust_inventory(client, product.product_id, product.bin_id, 0)
    result = flows.deliver_sale_order(
        client,
        catalog.customer_ids[3],
        key("dlv-none"),
        [flows.OrderLine(product_id=product.product_id, quantity=2)],
    )
    assert result.pickings == ()
    assert result.waiting_picking_ids == result.order.picking_ids
    state = client.execute_kw(
        "stock.picking", "read", [list(result.waiting_picking_ids), ["state"]]
    )
    assert [row["state"] for row in flows.as_rows(state, "read")] == ["confirmed"]


def test_adjust_inventory_sets_the_counted_quantity(
    client: OdooClient, catalog: SeedCatalog
) -> None:
    product = catalog.products[40]
    result = flows.adjust_inventory(client, product.product_id, product.bin_id, 123)
    assert (result.product_id, result.location_id, result.quantity) == (
        product.product_id,
        product.bin_id,
        123,
    )
    assert on_hand(client, catalog, product) == 123
    # The same product and location reuse the quant, as Odoo's inventory mode does.
    assert flows.adjust_inventory(client, product.product_id, product.bin_id, 7).quant_id == (
        result.quant_id
    )


def test_stock_report_matches_the_quants(client: OdooClient, catalog: SeedCatalog) -> None:
    product = catalog.products[50]
    flows.adjust_inventory(client, product.product_id, product.bin_id, 77)
    rows = flows.stock_report(client)
    mine = [r for r in rows if r.product_id == product.product_id]
    assert [(r.location_id, r.quantity, r.reserved_quantity, r.quant_count) for r in mine] == [
        (product.bin_id, 77, 0, 1)
    ]
    assert mine[0].product_name.startswith(f"[{product.default_code}]") or (
        product.name in mine[0].product_name
    )
    assert len({r.product_id for r in rows}) >= SEED_PRODUCTS


def test_throughput_report_counts_done_receipts_and_deliveries(
    client: OdooClient, catalog: SeedCatalog
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    product = catalog.products[60]
    before = {r.picking_code: r.quantity for r in flows.throughput_report(client, since)}
    flows.receive(client, catalog.warehouse, product.product_id, 6, key("tp-in"))
    flows.deliver_sale_order(
        client,
        catalog.customer_ids[4],
        key("tp-out"),
        [flows.OrderLine(product_id=product.product_id, quantity=4)],
    )
    rows = flows.throughput_report(client, since)
    totals: dict[str, float] = {}
    for row in rows:
        assert row.hour
        assert row.line_count >= 1
        totals[row.picking_code] = totals.get(row.picking_code, 0.0) + row.quantity
    assert totals["incoming"] - before.get("incoming", 0.0) == 6
    assert totals["outgoing"] - before.get("outgoing", 0.0) == 4


def test_errors_from_the_double_are_classified(
    odoo_double: RunningDouble, client: OdooClient
) -> None:
    with pytest.raises(OdooRPCError) as private:
        client.execute_kw("res.partner", "_private_thing", [])
    assert (private.value.kind, private.value.name) == (
        ErrorKind.BUSINESS,
        "odoo.exceptions.AccessError",
    )
    with pytest.raises(OdooRPCError) as unknown:
        client.execute_kw("no.such.model", "search", [[]])
    assert unknown.value.name == "odoo.exceptions.UserError"
    assert "doesn't exist" in unknown.value.message
    with (
        OdooClient(odoo_double.base_url, DB_NAME, "admin", "wrong", 10.0) as bad,
        pytest.raises(LoginRefused),
    ):
        bad.login()


def test_session_api_and_expired_session(odoo_double: RunningDouble) -> None:
    with OdooClient(odoo_double.base_url, DB_NAME, "admin", "admin", 10.0) as web:
        info = web.authenticate_session()
        assert (info.uid, info.db) == (2, DB_NAME)
        count = web.call_kw("res.partner", "search_count", [[]])
        assert isinstance(count, int)
        assert count > 0
    with httpx.Client(base_url=odoo_double.base_url) as raw:
        answer = raw.post(
            "/web/dataset/call_kw/res.partner.search_count",
            json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1},
            headers={"Cookie": "session_id=not-a-session"},
        )
    assert answer.json()["error"]["code"] == 100


def test_database_outage_is_an_outage_on_both_apis(
    odoo_double: RunningDouble, client: OdooClient
) -> None:
    with OdooClient(odoo_double.base_url, DB_NAME, "admin", "admin", 10.0) as web:
        web.authenticate_session()
        odoo_double.postgres.stop()
        try:
            with pytest.raises(OdooRPCError) as rpc:
                client.execute_kw("res.partner", "search_count", [[]])
            with pytest.raises(OdooError) as session_call:
                web.call_kw("res.partner", "search_count", [[]])
        finally:
            odoo_double.postgres.start()
        assert rpc.value.kind is ErrorKind.INFRA
        assert rpc.value.outcome_unknown is True
        # Real Odoo serves cookie calls "nodb" during the outage: 404 HTML (odoo-facts.md §7);
        # the double may answer with the envelope instead. Both must read as an outage.
        seen = session_call.value
        assert (isinstance(seen, OdooHTTPError) and seen.status == 404) or (
            isinstance(seen, OdooRPCError) and seen.kind is ErrorKind.INFRA
        ), seen
        # The same session works again once PostgreSQL is back (odoo-facts.md §7).
        deadline = time.monotonic() + 10
        while True:
            try:
                assert isinstance(web.call_kw("res.partner", "search_count", [[]]), int)
                break
            except OdooError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
