"""The warehouse business flows, as Odoo 17/18 clients run them over ``execute_kw``.

Each flow is a function taking an ``OdooClient`` (logged in) and, where it needs warehouse
ids, the ``WarehouseContext`` read once at setup; it makes exactly the calls of
odoo-facts.md §3 and returns a frozen result object. A flow that changes data takes a
unique key (``origin`` of a picking, ``client_order_ref`` of a sale order) so the write
ledger can find the write again, and asserts its end state by reading it back rather than
trusting return values.

Odoo 17 and 18 differ, for these flows, only in how a storable product is declared
(17: ``type='product'``; 18: ``type='consu'`` + ``is_storable=True``);
``storable_product_values`` picks the right one from ``common.version``. Both versions
have ``stock.move.quantity`` + ``picked`` (17 replaced ``quantity_done``), both answer
``button_validate`` with True or an action (backorder wizard, reception report, print),
and both return None from ``stock.quant.action_apply_inventory``.

The functions under "Reading answers" turn JSON values into typed ones and raise
``UnexpectedAnswer`` on any other shape; ``seed.py`` uses them too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from harness.odoo.client import OdooClient, OdooVersion
from harness.odoo.errors import FlowIncomplete, UnexpectedAnswer

ODOO_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
BACKORDER_WIZARD = "stock.backorder.confirmation"
FIRST_STORABLE_IS_STORABLE_MAJOR = 18
QUANTITY_TOLERANCE = 1e-6

# --- Reading answers -------------------------------------------------------------------


def as_id(value: object, endpoint: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise UnexpectedAnswer(endpoint=endpoint, expected="a record id", seen=value)


def as_ids(value: object, endpoint: str) -> tuple[int, ...]:
    if isinstance(value, list):
        return tuple(as_id(item, endpoint) for item in value)
    raise UnexpectedAnswer(endpoint=endpoint, expected="a list of record ids", seen=value)


def as_rows(value: object, endpoint: str) -> list[Mapping[str, object]]:
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        return value
    raise UnexpectedAnswer(endpoint=endpoint, expected="a list of records", seen=value)


def field_id(row: Mapping[str, object], name: str, endpoint: str) -> int:
    """A required integer or many2one field's id."""
    found = many2one(row, name, endpoint)
    if found is None:
        raise UnexpectedAnswer(endpoint=endpoint, expected=f"field {name!r} set", seen=row)
    return found[0]


def many2one(row: Mapping[str, object], name: str, endpoint: str) -> tuple[int, str] | None:
    """A many2one read as ``[id, display_name]`` (or a bare id), None when ``false``."""
    value = row.get(name)
    if value is False or value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value, ""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
        return as_id(value[0], endpoint), value[1]
    raise UnexpectedAnswer(endpoint=endpoint, expected=f"{name!r} as [id, name]", seen=row)


def field_float(row: Mapping[str, object], name: str, endpoint: str) -> float:
    value = row.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise UnexpectedAnswer(endpoint=endpoint, expected=f"number field {name!r}", seen=row)


def field_str(row: Mapping[str, object], name: str, endpoint: str) -> str:
    value = row.get(name)
    if isinstance(value, str):
        return value
    if value is False:
        return ""
    raise UnexpectedAnswer(endpoint=endpoint, expected=f"text field {name!r}", seen=row)


def field_ids(row: Mapping[str, object], name: str, endpoint: str) -> tuple[int, ...]:
    return as_ids(row.get(name), endpoint)


def _endpoint(model: str, method: str) -> str:
    return f"/jsonrpc object.execute_kw {model}.{method}"


def _search_read(
    client: OdooClient,
    model: str,
    domain: list[object],
    fields: list[str],
    **kwargs: object,
) -> list[Mapping[str, object]]:
    return as_rows(
        client.execute_kw(model, "search_read", [domain, fields], kwargs),
        _endpoint(model, "search_read"),
    )


def _read_one(
    client: OdooClient, model: str, record_id: int, fields: list[str]
) -> Mapping[str, object]:
    endpoint = _endpoint(model, "read")
    rows = as_rows(client.execute_kw(model, "read", [[record_id], fields]), endpoint)
    if len(rows) != 1:
        raise UnexpectedAnswer(endpoint=endpoint, expected=f"one {model} record", seen=rows)
    return rows[0]


