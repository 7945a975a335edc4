"""Business-flow probes: one thread per flow, on a fixed cadence, measuring from outside.

A probe drives one business flow of the service levels (``warehouse_scan`` scans a seeded
barcode, ``picking_validate`` sells one unit and validates its delivery, ``receiving``
validates a one-unit vendor receipt, ``order_import`` imports one order, ``reporting``
runs the stock report) with its own ``OdooClient`` (its own connection pool, the flow's
``probe_timeout`` as the client timeout), independently of Locust, so a saturated load
generator can neither hide nor invent an outage. A probe never raises: every failure is a
sample with ``Outcome.ERROR`` or ``Outcome.TIMEOUT`` and a detail (Odoo's ``data.name``,
the HTTP status, or the transport error's class).

Schedule. Slot ``k`` of a flow is at ``t0 + offset + k * interval`` on
``time.monotonic_ns()`` (flows are offset by a fraction of the interval so they do not
all fire together); a probe starts at its slot, never relative to the previous probe's
end, so a slow call does not shift later ones. A call still running at a later slot
skips that slot. Decision on skipped slots: a skipped slot after the moment a failure
is dated (below) is a sample with that failure's outcome, starting at the slot and
ending when the failing call ended (the moment a probe issued at the slot would have
learnt the same, at most the probe timeout later); a TIMEOUT that held 2 s of a 200 ms
cadence thus counts 10 times, as often as a probe at the cadence would have seen it.
Other skipped slots are counted in ``ProbeStats.skipped`` only: the flow was still
answering then, and its latency sample shows it was slow.

Timeouts. The client timeout bounds each HTTP exchange; a flow of several calls can
exceed ``probe_timeout`` with every call under it, and is then a TIMEOUT sample too.

When a failure is dated. A failed sample marks when the flow met the failure, not
when the flow began (a multi-call flow such as ``picking_validate`` creates, confirms,
reserves and validates in separate calls, so it may have begun well before):

- an error (an HTTP error, a JSON-RPC error, a refused or reset connection) is dated
  when it came back: a request in flight when the link was cut was being served until
  then, and an error answer from a stack that is down comes back at once;
- a timed-out request is dated when it was sent: the stack stopped answering by then;
- a flow whose calls all answered but which took longer than ``probe_timeout`` is dated
  from the flow's start.

Dating from the flow's first call would stretch every measured outage by up to one
flow's duration (bench/accuracy.py measured 2.6 s on a 2 s cut). OK samples span the
whole flow.

Writes. ``picking_validate`` and ``order_import`` key a sale order by
``client_order_ref``, ``receiving`` keys a picking by ``origin``; each write is recorded
in the ``WriteLedger``. Once the keyed ``create`` was acknowledged the write is OK (acked
then) whatever later steps do; an error before that is UNKNOWN when
``OdooError.outcome_unknown`` says the create may have landed, FAIL otherwise.

``ProbeSet`` starts and stops all probes (stop is bounded: a probe still inside a call
when the bound passes is left to finish on its daemon thread and named in the result)
and hands their samples to the core as ``FlowSamples`` per flow.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.core.ledger import WriteOutcome
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.ledger import KeyKind, WriteLedger
from harness.levels import BusinessFlow, ServiceLevels
from harness.odoo.client import OdooClient
from harness.odoo.errors import (
    FlowIncomplete,
    OdooConnectionError,
    OdooError,
    OdooHTTPError,
    OdooRPCError,
    OdooTimeout,
)
from harness.odoo.flows import (
    OrderLine,
    deliver_sale_order,
    import_order,
    receive,
    scan_barcode,
    stock_report,
)
from harness.odoo.seed import SeedCatalog

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
STOP_GRACE_S = 2.0


@dataclass(frozen=True)
class OdooEndpoint:
    """Where the probes reach Odoo and as whom."""

    base_url: str
    db: str
    login: str
    password: str


@dataclass(frozen=True)
class ProbeSettings:
    """Cadence and timeout of one flow's probe."""

    flow: BusinessFlow
    interval_ms: int
    timeout_ms: int

    @property
    def interval_ns(self) -> int:
        return self.interval_ms * NS_PER_MS

    @property
    def timeout_ns(self) -> int:
        return self.timeout_ms * NS_PER_MS


