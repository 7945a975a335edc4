"""The ERP invariants, checked with SQL on the current leader after every run.

Each check reads the tables real Odoo and the Odoo double share and returns an
``InvariantResult`` with a sentence a person understands on its own:

- stock conservation: for every product and internal location, the quants' quantity
  equals the done move lines into the location minus those out of it (Odoo keeps quants
  for internal locations only; move lines, not moves, carry the bins actually used);
- unique references: no picking name and no sale order name held twice. Numbers
  skipped between them (per prefix ``WH/IN/``, ``WH/OUT/``, ``S`` …) are counted in the
  sentence but are no violation: Odoo draws these names from ``standard`` sequences
  (PostgreSQL ``nextval``, not rolled back), so every write that fails or is retried
  after drawing a name leaves a number unused. Whether an acknowledged write vanished
  is the write ledger's question, answered key by key;
- no half-applied migration: the double's ``double_migration`` log has every step
  ``done`` and ``product_product`` has exactly the barcode column the last step leaves
  (``barcode`` after none or ``down``, ``barcode_v2`` after ``up``); on real Odoo,
  ``ir_module_module`` holds no module left ``to install``/``to upgrade``/``to remove``.

``invariant_verdicts`` turns results into the core's ``VerdictKind.INVARIANT`` verdicts.
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import psycopg

from harness.core.verdict import Verdict, VerdictKind
from harness.errors import HarnessError

QUANTITY_TOLERANCE = Decimal("0.000001")
SHOWN = 5
CONNECT_TIMEOUT_S = 10
_NUMBERED = re.compile(r"^(.*?)(\d+)$")

Connection = psycopg.Connection[tuple[object, ...]]


class InvariantCheckFailed(HarnessError):
    """The database could not be read to check the invariants."""


class Invariant(enum.Enum):
    STOCK_CONSERVATION = "stock conservation"
    UNIQUE_REFERENCES = "unique references"
    NO_HALF_APPLIED_MIGRATION = "no half-applied migration"


@dataclass(frozen=True)
class InvariantResult:
    invariant: Invariant
    holds: bool
    violations: tuple[str, ...]
    sentence: str


def _listed(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    more = len(items) - SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown


def _result(invariant: Invariant, checked: str, violations: list[str]) -> InvariantResult:
    if violations:
        sentence = (
            f"{invariant.value} violated: {len(violations):,} problems in {checked} "
            f"({_listed(violations)})"
        )
    else:
        sentence = f"{invariant.value} holds over {checked}"
    return InvariantResult(invariant, not violations, tuple(violations), sentence)


STOCK_SQL = """
WITH moved AS (
    SELECT product_id, location_dest_id AS location_id, quantity FROM stock_move_line
    WHERE state = 'done'
    UNION ALL
    SELECT product_id, location_id, -quantity FROM stock_move_line WHERE state = 'done'
), expected AS (
    SELECT product_id, location_id, sum(quantity) AS quantity FROM moved GROUP BY 1, 2
), held AS (
    SELECT product_id, location_id, sum(quantity) AS quantity FROM stock_quant GROUP BY 1, 2
)
SELECT coalesce(h.product_id, e.product_id), coalesce(h.location_id, e.location_id),
       coalesce(h.quantity, 0), coalesce(e.quantity, 0)
FROM held h FULL JOIN expected e
  ON e.product_id = h.product_id AND e.location_id = h.location_id