# --- Setup -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WarehouseContext:
    """The ids every flow needs, read once per run (odoo-facts.md §3 "Setup reads")."""

    version: OdooVersion
    warehouse_id: int
    warehouse_code: str
    lot_stock_id: int
    in_type_id: int
    out_type_id: int
    supplier_location_id: int
    customer_location_id: int


def storable_product_values(version: OdooVersion) -> dict[str, object]:
    """The ``product.product.create`` values that make a product tracked in stock."""
    if version.major >= FIRST_STORABLE_IS_STORABLE_MAJOR:
        return {"type": "consu", "is_storable": True}
    return {"type": "product"}


def warehouse_context(client: OdooClient, warehouse_code: str | None = None) -> WarehouseContext:
    """Reads the warehouse (the first, or the one with ``warehouse_code``) and its locations."""
    version = client.version()
    endpoint = _endpoint("stock.warehouse", "search_read")
    warehouses = _search_read(
        client,
        "stock.warehouse",
        [],
        ["name", "code", "lot_stock_id", "in_type_id", "out_type_id"],
    )
    chosen = [w for w in warehouses if warehouse_code in (None, w.get("code"))]
    if not chosen:
        raise FlowIncomplete(
            endpoint=endpoint,
            expected=f"a warehouse{'' if warehouse_code is None else ' ' + warehouse_code}",
            seen=f"warehouses {[w.get('code') for w in warehouses]}",
            hint="Install the stock module in the database, or name an existing warehouse.",
        )
    warehouse = min(chosen, key=lambda w: field_id(w, "id", endpoint))
    warehouse_id = field_id(warehouse, "id", endpoint)
    return WarehouseContext(
        version=version,
        warehouse_id=warehouse_id,
        warehouse_code=field_str(warehouse, "code", endpoint),
        lot_stock_id=field_id(warehouse, "lot_stock_id", endpoint),
        in_type_id=_picking_type(client, warehouse, warehouse_id, "incoming", "in_type_id"),
        out_type_id=_picking_type(client, warehouse, warehouse_id, "outgoing", "out_type_id"),
        supplier_location_id=_first_location(client, "supplier"),
        customer_location_id=_first_location(client, "customer"),
    )


def _picking_type(
    client: OdooClient,
    warehouse: Mapping[str, object],
    warehouse_id: int,
    code: str,
    warehouse_field: str,
) -> int:
    """The warehouse's own operation type, checked against the types of that code."""
    endpoint = _endpoint("stock.picking.type", "search_read")
    types = _search_read(
        client,
        "stock.picking.type",
        [["code", "=", code]],
        ["id", "warehouse_id", "default_location_src_id", "default_location_dest_id"],
    )
    declared = many2one(warehouse, warehouse_field, endpoint)
    ids_of_code = {field_id(t, "id", endpoint) for t in types}
    if declared is not None and declared[0] in ids_of_code:
        return declared[0]
    own = sorted(
        field_id(t, "id", endpoint)
        for t in types
        if (many2one(t, "warehouse_id", endpoint) or (0, ""))[0] == warehouse_id
    )
    if not own:
        raise FlowIncomplete(
            endpoint=endpoint,
            expected=f"an {code} operation type for warehouse {warehouse_id}",
            seen=f"{code} types {sorted(ids_of_code)}, warehouse {warehouse_field}={declared}",
            hint="The warehouse's operation types are archived or missing; repair them in Odoo.",
        )
    return own[0]


def _first_location(client: OdooClient, usage: str) -> int:
    endpoint = _endpoint("stock.location", "search_read")
    rows = _search_read(
        client,
        "stock.location",
        [["usage", "=", usage]],
        ["id", "name", "complete_name", "usage", "location_id"],
    )
    if not rows:
        raise FlowIncomplete(
            endpoint=endpoint,
            expected=f"a location with usage {usage!r}",
            seen="none",
            hint="Install the stock module; it creates Partners/Vendors and Partners/Customers.",
        )
    return min(field_id(row, "id", endpoint) for row in rows)


# --- Scan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedProduct:
    product_id: int
    display_name: str
    uom_id: int
    qty_available: float
    free_qty: float
    virtual_available: float


@dataclass(frozen=True)
class QuantLine:
    """Stock of the scanned product in one location under the warehouse stock location."""

    location_id: int
    location_name: str
    lot_id: int | None
    quantity: float
    reserved_quantity: float