def probe_settings(
    levels: ServiceLevels, flows: Sequence[BusinessFlow] | None = None
) -> tuple[ProbeSettings, ...]:
    """One ``ProbeSettings`` per flow of the service levels (or of ``flows``)."""
    chosen = [f.flow for f in levels.flows] if flows is None else list(flows)
    interval = levels.settings.probe_interval_ms
    return tuple(ProbeSettings(f, interval, levels.flow(f).probe_timeout_ms) for f in chosen)


class _WatchedClient(OdooClient):
    """An ``OdooClient`` noting when the keyed ``create`` of a write was sent and acked."""

    watch_model: str | None = None
    create_sent = False
    created_at_ns: int | None = None

    def reset_watch(self, model: str | None) -> None:
        self.watch_model, self.create_sent, self.created_at_ns = model, False, None

    def execute_kw(
        self,
        model: str,
        method: str,
        args: Sequence[object],
        kwargs: Mapping[str, object] | None = None,
    ) -> object:
        watched = method == "create" and model == self.watch_model
        if watched:
            self.create_sent = True
        result = super().execute_kw(model, method, args, kwargs)
        if watched and self.created_at_ns is None:
            self.created_at_ns = time.monotonic_ns()
        return result


class FlowAction(Protocol):
    """One run of a business flow; raises ``OdooError`` (or anything) when it fails."""

    key_kind: KeyKind | None
    """Where the flow's write key lives; None for a read-only flow."""

    def __call__(self, client: OdooClient, key: str) -> None: ...


class _Rotation:
    """Cycles through the seeded catalog so probes spread over products and partners."""

    def __init__(self, catalog: SeedCatalog, offset: int) -> None:
        self.catalog = catalog
        self._n = offset

    def next(self) -> int:
        self._n += 1
        return self._n


class _Scan:
    key_kind: KeyKind | None = None

    def __init__(self, catalog: SeedCatalog) -> None:
        self._rotation = _Rotation(catalog, 0)

    def __call__(self, client: OdooClient, key: str) -> None:
        catalog = self._rotation.catalog
        product = catalog.products[self._rotation.next() % len(catalog.products)]
        result = scan_barcode(client, catalog.warehouse, product.barcode)
        if result.product is None:
            raise FlowIncomplete(
                endpoint="/jsonrpc object.execute_kw product.product.search_read",
                expected=f"the seeded product with barcode {product.barcode}",
                seen="no product",
                hint="The seed data is gone or the barcode column changed; re-seed.",
            )


