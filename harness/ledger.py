"""The write ledger's I/O side: recording durable writes as they happen, reading them back.

``WriteLedger`` is the thread-safe record of every durable write a run makes: the probes'
writes and, from outside, the order imports the Locust subprocess streams. Each write
carries a unique key stored in Odoo (``KeyKind``: a sale order's ``client_order_ref`` or a
picking's ``origin``) and goes invoke -> ok / fail / unknown with monotonic-ns timestamps.
A write still pending when the ledger is read (its thread was cut off by a stop) counts as
UNKNOWN completed at that instant: nothing was promised, the read-back decides.

After recovery ``read_back`` reads every key back twice, in chunks of ``CHUNK_SIZE``:

- through the app (``AppKeyReader``: ``search_read`` by key through an ``OdooClient``);
- straight from PostgreSQL on the current leader (``DbReadBack``: SQL against the tables
  Odoo and the double share, ``sale_order.client_order_ref`` and ``stock_picking.origin``).

The database is the authority on what is durable, so its copies become the ``ReadBack``
handed to ``harness.core.reconcile``; every key on which the app disagrees is reported in
``ReadBackResult.disagreements`` (a stale replica, a cache, or an app that cannot read its
own data). Backorders copy their parent's ``origin`` in Odoo, so they are not counted as
copies of a picking key.

A stock movement is a write of its own: creating a picking moves nothing, validating it
does. So a flow that validates a transfer records a second write, keyed
``<key>@done`` (``KeyKind.validated``), acknowledged when the flow saw the picking done;
its read-back counts the done transfers behind the key (the receipt keyed by ``origin``,
or the deliveries of the sale order keyed by ``client_order_ref``), so a validation the
database forgot is a lost write like a forgotten order.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

import psycopg

from harness.core.ledger import ReadBack, WriteOutcome, WriteRecord
from harness.errors import HarnessError
from harness.levels import BusinessFlow
from harness.odoo.client import OdooClient
from harness.odoo.errors import (
    ErrorKind,
    OdooConnectionError,
    OdooError,
    OdooHTTPError,
    OdooRPCError,
    OdooTimeout,
)
from harness.odoo.flows import as_id, as_rows, field_ids, field_str

CHUNK_SIZE = 500
DB_CONNECT_TIMEOUT_S = 10


class LedgerError(HarnessError):
    """The ledger was used against its contract (a key reused, a write completed twice)."""


class ReadBackFailed(HarnessError):
    """The keys could not be read back through the app or from the database."""


DONE_SUFFIX = "@done"
"""Appended to a write's key for the validation of its transfer (module docstring)."""


class KeyKind(enum.Enum):
    """Where a write's key lives: Odoo model and field, and the table and column under it.

    The ``*_DONE`` kinds are validations: their keys are ``<key>@done`` and count the
    done transfers behind ``<key>``.
    """

    SALE_ORDER = ("sale.order", "client_order_ref", "sale_order", False)
    PICKING = ("stock.picking", "origin", "stock_picking", False)
    DELIVERY_DONE = ("sale.order", "client_order_ref", "sale_order", True)
    RECEIPT_DONE = ("stock.picking", "origin", "stock_picking", True)

    def __init__(self, model: str, field: str, table: str, done: bool) -> None:
        self.model = model
        self.field = field
        self.table = table
        self.done = done

    @property
    def validated(self) -> KeyKind:
        """The kind of the validation of a transfer keyed by this kind."""
        return KeyKind.RECEIPT_DONE if self.model == "stock.picking" else KeyKind.DELIVERY_DONE


def base_key(key: str) -> str:
    """The key of the write a validation key (``<key>@done``) belongs to."""
    return key.removesuffix(DONE_SUFFIX)


_FLOW_KEYS = {
    BusinessFlow.PICKING_VALIDATE: KeyKind.SALE_ORDER,
    BusinessFlow.ORDER_IMPORT: KeyKind.SALE_ORDER,
    BusinessFlow.RECEIVING: KeyKind.PICKING,
}