@dataclass(frozen=True)
class ScanResult:
    """What a scanner shows for a barcode; ``product`` is None for an unknown barcode."""

    code: str
    product: ScannedProduct | None
    quants: tuple[QuantLine, ...]


def scan_barcode(client: OdooClient, ctx: WarehouseContext, code: str) -> ScanResult:
    endpoint = _endpoint("product.product", "search_read")
    found = _search_read(
        client,
        "product.product",
        [["barcode", "=", code]],
        ["id", "display_name", "uom_id", "qty_available", "free_qty", "virtual_available"],
        limit=1,
        context={"warehouse_id": ctx.warehouse_id},
    )
    if not found:
        return ScanResult(code=code, product=None, quants=())
    row = found[0]
    product = ScannedProduct(
        product_id=field_id(row, "id", endpoint),
        display_name=field_str(row, "display_name", endpoint),
        uom_id=field_id(row, "uom_id", endpoint),
        qty_available=field_float(row, "qty_available", endpoint),
        free_qty=field_float(row, "free_qty", endpoint),
        virtual_available=field_float(row, "virtual_available", endpoint),
    )
    quant_endpoint = _endpoint("stock.quant", "search_read")
    quants = _search_read(
        client,
        "stock.quant",
        [["product_id", "=", product.product_id], ["location_id", "child_of", ctx.lot_stock_id]],
        ["location_id", "lot_id", "quantity", "reserved_quantity"],
    )
    lines = []
    for quant in quants:
        location = many2one(quant, "location_id", quant_endpoint)
        if location is None:
            raise UnexpectedAnswer(
                endpoint=quant_endpoint, expected="a quant with a location", seen=quant
            )
        lot = many2one(quant, "lot_id", quant_endpoint)
        lines.append(
            QuantLine(
                location_id=location[0],
                location_name=location[1],
                lot_id=None if lot is None else lot[0],
                quantity=field_float(quant, "quantity", quant_endpoint),
                reserved_quantity=field_float(quant, "reserved_quantity", quant_endpoint),
            )
        )
    return ScanResult(code=code, product=product, quants=tuple(lines))


# --- Pickings --------------------------------------------------------------------------


@dataclass(frozen=True)
class PickingResult:
    """A picking read back after validation; ``followed_backorder_wizard`` when Odoo asked."""

    picking_id: int
    name: str
    state: str
    origin: str
    move_ids: tuple[int, ...]
    followed_backorder_wizard: bool


@dataclass(frozen=True)
class PickingRef:
    """A picking found by its idempotency key (``origin``), for the ledger's read-back."""

    picking_id: int
    name: str
    state: str


def receive(
    client: OdooClient,
    ctx: WarehouseContext,
    product_id: int,
    qty: float,
    origin_key: str,
    *,
    partner_id: int | None = None,
    received_qty: float | None = None,
) -> PickingResult:
    """A vendor receipt of ``qty`` (``received_qty`` when short) validated without backorder."""
    model = "stock.picking"
    values: dict[str, object] = {
        "picking_type_id": ctx.in_type_id,
        "location_id": ctx.supplier_location_id,
        "location_dest_id": ctx.lot_stock_id,
        "origin": origin_key,
        "move_ids": [
            [
                0,
                0,
                {
                    # Required on stock.move in 18; any label will do.
                    "name": f"Receipt {origin_key}",
                    "product_id": product_id,
                    "product_uom_qty": qty,
                    "location_id": ctx.supplier_location_id,
                    "location_dest_id": ctx.lot_stock_id,
                },
            ]
        ],
    }
    if partner_id is not None:
        values["partner_id"] = partner_id
    picking_id = as_id(client.execute_kw(model, "create", [values]), _endpoint(model, "create"))
    client.execute_kw(model, "action_confirm", [[picking_id]])
    picking = _read_one(client, model, picking_id, ["name", "state", "move_ids", "origin"])
    move_ids = field_ids(picking, "move_ids", _endpoint(model, "read"))
    done_qty = qty if received_qty is None else received_qty
    client.execute_kw(
        "stock.move", "write", [list(move_ids), {"quantity": done_qty, "picked": True}]
    )
    return _validate(client, picking_id)


