"""The seed catalog as the locustfile reads it: a JSON file of the ids the users need.

``write_catalog`` turns a ``SeedCatalog`` (harness/odoo/seed.py) into the file; the
locustfile reads it with ``read_catalog`` from ``--catalog PATH``. Only the fields the
warehouse users touch travel: the warehouse's operation types and locations, the
products (id, barcode), the bins and the partners. Stdlib only, so the locustfile can
import it inside Locust's process; ``SeedCatalog`` is needed for typing only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.odoo.seed import SeedCatalog

CATALOG_VERSION = 1


class CatalogError(ConfigError):
    """The catalog file is missing, unreadable or not a catalog this harness wrote."""


@dataclass(frozen=True)
class CatalogProduct:
    product_id: int
    barcode: str


@dataclass(frozen=True)
class LoadCatalog:
    warehouse_id: int
    lot_stock_id: int
    in_type_id: int
    out_type_id: int
    supplier_location_id: int
    customer_location_id: int
    products: tuple[CatalogProduct, ...]
    bin_ids: tuple[int, ...]
    customer_ids: tuple[int, ...]
    vendor_ids: tuple[int, ...]


def write_catalog(catalog: SeedCatalog, path: Path) -> Path:
    """Writes ``catalog`` for the locustfile; returns ``path``."""
    wh = catalog.warehouse
    payload = {
        "version": CATALOG_VERSION,
        "warehouse_id": wh.warehouse_id,
        "lot_stock_id": wh.lot_stock_id,
        "in_type_id": wh.in_type_id,
        "out_type_id": wh.out_type_id,
        "supplier_location_id": wh.supplier_location_id,
        "customer_location_id": wh.customer_location_id,
        "products": [[p.product_id, p.barcode] for p in catalog.products],
        "bin_ids": [b.location_id for b in catalog.bins],
        "customer_ids": list(catalog.customer_ids),
        "vendor_ids": list(catalog.vendor_ids),
    }
    path.write_text(json.dumps(payload))
    return path


_ID_FIELDS = (
    "warehouse_id",
    "lot_stock_id",
    "in_type_id",
    "out_type_id",
    "supplier_location_id",
    "customer_location_id",
)
_ID_LISTS = ("bin_ids", "customer_ids", "vendor_ids")


def read_catalog(path: Path) -> LoadCatalog:
    """The catalog in ``path``; CatalogError says what is wrong and how to make one."""
    remedy = "write it with harness.load.catalog.write_catalog(seed_warehouse(...), PATH)"
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CatalogError(
            f"expected a load catalog (JSON) at {path}, could not read it ({exc}); {remedy}"
        ) from None
    if not isinstance(payload, dict) or payload.get("version") != CATALOG_VERSION:
        raise CatalogError(
            f"expected a version {CATALOG_VERSION} load catalog at {path}, saw "
            f"{str(payload)[:120]!r}; {remedy}"
        )
    problems: list[str] = []
    ids = {name: payload.get(name) for name in _ID_FIELDS}
    problems += [f"{name} is not an id" for name, value in ids.items() if not _is_id(value)]
    lists = {name: _id_list(payload.get(name)) for name in _ID_LISTS}
    problems += [f"{name} is not a list of ids" for name, value in lists.items() if value is None]
    if not lists["customer_ids"] or not lists["vendor_ids"]:
        problems.append("customer_ids and vendor_ids must each name at least one partner")
    products = _products(payload.get("products"), problems)
    if problems:
        raise CatalogError(
            f"expected a load catalog at {path}, saw: {'; '.join(problems)}; {remedy}"
        )
    id_of = {name: value for name, value in ids.items() if isinstance(value, int)}
    list_of = {name: value or () for name, value in lists.items()}
    return LoadCatalog(
        warehouse_id=id_of["warehouse_id"],
        lot_stock_id=id_of["lot_stock_id"],
        in_type_id=id_of["in_type_id"],
        out_type_id=id_of["out_type_id"],
        supplier_location_id=id_of["supplier_location_id"],
        customer_location_id=id_of["customer_location_id"],
        products=products,
        bin_ids=list_of["bin_ids"],
        customer_ids=list_of["customer_ids"],
        vendor_ids=list_of["vendor_ids"],
    )


def _products(rows: object, problems: list[str]) -> tuple[CatalogProduct, ...]:
    if not isinstance(rows, list) or not rows:
        problems.append("products is not a non-empty list")
        return ()
    products: list[CatalogProduct] = []
    for row in rows:
        if isinstance(row, list) and len(row) == 2 and _is_id(row[0]) and isinstance(row[1], str):
            products.append(CatalogProduct(int(row[0]), row[1]))
        else:
            problems.append(f"product {str(row)[:60]!r} is not [id, barcode]")
            return ()
    return tuple(products)


def _id_list(value: object) -> tuple[int, ...] | None:
    if isinstance(value, list) and all(_is_id(v) for v in value):
        return tuple(int(v) for v in value)
    return None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