def key_kind(flow: str) -> KeyKind:
    """Where the writes of business flow ``flow`` keep their key (probes and load alike)."""
    kind = next((k for f, k in _FLOW_KEYS.items() if f.value == flow), None)
    if kind is None:
        writing = ", ".join(f.value for f in _FLOW_KEYS)
        raise LedgerError(f"expected a writing business flow ({writing}), saw {flow!r}")
    return kind


class LedgerEntry(NamedTuple):
    """A write completed outside the ledger, for ``WriteLedger.add``."""

    record: WriteRecord
    kind: KeyKind
    tenant: str | None = None
    """The database it went to when not the run's own."""


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A write invoked and not yet completed; hand it back to ``WriteLedger.complete``."""

    key: str
    flow: str
    kind: KeyKind
    t_invoke_ns: int


class WriteLedger:
    """Thread-safe record of durable writes; see the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[WriteRecord] = []
        self._pending: dict[str, PendingWrite] = {}
        self._places: dict[str, tuple[str | None, KeyKind]] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._records) + len(self._pending)

    def invoke(
        self, key: str, flow: str, kind: KeyKind, t_invoke_ns: int | None = None
    ) -> PendingWrite:
        """Note that a write of ``key`` is about to be sent."""
        pending = PendingWrite(
            key, flow, kind, time.monotonic_ns() if t_invoke_ns is None else t_invoke_ns
        )
        with self._lock:
            self._claim(key, kind)
            self._pending[key] = pending
        return pending

    def complete(
        self, pending: PendingWrite, outcome: WriteOutcome, t_complete_ns: int | None = None
    ) -> WriteRecord:
        """Close ``pending`` with its outcome (OK: acknowledged at ``t_complete_ns``)."""
        t_end = time.monotonic_ns() if t_complete_ns is None else t_complete_ns
        with self._lock:
            if self._pending.pop(pending.key, None) is None:
                raise LedgerError(
                    f"write ledger: expected key {pending.key!r} to be pending, saw it already "
                    "completed or never invoked; complete each PendingWrite exactly once"
                )
            record = WriteRecord(pending.key, pending.flow, pending.t_invoke_ns, t_end, outcome)
            self._records.append(record)
        return record

    def add(self, record: WriteRecord, kind: KeyKind, tenant: str | None = None) -> None:
        """A write completed elsewhere (e.g. a Locust order import streamed to a file).

        ``tenant`` names the database it went to when that is not the run's own.
        """
        with self._lock:
            self._claim(record.key, kind, tenant)
            self._records.append(record)

    def _claim(self, key: str, kind: KeyKind, tenant: str | None = None) -> None:
        if key in self._places:
            raise LedgerError(
                f"write ledger: expected a fresh key for every write, saw {key!r} again; "
                "mint keys with a run-unique prefix and a counter or a UUID"
            )
        self._places[key] = (tenant, kind)

    def records(self, now_ns: int | None = None) -> tuple[WriteRecord, ...]:
        """Every write in invoke order; pending ones as UNKNOWN completed at ``now_ns``."""
        t_now = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            pending = [
                WriteRecord(
                    p.key, p.flow, p.t_invoke_ns, max(t_now, p.t_invoke_ns), WriteOutcome.UNKNOWN
                )
                for p in self._pending.values()
            ]
            done = list(self._records)
        return tuple(sorted(done + pending, key=lambda r: r.t_invoke_ns))

    def keys_by_place(self) -> dict[tuple[str | None, KeyKind], tuple[str, ...]]:
        """Keys grouped by (tenant database, None for the run's own; key kind)."""
        with self._lock:
            grouped: dict[tuple[str | None, KeyKind], list[str]] = {}
            for key, place in self._places.items():
                grouped.setdefault(place, []).append(key)
        return {place: tuple(keys) for place, keys in grouped.items()}