JOIN stock_location l ON l.id = coalesce(h.location_id, e.location_id)
WHERE l.usage = 'internal'
ORDER BY 1, 2
"""


def stock_conservation(conn: Connection) -> InvariantResult:
    rows = conn.execute(STOCK_SQL).fetchall()
    violations = []
    for product, location, held, moved in rows:
        on_hand, expected = Decimal(str(held)), Decimal(str(moved))
        if abs(on_hand - expected) > QUANTITY_TOLERANCE:
            violations.append(
                f"product {product} in location {location}: quants hold {on_hand.normalize()}, "
                f"done moves give {expected.normalize()}"
            )
    return _result(
        Invariant.STOCK_CONSERVATION,
        f"{len(rows):,} product/location pairs",
        violations,
    )


def unique_references(conn: Connection) -> InvariantResult:
    violations = []
    names: list[str] = []
    for table in ("stock_picking", "sale_order"):
        names += [str(row[0]) for row in conn.execute(f"SELECT name FROM {table}").fetchall()]
        for name, copies in conn.execute(
            f"SELECT name, count(*) FROM {table} GROUP BY name HAVING count(*) > 1 ORDER BY name"
        ).fetchall():
            violations.append(f"{table} {name} x{copies}")
    unused = sum(len(missing) for missing in skipped_references(names).values())
    checked = (
        f"{len(names):,} pickings and orders ({unused:,} numbers unused: "
        "Odoo's standard sequences skip the number a failed write drew)"
    )
    return _result(Invariant.UNIQUE_REFERENCES, checked, violations)


def skipped_references(names: Sequence[str]) -> dict[str, list[int]]:
    """Per prefix, the numbers missing between 1 and the highest one used (pure)."""
    numbers: dict[str, set[int]] = defaultdict(set)
    for name in names:
        match = _NUMBERED.match(name)
        if match is not None:
            numbers[match.group(1)].add(int(match.group(2)))
    return {
        prefix: missing
        for prefix, used in sorted(numbers.items())
        if (missing := sorted(set(range(1, max(used) + 1)) - used))
    }


def _table_exists(conn: Connection, table: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _columns(conn: Connection, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
    ).fetchall()
    return {str(row[0]) for row in rows}


def no_half_applied_migration(conn: Connection) -> InvariantResult:
    violations = []
    checked = []
    if _table_exists(conn, "double_migration"):
        checked.append("the double's migration log")
        steps = conn.execute(
            "SELECT name, direction, state FROM double_migration ORDER BY id"
        ).fetchall()
        violations += [f"migration {n!r} {d} left {s!r}" for n, d, s in steps if s != "done"]
        barcode_steps = [d for n, d, _ in steps if n == "rename product barcode"]
        want = "barcode_v2" if barcode_steps and barcode_steps[-1] == "up" else "barcode"
        present = {"barcode", "barcode_v2"} & _columns(conn, "product_product")
        if present != {want}:
            violations.append(
                f"product_product has columns {sorted(present)} but the migration log "
                f"leaves only {want!r}"
            )
    if _table_exists(conn, "ir_module_module"):
        checked.append("Odoo's module states")
        for name, state in conn.execute(
            "SELECT name, state FROM ir_module_module "
            "WHERE state IN ('to install', 'to upgrade', 'to remove') ORDER BY name"
        ).fetchall():
            violations.append(f"module {name} left {state!r}")
    if not checked:
        violations.append("neither double_migration nor ir_module_module exists")
    return _result(
        Invariant.NO_HALF_APPLIED_MIGRATION, " and ".join(checked) or "no table", violations
    )


def check_invariants(conninfo: str) -> tuple[InvariantResult, ...]:
    """Every invariant, in one REPEATABLE READ snapshot of the database at ``conninfo``."""
    try:
        with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            return (
                stock_conservation(conn),
                unique_references(conn),
                no_half_applied_migration(conn),
            )
    except psycopg.Error as exc:
        raise InvariantCheckFailed(
            f"expected to read the ERP tables at the current leader to check the invariants, "
            f"saw {type(exc).__name__}: {exc}. Point the check at the primary once it serves."
        ) from exc


def invariant_verdicts(
    results: Sequence[InvariantResult], scenario: str, family: str, window: tuple[int, int]
) -> list[Verdict]:
    """One ``VerdictKind.INVARIANT`` verdict per result, judged over ``window``."""
    return [
        Verdict(
            VerdictKind.INVARIANT,
            scenario,
            family,
            result.holds,
            0.0,
            float(len(result.violations)),
            "violations",
            window,
            (),
            f"{scenario} {result.sentence}",
        )
        for result in results
    ]