def _validate(client: OdooClient, picking_id: int) -> PickingResult:
    """``button_validate`` without backorder, the wizard if Odoo still asks, then read-back."""
    model = "stock.picking"
    no_backorder = {"skip_backorder": True, "picking_ids_not_to_backorder": [picking_id]}
    answer = client.execute_kw(model, "button_validate", [[picking_id]], {"context": no_backorder})
    followed = isinstance(answer, dict) and answer.get("res_model") == BACKORDER_WIZARD
    if followed:
        # Only reached when Odoo ignores the skip context (a customised picking type);
        # the wizard's "No Backorder" button is the same decision.
        wizard_context = {"button_validate_picking_ids": [picking_id]}
        wizard_id = as_id(
            client.execute_kw(
                BACKORDER_WIZARD,
                "create",
                [{"pick_ids": [[4, picking_id]]}],
                {"context": wizard_context},
            ),
            _endpoint(BACKORDER_WIZARD, "create"),
        )
        client.execute_kw(
            BACKORDER_WIZARD,
            "process_cancel_backorder",
            [[wizard_id]],
            {"context": wizard_context},
        )
    # Any other action (reception report, printing) comes after the transfer is done.
    picking = _read_one(client, model, picking_id, ["name", "state", "move_ids", "origin"])
    endpoint = _endpoint(model, "read")
    state = field_str(picking, "state", endpoint)
    if state != "done":
        raise FlowIncomplete(
            endpoint=_endpoint(model, "button_validate"),
            expected=f"picking {picking_id} in state 'done'",
            seen=f"state {state!r} (button_validate answered {answer!r})",
            hint="Odoo kept the transfer open: check reservations and the picking type's "
            "backorder policy.",
        )
    return PickingResult(
        picking_id=picking_id,
        name=field_str(picking, "name", endpoint),
        state=state,
        origin=field_str(picking, "origin", endpoint),
        move_ids=field_ids(picking, "move_ids", endpoint),
        followed_backorder_wizard=followed,
    )


def find_pickings(client: OdooClient, origin_key: str) -> tuple[PickingRef, ...]:
    """Every picking carrying ``origin_key``: none, one, or duplicates the ledger reports."""
    endpoint = _endpoint("stock.picking", "search_read")
    rows = _search_read(
        client, "stock.picking", [["origin", "=", origin_key]], ["id", "state", "name"]
    )
    return tuple(
        PickingRef(
            picking_id=field_id(row, "id", endpoint),
            name=field_str(row, "name", endpoint),
            state=field_str(row, "state", endpoint),
        )
        for row in rows
    )


# --- Sales -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLine:
    product_id: int
    quantity: float


@dataclass(frozen=True)
class OrderResult:
    """A confirmed sale order; ``created`` is False when the key already existed."""

    order_id: int
    name: str
    state: str
    client_order_ref: str
    picking_ids: tuple[int, ...]
    created: bool


@dataclass(frozen=True)
class DeliveredLine:
    product_id: int
    ordered: float
    delivered: float


@dataclass(frozen=True)
class DeliveryResult:
    """The order, its delivery pickings and what left the warehouse per move.

    ``pickings`` holds only the pickings validated by this call; an order whose stock was
    not available keeps its picking open (state ``confirmed``) and ``waiting_picking_ids``
    names them.
    """

    order: OrderResult
    pickings: tuple[PickingResult, ...]
    waiting_picking_ids: tuple[int, ...]
    lines: tuple[DeliveredLine, ...]


CONFIRMED_ORDER_STATES = frozenset({"sale", "done"})


def import_order(
    client: OdooClient, partner_id: int, client_ref: str, lines: Sequence[OrderLine]
) -> OrderResult:
    """Creates and confirms a sale order once per ``client_ref``; a repeat finds it instead."""
    model = "sale.order"
    endpoint = _endpoint(model, "search_read")
    existing = _search_read(
        client, model, [["client_order_ref", "=", client_ref]], ["id", "name", "state"]
    )
    if len(existing) > 1:
        raise FlowIncomplete(
            endpoint=endpoint,
            expected=f"at most one sale order with client_order_ref {client_ref!r}",
            seen=f"{len(existing)} orders {[row.get('name') for row in existing]}",
            hint="A write was applied twice: an integrity violation the ledger must report.",
        )
    created = not existing
    if created:
        values = {
            "partner_id": partner_id,
            "client_order_ref": client_ref,
            "order_line": [
                [0, 0, {"product_id": line.product_id, "product_uom_qty": line.quantity}]
                for line in lines
            ],
        }
        order_id = as_id(client.execute_kw(model, "create", [values]), _endpoint(model, "create"))
        client.execute_kw(model, "action_confirm", [[order_id]])
    else:
        order_id = field_id(existing[0], "id", endpoint)
        if field_str(existing[0], "state", endpoint) not in CONFIRMED_ORDER_STATES:
            # A previous attempt created the order and died before confirming it.
            client.execute_kw(model, "action_confirm", [[order_id]])
    order = _read_one(client, model, order_id, ["name", "state", "picking_ids", "client_order_ref"])
    read_endpoint = _endpoint(model, "read")
    state = field_str(order, "state", read_endpoint)
    if state not in CONFIRMED_ORDER_STATES:
        raise FlowIncomplete(
            endpoint=_endpoint(model, "action_confirm"),
            expected=f"sale order {order_id} confirmed (state 'sale')",
            seen=f"state {state!r}",
            hint="Check the order lines' products and the partner in Odoo.",
        )
    return OrderResult(
        order_id=order_id,
        name=field_str(order, "name", read_endpoint),
        state=state,
        client_order_ref=field_str(order, "client_order_ref", read_endpoint),
        picking_ids=field_ids(order, "picking_ids", read_endpoint),
        created=created,
    )


