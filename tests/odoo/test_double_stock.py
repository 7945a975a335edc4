"""Warehouse flows on the double: receipts, deliveries, inventory, reporting, concurrency."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support.standalone import DoubleProcess, JsonRpc, odoo_double, standalone_postgres


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[DoubleProcess, str]]:
    with standalone_postgres() as pg:
        dsn = pg.create_database("odoo")
        # A lower retry-sleep cap only keeps this module fast; the retry count is Odoo's.
        with odoo_double(dsn, extra_args=("--retry-sleep-cap", "0.2")) as app:
            yield app, dsn


@pytest.fixture(scope="module")
def rpc(stack: tuple[DoubleProcess, str]) -> Iterator[JsonRpc]:
    client = JsonRpc(stack[0].url)
    client.authenticate()
    yield client
    client.close()


@pytest.fixture(scope="module")
def setup(rpc: JsonRpc) -> dict[str, int]:
    wh = rpc.ok(
        "stock.warehouse", "search_read", [[], ["lot_stock_id", "in_type_id", "out_type_id"]]
    )[0]
    supplier = rpc.ok("stock.location", "search", [[["usage", "=", "supplier"]]])[0]
    partner = rpc.ok("res.partner", "create", [{"name": "Vendor", "ref": "v"}])
    product = rpc.ok(
        "product.product",
        "create",
        [
            {
                "name": "Pallet",
                "default_code": "P-1",
                "barcode": "4000001",
                "type": "consu",
                "is_storable": True,
                "list_price": 5.0,
            }
        ],
    )
    return {
        "wh": wh["id"],
        "stock": wh["lot_stock_id"][0],
        "in": wh["in_type_id"][0],
        "supplier": supplier,
        "partner": partner,
        "product": product,
    }


def receive(rpc: JsonRpc, s: dict[str, int], qty: float, key: str) -> int:
    picking: int = rpc.ok(
        "stock.picking",
        "create",
        [
            {
                "picking_type_id": s["in"],
                "partner_id": s["partner"],
                "location_id": s["supplier"],
                "location_dest_id": s["stock"],
                "origin": key,
                "move_ids": [
                    [
                        0,
                        0,
                        {
                            "name": "Pallet",
                            "product_id": s["product"],
                            "product_uom_qty": qty,
                            "location_id": s["supplier"],
                            "location_dest_id": s["stock"],
                        },
                    ]
                ],
            }
        ],
    )
    assert rpc.ok("stock.picking", "action_confirm", [[picking]]) is True
    read = rpc.ok("stock.picking", "read", [[picking], ["name", "state", "move_ids", "origin"]])
    assert read[0]["state"] == "assigned"
    assert read[0]["origin"] == key
    assert (
        rpc.ok("stock.move", "write", [read[0]["move_ids"], {"quantity": qty, "picked": True}])
        is True
    )
    ctx = {"skip_backorder": True, "picking_ids_not_to_backorder": [picking]}
    assert rpc.ok("stock.picking", "button_validate", [[picking]], {"context": ctx}) is True
    return picking


def deliver(rpc: JsonRpc, s: dict[str, int], qty: float, ref: str) -> dict[str, Any]:
    order = rpc.ok(
        "sale.order",
        "create",
        [
            {
                "partner_id": s["partner"],
                "client_order_ref": ref,
                "order_line": [[0, 0, {"product_id": s["product"], "product_uom_qty": qty}]],
            }
        ],
    )
    assert rpc.ok("sale.order", "action_confirm", [[order]]) is True
    so = rpc.ok(
        "sale.order", "read", [[order], ["name", "state", "picking_ids", "client_order_ref"]]
    )[0]
    picking = so["picking_ids"][0]
    rpc.ok("stock.picking", "action_assign", [[picking]])
    ctx = {"skip_backorder": True, "picking_ids_not_to_backorder": [picking]}
    body = rpc.execute_kw("stock.picking", "button_validate", [[picking]], {"context": ctx})
    return {"order": so, "picking": picking, "body": body}


def on_hand(rpc: JsonRpc, s: dict[str, int]) -> float:
    row = rpc.ok(
        "product.product",
        "search_read",
        [
            [["barcode", "=", "4000001"]],
            ["id", "display_name", "uom_id", "qty_available", "free_qty", "virtual_available"],
        ],
        {"limit": 1, "context": {"warehouse_id": s["wh"]}},
    )[0]
    assert row["display_name"] == "[P-1] Pallet"
    assert row["uom_id"] == [1, "Units"]
    qty: float = row["qty_available"]
    return qty


def test_receipt_then_delivery_with_backorder_action(rpc: JsonRpc, setup: dict[str, int]) -> None:
    start = on_hand(rpc, setup)
    picking = receive(rpc, setup, 10, "rcpt-1")
    assert rpc.ok(
        "stock.picking", "search_read", [[["origin", "=", "rcpt-1"]], ["id", "state", "name"]]
    ) == [{"id": picking, "state": "done", "name": "WH/IN/00001"}]
    assert on_hand(rpc, setup) == start + 10
    order = rpc.ok(
        "sale.order",
        "create",
        [
            {
                "partner_id": setup["partner"],
                "client_order_ref": "so-short",
                "order_line": [
                    [0, 0, {"product_id": setup["product"], "product_uom_qty": start + 15}]
                ],
            }
        ],
    )
    rpc.ok("sale.order", "action_confirm", [[order]])
    out = rpc.ok("sale.order", "read", [[order], ["picking_ids"]])[0]["picking_ids"][0]
    assert rpc.ok("stock.picking", "read", [[out], ["state"]])[0]["state"] == "assigned"
    action = rpc.ok("stock.picking", "button_validate", [[out]])
    assert action["res_model"] == "stock.backorder.confirmation"
    ctx = {"skip_backorder": True, "picking_ids_not_to_backorder": [out]}
    assert rpc.ok("stock.picking", "button_validate", [[out]], {"context": ctx}) is True
    assert on_hand(rpc, setup) == 0
    assert (
        rpc.ok(
            "sale.order",
            "search_read",
            [[["client_order_ref", "=", "so-short"]], ["id", "name", "state"]],
        )[0]["state"]
        == "sale"
    )


def test_inventory_adjustment_and_reporting(rpc: JsonRpc, setup: dict[str, int]) -> None:
    bin_id = rpc.ok(
        "stock.location",
        "create",
        [{"name": "B-7", "location_id": setup["stock"], "usage": "internal"}],
    )
    quant = rpc.ok(
        "stock.quant",
        "create",
        [{"product_id": setup["product"], "location_id": bin_id, "inventory_quantity": 7}],
        {"context": {"inventory_mode": True}},
    )
    assert rpc.ok("stock.quant", "action_apply_inventory", [[quant]]) is None
    again = rpc.ok(
        "stock.quant",
        "create",
        [{"product_id": setup["product"], "location_id": bin_id, "inventory_quantity": 9}],
        {"context": {"inventory_mode": True}},
    )
    assert again == quant
    rpc.ok("stock.quant", "action_apply_inventory", [[quant]])
    bins = rpc.ok(
        "stock.quant",
        "search_read",
        [
            [["product_id", "=", setup["product"]], ["location_id", "child_of", setup["stock"]]],
            ["location_id", "lot_id", "quantity", "reserved_quantity"],
        ],
    )
    assert {
        "id": quant,
        "location_id": [bin_id, "WH/Stock/B-7"],
        "lot_id": False,
        "quantity": 9.0,
        "reserved_quantity": 0.0,
    } in bins
    groups = rpc.ok(
        "stock.quant",
        "read_group",
        [
            [["location_id.usage", "=", "internal"]],
            ["quantity:sum", "reserved_quantity:sum"],
            ["product_id", "location_id"],
        ],
        {"lazy": False},
    )
    row = next(g for g in groups if g["location_id"] == [bin_id, "WH/Stock/B-7"])
    assert row["product_id"] == [setup["product"], "[P-1] Pallet"]
    assert row["quantity"] == 9.0
    assert row["__count"] == 1
    assert ["location_id", "=", bin_id] in row["__domain"]
    hourly = rpc.ok(
        "stock.move.line",
        "read_group",
        [
            [["state", "=", "done"], ["date", ">=", "2000-01-01 00:00:00"]],
            ["quantity:sum"],
            ["picking_code", "date:hour"],
        ],
        {"lazy": False},
    )
    assert {g["picking_code"] for g in hourly} >= {"incoming", "outgoing", False}
    assert all("date:hour" in g and "__count" in g for g in hourly)


def test_concurrent_flows_conserve_stock_and_never_reuse_a_number(
    rpc: JsonRpc, setup: dict[str, int], stack: tuple[DoubleProcess, str]
) -> None:
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        client = JsonRpc(stack[0].url)
        client.authenticate()
        for i in range(4):
            if (n + i) % 2 == 0:
                body = client.execute_kw(
                    "stock.picking",
                    "create",
                    [
                        {
                            "picking_type_id": setup["in"],
                            "partner_id": setup["partner"],
                            "location_id": setup["supplier"],
                            "location_dest_id": setup["stock"],
                            "origin": str(uuid.uuid4()),
                            "move_ids": [
                                [
                                    0,
                                    0,
                                    {
                                        "name": "Pallet",
                                        "product_id": setup["product"],
                                        "product_uom_qty": 3,
                                        "location_id": setup["supplier"],
                                        "location_dest_id": setup["stock"],
                                    },
                                ]
                            ],
                        }
                    ],
                )
                if "result" in body:
                    client.execute_kw("stock.picking", "button_validate", [[body["result"]]])
            else:
                body = deliver(client, setup, 2, str(uuid.uuid4()))["body"]
            with lock:
                results.append(body)
        client.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 16
    with psycopg.connect(stack[1]) as conn:
        # Per product the quants sum to zero: nothing created or destroyed.
        total = conn.execute(
            "SELECT product_id, sum(quantity) FROM stock_quant "
            "GROUP BY product_id HAVING sum(quantity) <> 0"
        ).fetchall()
        assert total == []
        # Each quant equals its done move lines in minus out (lines name the real bin).
        drift = conn.execute("""
            SELECT q.location_id, q.quantity, COALESCE(i.s, 0) - COALESCE(o.s, 0)
            FROM stock_quant q
            LEFT JOIN (SELECT product_id p, location_dest_id l, sum(quantity) s FROM stock_move_line
                       WHERE state = 'done' GROUP BY 1, 2) i
                   ON i.p = q.product_id AND i.l = q.location_id
            LEFT JOIN (SELECT product_id p, location_id l, sum(quantity) s FROM stock_move_line
                       WHERE state = 'done' GROUP BY 1, 2) o
                   ON o.p = q.product_id AND o.l = q.location_id
            WHERE q.quantity <> COALESCE(i.s, 0) - COALESCE(o.s, 0)""").fetchall()
        assert drift == []
        assert conn.execute(
            "SELECT count(*) FROM stock_quant WHERE reserved_quantity < 0 "
            "OR (quantity < 0 AND location_id IN (SELECT id FROM "
            "stock_location WHERE usage = 'internal'))"
        ).fetchone() == (0,)
        for prefix in ("WH/IN/", "WH/OUT/", "S"):
            table = "sale_order" if prefix == "S" else "stock_picking"
            names = [
                r[0]
                for r in conn.execute(
                    f"SELECT name FROM {table} WHERE name LIKE %s ORDER BY name", (prefix + "0%",)
                ).fetchall()
            ]
            numbers = [int(n[len(prefix) :]) for n in names]
            # Standard sequences, as in Odoo: a retried write may leave a number unused,
            # but no number is ever handed out twice.
            assert len(set(numbers)) == len(numbers), (prefix, numbers)
