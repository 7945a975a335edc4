"""Seed data for a distribution warehouse, deterministic from a seed and idempotent.

``plan_seed`` is pure: the same arguments give the same products (default codes, names,
valid EAN-13 barcodes, prices, bins, initial quantities), bins and partners.
``seed_warehouse`` makes Odoo hold that plan: it looks every record up by its stable key
(product ``default_code``, partner ``ref``, bin name under the warehouse stock location)
and creates only what is missing, one ``create`` of a list per batch, so a second run
creates nothing. Initial stock is an inventory adjustment per product in its bin, made only
where the product has no quant in that bin yet, so a re-run never resets stock that load
has moved since. The keys carry the seed so that two seeds never claim the same records.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from harness.odoo.client import OdooClient
from harness.odoo.flows import (
    INVENTORY_MODE,
    WarehouseContext,
    apply_inventory,
    as_ids,
    as_rows,
    field_id,
    field_str,
    storable_product_values,
    warehouse_context,
)

_T = TypeVar("_T")

BATCH_SIZE = 200
RACKS_PER_AISLE = 12
EAN13_PREFIX = "2"  # GS1 prefixes 20-29: restricted circulation, never a real trade item
#: Initial on-hand range per product. The probes' imported orders reserve stock that is
#: never delivered (about 2-3 units per product per scenario on the 200-product probe
#: catalog), so a 24-scenario nightly session needs well over 60 units of every product;
#: with less, picking_validate fails with "waiting for stock" late in the session.
INITIAL_QTY = (200, 2000)

_ADJECTIVES = ("Steel", "Cotton", "Compact", "Heavy", "Blue", "Eco", "Pro", "Mini", "Large")
_NOUNS = ("Bolt", "Towel", "Crate", "Lamp", "Cable", "Bottle", "Glove", "Pallet", "Filter")


@dataclass(frozen=True)
class PlannedProduct:
    default_code: str
    name: str
    barcode: str
    list_price: float
    bin_index: int
    initial_qty: int


@dataclass(frozen=True)
class PlannedPartner:
    ref: str
    name: str


@dataclass(frozen=True)
class SeedPlan:
    seed: int
    products: tuple[PlannedProduct, ...]
    bin_names: tuple[str, ...]
    customers: tuple[PlannedPartner, ...]
    vendors: tuple[PlannedPartner, ...]


@dataclass(frozen=True)
class SeededProduct:
    product_id: int
    default_code: str
    barcode: str
    name: str
    bin_id: int
    initial_qty: int


@dataclass(frozen=True)
class Bin:
    location_id: int
    name: str


@dataclass(frozen=True)
class SeedCounts:
    """Records this run created (all zero on a re-run)."""

    products: int
    bins: int
    partners: int
    quants: int


@dataclass(frozen=True)
class SeedCatalog:
    """The seeded warehouse as load and probes use it."""

    seed: int
    warehouse: WarehouseContext
    products: tuple[SeededProduct, ...]
    bins: tuple[Bin, ...]
    customer_ids: tuple[int, ...]
    vendor_ids: tuple[int, ...]
    created: SeedCounts


def ean13_check_digit(first12: str) -> int:
    """GS1 check digit: weights 1,3,1,3... from the left over the first 12 digits."""
    if len(first12) != 12 or not first12.isdigit():
        raise ValueError(f"expected 12 digits, got {first12!r}")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def is_valid_ean13(code: str) -> bool:
    return len(code) == 13 and code.isdigit() and ean13_check_digit(code[:12]) == int(code[12])


def plan_seed(*, products: int, seed: int, bins: int, customers: int, vendors: int) -> SeedPlan:
    rng = random.Random(seed)
    bin_names = tuple(
        f"{chr(ord('A') + i // RACKS_PER_AISLE)}-{i % RACKS_PER_AISLE + 1:02d}" for i in range(bins)
    )
    barcodes: set[str] = set()
    planned = []
    for i in range(products):
        barcode = _fresh_barcode(rng, barcodes)
        planned.append(
            PlannedProduct(
                default_code=f"S{seed}-{i:05d}",
                name=f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {i:05d}",
                barcode=barcode,
                list_price=round(rng.uniform(1.0, 250.0), 2),
                bin_index=rng.randrange(bins),
                initial_qty=rng.randint(*INITIAL_QTY),
            )
        )
    return SeedPlan(
        seed=seed,
        products=tuple(planned),
        bin_names=bin_names,
        customers=tuple(
            PlannedPartner(ref=f"S{seed}-C{i:04d}", name=f"Customer {i:04d}")
            for i in range(customers)
        ),
        vendors=tuple(
            PlannedPartner(ref=f"S{seed}-V{i:04d}", name=f"Vendor {i:04d}") for i in range(vendors)
        ),
    )


def _fresh_barcode(rng: random.Random, taken: set[str]) -> str:
    while True:
        first12 = EAN13_PREFIX + "".join(str(rng.randrange(10)) for _ in range(11))
        code = first12 + str(ean13_check_digit(first12))
        if code not in taken:
            taken.add(code)
            return code


def seed_warehouse(
    client: OdooClient,
    *,
    products: int = 2000,
    seed: int = 42,
    bins: int = 48,
    customers: int = 50,
    vendors: int = 10,
    batch_size: int = BATCH_SIZE,
) -> SeedCatalog:
    """Makes Odoo hold ``plan_seed(...)``; see the module docstring."""
    if bins < 1:
        raise ValueError(f"expected at least one bin, got {bins}")
    plan = plan_seed(products=products, seed=seed, bins=bins, customers=customers, vendors=vendors)
    ctx = warehouse_context(client)
    partner_ids, partners_created = _ensure(
        client,
        "res.partner",
        key_field="ref",
        wanted=[(p.ref, {"name": p.name, "ref": p.ref}) for p in plan.customers + plan.vendors],
        scope=[],
        batch_size=batch_size,
    )
    bin_ids, bins_created = _ensure(
        client,
        "stock.location",
        key_field="name",
        wanted=[
            (name, {"name": name, "location_id": ctx.lot_stock_id, "usage": "internal"})
            for name in plan.bin_names
        ],
        scope=[["location_id", "=", ctx.lot_stock_id]],
        batch_size=batch_size,
    )
    storable = storable_product_values(ctx.version)
    product_ids, products_created = _ensure(
        client,
        "product.product",
        key_field="default_code",
        wanted=[
            (
                p.default_code,
                {
                    "name": p.name,
                    "default_code": p.default_code,
                    "barcode": p.barcode,
                    "list_price": p.list_price,
                    **storable,
                },
            )
            for p in plan.products
        ],
        scope=[],
        batch_size=batch_size,
    )
    seeded = tuple(
        SeededProduct(
            product_id=product_ids[p.default_code],
            default_code=p.default_code,
            barcode=p.barcode,
            name=p.name,
            bin_id=bin_ids[plan.bin_names[p.bin_index]],
            initial_qty=p.initial_qty,
        )
        for p in plan.products
    )
    quants_created = sum(_stock(client, batch) for batch in _batches(seeded, batch_size))
    return SeedCatalog(
        seed=seed,
        warehouse=ctx,
        products=seeded,
        bins=tuple(Bin(location_id=bin_ids[name], name=name) for name in plan.bin_names),
        customer_ids=tuple(partner_ids[p.ref] for p in plan.customers),
        vendor_ids=tuple(partner_ids[p.ref] for p in plan.vendors),
        created=SeedCounts(
            products=products_created,
            bins=bins_created,
            partners=partners_created,
            quants=quants_created,
        ),
    )


def _ensure(
    client: OdooClient,
    model: str,
    *,
    key_field: str,
    wanted: Sequence[tuple[str, Mapping[str, object]]],
    scope: list[object],
    batch_size: int,
) -> tuple[dict[str, int], int]:
    """Ids by key for ``wanted``, creating the missing ones; returns (ids, created count)."""
    ids: dict[str, int] = {}
    created = 0
    search_endpoint = f"/jsonrpc object.execute_kw {model}.search_read"
    for batch in _batches(wanted, batch_size):
        keys = [key for key, _ in batch]
        rows = as_rows(
            client.execute_kw(
                model, "search_read", [[*scope, [key_field, "in", keys]], ["id", key_field]]
            ),
            search_endpoint,
        )
        # The oldest record wins when a key exists twice (e.g. created by hand).
        for row in sorted(rows, key=lambda r: field_id(r, "id", search_endpoint), reverse=True):
            ids[field_str(row, key_field, search_endpoint)] = field_id(row, "id", search_endpoint)
        missing = [(key, values) for key, values in batch if key not in ids]
        if missing:
            new_ids = as_ids(
                client.execute_kw(model, "create", [[dict(values) for _, values in missing]]),
                f"/jsonrpc object.execute_kw {model}.create",
            )
            ids.update(zip((key for key, _ in missing), new_ids, strict=True))
            created += len(new_ids)
    return ids, created


def _stock(client: OdooClient, batch: Sequence[SeededProduct]) -> int:
    """Adjusts the batch's products without a quant in their bin; returns how many."""
    endpoint = "/jsonrpc object.execute_kw stock.quant.search_read"
    rows = as_rows(
        client.execute_kw(
            "stock.quant",
            "search_read",
            [
                [
                    ["product_id", "in", [p.product_id for p in batch]],
                    ["location_id", "in", sorted({p.bin_id for p in batch})],
                ],
                ["product_id", "location_id"],
            ],
        ),
        endpoint,
    )
    stocked = {
        (field_id(row, "product_id", endpoint), field_id(row, "location_id", endpoint))
        for row in rows
    }
    missing = [p for p in batch if (p.product_id, p.bin_id) not in stocked]
    if not missing:
        return 0
    quant_ids = as_ids(
        client.execute_kw(
            "stock.quant",
            "create",
            [
                [
                    {
                        "product_id": p.product_id,
                        "location_id": p.bin_id,
                        "inventory_quantity": p.initial_qty,
                    }
                    for p in missing
                ]
            ],
            {"context": INVENTORY_MODE},
        ),
        "/jsonrpc object.execute_kw stock.quant.create",
    )
    apply_inventory(client, quant_ids)
    return len(quant_ids)


def _batches(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