def deliver_sale_order(
    client: OdooClient,
    partner_id: int,
    client_ref: str,
    lines: Sequence[OrderLine],
) -> DeliveryResult:
    """Sale order → its outgoing picking, validated for what was reserved (no backorder)."""
    order = import_order(client, partner_id, client_ref, lines)
    if not order.picking_ids:
        raise FlowIncomplete(
            endpoint=_endpoint("sale.order", "action_confirm"),
            expected=f"a delivery picking for sale order {order.name}",
            seen="no picking_ids",
            hint="Install sale_stock and sell storable products.",
        )
    model = "stock.picking"
    read_endpoint = _endpoint(model, "read")
    validated: list[PickingResult] = []
    waiting: list[int] = []
    delivered: list[DeliveredLine] = []
    for picking_id in order.picking_ids:
        picking = _read_one(client, model, picking_id, ["name", "state", "move_ids", "origin"])
        state = field_str(picking, "state", read_endpoint)
        if state in ("done", "cancel"):
            continue
        if state != "assigned":
            client.execute_kw(model, "action_assign", [[picking_id]])
        moves = _moves(client, field_ids(picking, "move_ids", read_endpoint))
        reserved = [move for move in moves if move.reserved > QUANTITY_TOLERANCE]
        if not reserved:
            waiting.append(picking_id)
            continue
        by_quantity: dict[float, list[int]] = {}
        for move in reserved:
            by_quantity.setdefault(move.reserved, []).append(move.move_id)
        for quantity, move_ids in by_quantity.items():
            client.execute_kw(
                "stock.move", "write", [move_ids, {"quantity": quantity, "picked": True}]
            )
        validated.append(_validate(client, picking_id))
        delivered.extend(
            DeliveredLine(product_id=m.product_id, ordered=m.demand, delivered=m.reserved)
            for m in moves
        )
    return DeliveryResult(
        order=order,
        pickings=tuple(validated),
        waiting_picking_ids=tuple(waiting),
        lines=tuple(delivered),
    )


@dataclass(frozen=True)
class _Move:
    move_id: int
    product_id: int
    demand: float
    reserved: float


def _moves(client: OdooClient, move_ids: tuple[int, ...]) -> list[_Move]:
    endpoint = _endpoint("stock.move", "read")
    rows = as_rows(
        client.execute_kw(
            "stock.move", "read", [list(move_ids), ["product_id", "product_uom_qty", "quantity"]]
        ),
        endpoint,
    )
    return [
        _Move(
            move_id=field_id(row, "id", endpoint),
            product_id=field_id(row, "product_id", endpoint),
            demand=field_float(row, "product_uom_qty", endpoint),
            reserved=field_float(row, "quantity", endpoint),
        )
        for row in rows
    ]


# --- Inventory -------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustmentResult:
    quant_id: int
    product_id: int
    location_id: int
    quantity: float


INVENTORY_MODE = {"inventory_mode": True}