class _PickingValidate:
    key_kind: KeyKind | None = KeyKind.SALE_ORDER

    def __init__(self, catalog: SeedCatalog) -> None:
        self._rotation = _Rotation(catalog, len(catalog.products) // 3)

    def __call__(self, client: OdooClient, key: str) -> None:
        catalog = self._rotation.catalog
        n = self._rotation.next()
        product = catalog.products[n % len(catalog.products)]
        customer = catalog.customer_ids[n % len(catalog.customer_ids)]
        result = deliver_sale_order(client, customer, key, [OrderLine(product.product_id, 1.0)])
        if not result.pickings:
            raise FlowIncomplete(
                endpoint="/jsonrpc object.execute_kw stock.picking.button_validate",
                expected=f"the delivery of sale order {result.order.name} validated",
                seen=f"pickings {list(result.waiting_picking_ids)} waiting for stock",
                hint="The probe's products ran out of stock; seed more or receive stock.",
            )


class _Receiving:
    key_kind: KeyKind | None = KeyKind.PICKING

    def __init__(self, catalog: SeedCatalog) -> None:
        self._rotation = _Rotation(catalog, 2 * len(catalog.products) // 3)

    def __call__(self, client: OdooClient, key: str) -> None:
        catalog = self._rotation.catalog
        n = self._rotation.next()
        product = catalog.products[n % len(catalog.products)]
        vendor = catalog.vendor_ids[n % len(catalog.vendor_ids)] if catalog.vendor_ids else None
        receive(client, catalog.warehouse, product.product_id, 1.0, key, partner_id=vendor)


class _OrderImport:
    key_kind: KeyKind | None = KeyKind.SALE_ORDER

    def __init__(self, catalog: SeedCatalog) -> None:
        self._rotation = _Rotation(catalog, len(catalog.products) // 2)

    def __call__(self, client: OdooClient, key: str) -> None:
        catalog = self._rotation.catalog
        n = self._rotation.next()
        product = catalog.products[n % len(catalog.products)]
        customer = catalog.customer_ids[n % len(catalog.customer_ids)]
        import_order(client, customer, key, [OrderLine(product.product_id, 1.0)])


class _Reporting:
    key_kind: KeyKind | None = None

    def __call__(self, client: OdooClient, key: str) -> None:
        stock_report(client)


def flow_action(flow: BusinessFlow, catalog: SeedCatalog) -> FlowAction:
    """The probe action of ``flow`` over the seeded ``catalog``."""
    if flow is BusinessFlow.WAREHOUSE_SCAN:
        return _Scan(catalog)
    if flow is BusinessFlow.PICKING_VALIDATE:
        return _PickingValidate(catalog)
    if flow is BusinessFlow.RECEIVING:
        return _Receiving(catalog)
    if flow is BusinessFlow.ORDER_IMPORT:
        return _OrderImport(catalog)
    return _Reporting()


def classify(exc: BaseException) -> tuple[Outcome, str]:
    """A failure as a sample outcome and a short detail."""
    if isinstance(exc, OdooTimeout):
        return Outcome.TIMEOUT, f"OdooTimeout ({exc.phase})"
    if isinstance(exc, OdooRPCError):
        return Outcome.ERROR, exc.name or f"JSON-RPC error code {exc.code}"
    if isinstance(exc, OdooHTTPError):
        return Outcome.ERROR, f"HTTP {exc.status}"
    if isinstance(exc, OdooConnectionError):
        return Outcome.ERROR, exc.detail.split(":", 1)[0]
    return Outcome.ERROR, type(exc).__name__


@dataclass(frozen=True)
class ProbeStats:
    """How one probe kept its schedule: lateness is probe start minus its slot."""

    flow: str
    samples: int
    skipped: int
    lateness_ns: tuple[int, ...]

    def lateness_pct_ms(self, pct: float) -> float:
        """Nearest-rank percentile of the lateness, in milliseconds (0 when no probe ran)."""
        if not self.lateness_ns:
            return 0.0
        ordered = sorted(self.lateness_ns)
        rank = max(1, math.ceil(pct / 100 * len(ordered)))
        return ordered[rank - 1] / NS_PER_MS


class Probe:
    """One flow's probe thread; see the module docstring for its schedule and samples."""

    def __init__(
        self,
        settings: ProbeSettings,
        endpoint: OdooEndpoint,
        action: FlowAction,
        ledger: WriteLedger,
        key_prefix: str,
    ) -> None:
        self.settings = settings
        self.flow = settings.flow.value
        self._action = action
        self._ledger = ledger
        self._key_prefix = key_prefix
        self._client = _WatchedClient(
            endpoint.base_url,
            endpoint.db,
            endpoint.login,
            endpoint.password,
            settings.timeout_ms / 1000,
        )
        self._series = SampleSeries(self.flow)
        self._lock = threading.Lock()
        self._lateness = array("q")
        self._skipped = 0
        self._seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"probe-{self.flow}", daemon=True)
        self._first_slot_ns = 0

    def warm_up(self) -> None:
        """Log in before the first slot; a failure is retried inside the first probe."""
        # A probe never raises; when this fails its first sample logs in and tells why.
        with contextlib.suppress(Exception):
            self._client.login()

    def start(self, first_slot_ns: int) -> None:
        self._first_slot_ns = first_slot_ns
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(max(0.0, timeout_s))
        return not self._thread.is_alive()

    def samples(self) -> FlowSamples:
        with self._lock:
            return self._series.freeze()

    def stats(self) -> ProbeStats:
        with self._lock:
            return ProbeStats(self.flow, len(self._series), self._skipped, tuple(self._lateness))

    def _run(self) -> None:
        interval = self.settings.interval_ns
        t0 = self._first_slot_ns
        k = 0
        try:
            while not self._stop.wait(max(0, t0 + k * interval - time.monotonic_ns()) / NS_PER_S):
                slot = t0 + k * interval
                t_start = time.monotonic_ns()
                outcome, t_failed, t_end, detail = self._probe_once(t_start)
                next_k = max(k + 1, -(-(t_end - t0) // interval))
                with self._lock:
                    self._lateness.append(t_start - slot)
                    self._series.add(t_failed, t_end, outcome, detail)
                    for skipped in range(k + 1, next_k):
                        slot_ns = t0 + skipped * interval
                        if outcome is Outcome.OK or slot_ns < t_failed:
                            self._skipped += 1
                        else:
                            self._series.add(
                                slot_ns, max(slot_ns, t_end), outcome, f"skipped slot: {detail}"
                            )
                k = next_k
        finally:
            self._client.close()

    def _probe_once(self, t_start: int) -> tuple[Outcome, int, int, str]:
        """One probe: never raises.

        Returns the outcome, the sample's start (``t_start``, or when a failure is dated:
        see the module docstring), its end and the detail.
        """
        client = self._client
        kind = self._action.key_kind
        pending = None
        if kind is not None:
            self._seq += 1
            key = f"{self._key_prefix}-{self.flow}-{self._seq:07d}"
            pending = self._ledger.invoke(key, self.flow, kind, t_start)
        else:
            key = ""
        client.reset_watch(None if kind is None else kind.model)
        failure: BaseException | None = None
        try:
            if client.uid is None:
                client.login()
            self._action(client, key)
        except Exception as exc:  # every failure, even a harness bug, becomes a sample
            failure = exc
        t_end = time.monotonic_ns()
        if pending is not None:
            if client.created_at_ns is not None:
                self._ledger.complete(pending, WriteOutcome.OK, client.created_at_ns)
            elif client.create_sent and (
                not isinstance(failure, OdooError) or failure.outcome_unknown
            ):
                self._ledger.complete(pending, WriteOutcome.UNKNOWN, t_end)
            else:
                self._ledger.complete(pending, WriteOutcome.FAIL, t_end)
        if failure is not None:
            outcome, detail = classify(failure)
            if outcome is Outcome.TIMEOUT:
                return outcome, max(t_start, client.last_request_ns), t_end, detail
            return outcome, t_end, t_end, detail
        elapsed = t_end - t_start
        if elapsed > self.settings.timeout_ns:
            return (
                Outcome.TIMEOUT,
                t_start,
                t_end,
                f"flow took {elapsed / NS_PER_MS:.0f} ms, over its "
                f"{self.settings.timeout_ms} ms probe timeout",
            )
        return Outcome.OK, t_start, t_end, ""


@dataclass(frozen=True)
class StopReport:
    """How ``ProbeSet.stop`` ended: flows whose probe was still inside a call."""

    still_running: tuple[str, ...]
    stop_s: float


class ProbeSet:
    """All probes of a run; a context manager that starts them and stops them."""

    def __init__(
        self,
        endpoint: OdooEndpoint,
        catalog: SeedCatalog,
        ledger: WriteLedger,
        settings: Sequence[ProbeSettings],
        *,
        key_prefix: str | None = None,
    ) -> None:
        prefix = key_prefix or f"probe-{uuid.uuid4().hex[:12]}"
        self.ledger = ledger
        self.probes = tuple(
            Probe(s, endpoint, flow_action(s.flow, catalog), ledger, prefix) for s in settings
        )
        self._started = False

    def __enter__(self) -> ProbeSet:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Logs every probe in, then starts them on staggered slots from now."""
        for probe in self.probes:
            probe.warm_up()
        t0 = time.monotonic_ns()
        count = len(self.probes)
        for index, probe in enumerate(self.probes):
            probe.start(t0 + index * probe.settings.interval_ns // max(count, 1))
        self._started = True

    def stop(self, timeout_s: float | None = None) -> StopReport:
        """Stops every probe within ``timeout_s`` (default: the longest timeout + 2 s)."""
        if timeout_s is None:
            timeout_s = max((p.settings.timeout_ms for p in self.probes), default=0) / 1000
            timeout_s += STOP_GRACE_S
        begin = time.monotonic()
        for probe in self.probes:
            probe.request_stop()
        if not self._started:
            return StopReport((), 0.0)
        deadline = begin + timeout_s
        running = tuple(p.flow for p in self.probes if not p.join(deadline - time.monotonic()))
        return StopReport(running, time.monotonic() - begin)

    def samples(self) -> dict[str, FlowSamples]:
        """Every flow's samples, sorted by start, as the core takes them."""
        return {probe.flow: probe.samples() for probe in self.probes}

    def stats(self) -> tuple[ProbeStats, ...]:
        return tuple(probe.stats() for probe in self.probes)