class KeyReader(Protocol):
    """Counts the records holding each key of one kind (keys with none may be left out)."""

    def copies(self, kind: KeyKind, keys: Sequence[str]) -> Mapping[str, int]: ...


def chunks(keys: Sequence[str], size: int = CHUNK_SIZE) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


class AppKeyReader:
    """Reads keys back through Odoo's API with a logged-in ``OdooClient``.

    Reading is idempotent, so a chunk that fails for a reason the stack recovers from
    (the database tier failing under Odoo, a timeout, a refused or reset connection, a
    proxy's 5xx: a stack still settling after an aborted failover) is read again every
    ``RETRY_S`` for up to ``wait_s``; any other error, or one that outlasts the wait,
    is ``ReadBackFailed``.
    """

    RETRY_S = 1.0

    def __init__(self, client: OdooClient, *, wait_s: float = 0.0) -> None:
        self._client = client
        self._wait_s = wait_s

    def copies(self, kind: KeyKind, keys: Sequence[str]) -> Mapping[str, int]:
        suffix = DONE_SUFFIX if kind.done else ""
        counts: dict[str, int] = {}
        deadline = time.monotonic() + self._wait_s
        for chunk in chunks(keys):
            while True:
                try:
                    found = self._count(kind, [base_key(k) for k in chunk])
                    break
                except OdooError as exc:
                    if _transient(exc) and time.monotonic() < deadline:
                        time.sleep(self.RETRY_S)
                        continue
                    raise ReadBackFailed(
                        f"expected to read {len(chunk)} {kind.name} keys back through the app"
                        f"{_within(self._wait_s)}, saw: {exc}. Read back once the app serves "
                        "again."
                    ) from exc
            for key, copies in found.items():
                counts[key + suffix] = copies
        return counts

    def _count(self, kind: KeyKind, keys: list[str]) -> dict[str, int]:
        """Records (or done transfers, for a ``*_DONE`` kind) per key, through the app."""
        picking = "stock.picking"
        original = ["backorder_id", "=", False]
        if kind is KeyKind.DELIVERY_DONE:
            orders = self._rows(kind.model, [[kind.field, "in", keys]], [kind.field, "picking_ids"])
            owner = {
                picking_id: field_str(row, kind.field, self._where(kind.model))
                for row in orders
                for picking_id in field_ids(row, "picking_ids", self._where(kind.model))
            }
            done = self._rows(
                picking, [["id", "in", sorted(owner)], ["state", "=", "done"], original], ["id"]
            )
            counts: dict[str, int] = {}
            for row in done:
                key = owner[as_id(row.get("id"), self._where(picking))]
                counts[key] = counts.get(key, 0) + 1
            return counts
        domain: list[object] = [[kind.field, "in", keys]]
        if kind.model == picking:
            domain.append(original)
        if kind.done:
            domain.append(["state", "=", "done"])
        counts = {}
        for row in self._rows(kind.model, domain, [kind.field]):
            key = field_str(row, kind.field, self._where(kind.model))
            counts[key] = counts.get(key, 0) + 1
        return counts

    @staticmethod
    def _where(model: str) -> str:
        return f"/jsonrpc object.execute_kw {model}.search_read"

    def _rows(
        self, model: str, domain: list[object], fields: list[str]
    ) -> list[Mapping[str, object]]:
        answer = self._client.execute_kw(model, "search_read", [domain, fields])
        return as_rows(answer, self._where(model))


def _transient(exc: OdooError) -> bool:
    """Whether the stack may answer the same read a moment later."""
    if isinstance(exc, OdooRPCError):
        return exc.kind is ErrorKind.INFRA
    if isinstance(exc, OdooHTTPError):
        return exc.status >= 500
    return isinstance(exc, OdooTimeout | OdooConnectionError)


def _within(wait_s: float) -> str:
    return f" within {wait_s:g} s" if wait_s > 0 else ""