def adjust_inventory(
    client: OdooClient, product_id: int, location_id: int, qty: float
) -> AdjustmentResult:
    """Counts ``qty`` of a product in a location and applies it (a done inventory move)."""
    model = "stock.quant"
    quant_id = as_id(
        client.execute_kw(
            model,
            "create",
            [{"product_id": product_id, "location_id": location_id, "inventory_quantity": qty}],
            {"context": INVENTORY_MODE},
        ),
        _endpoint(model, "create"),
    )
    apply_inventory(client, (quant_id,))
    quant = _read_one(client, model, quant_id, ["quantity"])
    quantity = field_float(quant, "quantity", _endpoint(model, "read"))
    if not math.isclose(quantity, qty, abs_tol=QUANTITY_TOLERANCE):
        raise FlowIncomplete(
            endpoint=_endpoint(model, "action_apply_inventory"),
            expected=f"quant {quant_id} holding {qty:g}",
            seen=f"{quantity:g}",
            hint="Another move changed the quant meanwhile; count again.",
        )
    return AdjustmentResult(
        quant_id=quant_id, product_id=product_id, location_id=location_id, quantity=quantity
    )


def apply_inventory(client: OdooClient, quant_ids: Sequence[int]) -> None:
    """``action_apply_inventory``: None on success, a wizard action when Odoo has doubts."""
    model = "stock.quant"
    endpoint = _endpoint(model, "action_apply_inventory")
    answer = client.execute_kw(model, "action_apply_inventory", [list(quant_ids)])
    if answer is not None:
        wizard = answer.get("res_model") if isinstance(answer, dict) else answer
        raise FlowIncomplete(
            endpoint=endpoint,
            expected="no answer (the adjustment applied)",
            seen=f"the wizard {wizard!r}",
            hint="stock.inventory.conflict means the quants changed since they were counted; "
            "stock.track.confirmation means a tracked product lacks a lot.",
        )


# --- Reporting -------------------------------------------------------------------------


@dataclass(frozen=True)
class StockRow:
    product_id: int
    product_name: str
    location_id: int
    location_name: str
    quantity: float
    reserved_quantity: float
    quant_count: int


@dataclass(frozen=True)
class ThroughputRow:
    """Done move-line quantity per operation type code and hour (Odoo's hour label)."""

    picking_code: str
    hour: str
    quantity: float
    line_count: int


def stock_report(client: OdooClient) -> tuple[StockRow, ...]:
    model = "stock.quant"
    endpoint = _endpoint(model, "read_group")
    rows = as_rows(
        client.execute_kw(
            model,
            "read_group",
            [
                [["location_id.usage", "=", "internal"]],
                ["quantity:sum", "reserved_quantity:sum"],
                ["product_id", "location_id"],
            ],
            {"lazy": False},
        ),
        endpoint,
    )
    report = []
    for row in rows:
        product = many2one(row, "product_id", endpoint)
        location = many2one(row, "location_id", endpoint)
        if product is None or location is None:
            raise UnexpectedAnswer(
                endpoint=endpoint, expected="groups with product_id and location_id", seen=row
            )
        report.append(
            StockRow(
                product_id=product[0],
                product_name=product[1],
                location_id=location[0],
                location_name=location[1],
                quantity=field_float(row, "quantity", endpoint),
                reserved_quantity=field_float(row, "reserved_quantity", endpoint),
                quant_count=as_id(row.get("__count"), endpoint),
            )
        )
    return tuple(report)


def throughput_report(client: OdooClient, since: datetime) -> tuple[ThroughputRow, ...]:
    """Done move lines since ``since`` (aware, or naive UTC) per operation code and hour.

    Odoo 17.0 cannot group ``stock.move.line`` by ``picking_code`` (a non-stored related
    field: ``_field_to_sql`` raises "Cannot convert field ... to SQL"); grouping by
    ``date:hour`` with ``location_id.usage = supplier`` / ``location_dest_id.usage =
    customer`` domains is the portable form if real Odoo refuses this call.
    """
    model = "stock.move.line"
    endpoint = _endpoint(model, "read_group")
    since_utc = since.astimezone(UTC) if since.tzinfo is not None else since
    rows = as_rows(
        client.execute_kw(
            model,
            "read_group",
            [
                [["state", "=", "done"], ["date", ">=", since_utc.strftime(ODOO_DATETIME_FORMAT)]],
                ["quantity:sum"],
                ["picking_code", "date:hour"],
            ],
            {"lazy": False},
        ),
        endpoint,
    )
    return tuple(
        ThroughputRow(
            picking_code=field_str(row, "picking_code", endpoint),
            hour=field_str(row, "date:hour", endpoint),
            quantity=field_float(row, "quantity", endpoint),
            line_count=as_id(row.get("__count"), endpoint),
        )
        for row in rows
    )