class DbReadBack:
    """Reads keys back with SQL on the PostgreSQL given by ``conninfo`` (the leader)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo

    @staticmethod
    def _query(kind: KeyKind) -> str:
        # Identifiers come from KeyKind, never from input.
        if kind is KeyKind.DELIVERY_DONE:
            return (
                "SELECT so.client_order_ref, count(*) FROM sale_order so JOIN stock_picking p "
                "ON p.sale_id = so.id WHERE so.client_order_ref = ANY(%s) AND "
                "p.backorder_id IS NULL AND p.state = 'done' GROUP BY so.client_order_ref"
            )
        query = f"SELECT {kind.field}, count(*) FROM {kind.table} WHERE {kind.field} = ANY(%s)"
        if kind.table == "stock_picking":
            query += " AND backorder_id IS NULL"
        if kind.done:
            query += " AND state = 'done'"
        return query + f" GROUP BY {kind.field}"

    def copies(self, kind: KeyKind, keys: Sequence[str]) -> Mapping[str, int]:
        query = self._query(kind)
        suffix = DONE_SUFFIX if kind.done else ""
        counts: dict[str, int] = {}
        try:
            with psycopg.connect(
                self._conninfo, connect_timeout=DB_CONNECT_TIMEOUT_S, autocommit=True
            ) as conn:
                for chunk in chunks(keys):
                    bases = [base_key(k) for k in chunk]
                    for key, count in conn.execute(query, (bases,)).fetchall():
                        counts[str(key) + suffix] = int(count)
        except psycopg.Error as exc:
            raise ReadBackFailed(
                f"expected to read {len(keys)} {kind.table}.{kind.field} keys from PostgreSQL, "
                f"saw {type(exc).__name__}: {exc}. Point the read-back at the current leader."
            ) from exc
        return counts


@dataclass(frozen=True, slots=True)
class Disagreement:
    """A key whose copies differ between the app and the database."""

    key: str
    via_app: int
    via_db: int


@dataclass(frozen=True)
class ReadBackResult:
    """The database's copies as a ``ReadBack``, and where the app saw something else."""

    read_back: ReadBack
    keys: int
    disagreements: tuple[Disagreement, ...]

    @property
    def sentence(self) -> str:
        if not self.disagreements:
            return f"read back {self.keys:,} keys: the app and the database agree on every one"
        shown = ", ".join(
            f"{d.key} (app {d.via_app}, db {d.via_db})" for d in self.disagreements[:5]
        )
        more = len(self.disagreements) - 5
        tail = f" and {more:,} more" if more > 0 else ""
        return (
            f"read back {self.keys:,} keys: the app and the database disagree on "
            f"{len(self.disagreements):,}: {shown}{tail}; the database's copies are used"
        )


def read_back(
    ledger: WriteLedger,
    app: KeyReader,
    db: KeyReader,
    tenants: Mapping[str, tuple[KeyReader, KeyReader]] | None = None,
) -> ReadBackResult:
    """Reads every ledger key back through ``app`` and ``db`` and compares them.

    Keys written to another tenant's database are read through that tenant's
    ``(app, db)`` readers in ``tenants``.
    """
    db_copies: dict[str, int] = {}
    disagreements: list[Disagreement] = []
    total = 0
    for (tenant, kind), keys in ledger.keys_by_place().items():
        readers = (app, db) if tenant is None else (tenants or {}).get(tenant)
        if readers is None:
            raise ReadBackFailed(
                f"expected readers for tenant database {tenant!r}, where {len(keys):,} "
                f"{kind.table} keys were written; saw readers for "
                f"{sorted(tenants or {}) or 'no other tenant'}. Pass them to read_back"
            )
        total += len(keys)
        via_db = readers[1].copies(kind, keys)
        via_app = readers[0].copies(kind, keys)
        for key in keys:
            in_db, in_app = via_db.get(key, 0), via_app.get(key, 0)
            if in_db:
                db_copies[key] = in_db
            if in_db != in_app:
                disagreements.append(Disagreement(key, in_app, in_db))
    return ReadBackResult(ReadBack(db_copies), total, tuple(disagreements))
