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
all fire together); a run starts at its slot, never relative to the previous run's end,
and runs overlap: a run still waiting at the next slot does not stop the next one from
starting (each run has its own client from a small pool), so every slot asks "is this
flow served now?", as a dense outside observer would. A frozen component that the
ingress routes around leaves one run stuck on it while the next runs are answered; a
frozen ingress leaves every run waiting. At most ``MAX_IN_FLIGHT`` runs of a flow are in
flight at once; a slot that finds them all still waiting is counted in
``ProbeStats.skipped`` (the runs in flight are its evidence: they end as failures).

Timeouts. The client timeout bounds each HTTP exchange; a flow of several calls can
exceed ``probe_timeout`` with every call under it, and is then a TIMEOUT sample too.

Stalls. A stack that hangs is as down as one that refuses, so "not answering" is judged
per HTTP exchange, not by the flow's timeout: the client tells the probe of every
exchange (``OdooClient.observer``), and one that took longer than the flow's
``stall_threshold_ms`` (service levels; default half its p99 target) makes its run a
failed sample dated from that exchange's send (``harness.core.stalls`` has the exact
rules).

Writes. ``picking_validate`` and ``order_import`` key a sale order by
``client_order_ref``, ``receiving`` keys a picking by ``origin``; each write is recorded
in the ``WriteLedger``. Once the keyed ``create`` was acknowledged the write is OK (acked
then) whatever later steps do; an error before that is UNKNOWN when
``OdooError.outcome_unknown`` says the create may have landed, FAIL otherwise. The
stock movement is a second write (``<key>@done``, ``KeyKind.validated``): once the flow
sent ``stock.picking.button_validate`` it is OK, acked when that call answered, if the
flow then saw the picking done; UNKNOWN when the flow failed after sending it, unless
the failure proves the call never reached Odoo (FAIL).

``ProbeSet`` starts and stops all probes (stop is bounded: a probe still inside a call
when the bound passes is left to finish on its daemon thread and named in the result)
and hands their samples to the core as ``FlowSamples`` per flow.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
import uuid
from array import array
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.core.ledger import WriteOutcome, WriteRecord
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.stalls import Exchange, FlowRun, answered_from, run_sample
from harness.ledger import DONE_SUFFIX, KeyKind, PendingWrite, WriteLedger
from harness.levels import BusinessFlow, ServiceLevels
from harness.odoo.client import OdooClient
from harness.odoo.errors import (
    ErrorKind,
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
#: Most runs of one flow in flight at once: enough for the few caught on a frozen
#: instance before the ingress routes around it, few enough that a frozen stack is not
#: flooded by its own observers when it thaws. bench/accuracy.py, freezing Traefik for
#: 2-7 s: with 4, 7 of its 9 flow cases were within one probe interval of the oracle;
#: with 12, 3 (thaw tails up to 1.8 s: the observers' own write flows contend at the thaw).
MAX_IN_FLIGHT = 4
#: How much of what answered a failure keeps in its detail.
DETAIL_CHARS = 80
#: How many recent OK runs' first-answer waits make the usual one (``answered_from``).
FIRST_WAITS_KEPT = 25


@dataclass(frozen=True)
class OdooEndpoint:
    """Where the probes reach Odoo and as whom."""

    base_url: str
    db: str
    login: str
    password: str


@dataclass(frozen=True)
class ProbeSettings:
    """Cadence, timeout and stall threshold of one flow's probe."""

    flow: BusinessFlow
    interval_ms: int
    timeout_ms: int
    stall_ms: int

    @property
    def interval_ns(self) -> int:
        return self.interval_ms * NS_PER_MS

    @property
    def timeout_ns(self) -> int:
        return self.timeout_ms * NS_PER_MS

    @property
    def stall_ns(self) -> int:
        return self.stall_ms * NS_PER_MS


def probe_settings(
    levels: ServiceLevels, flows: Sequence[BusinessFlow] | None = None
) -> tuple[ProbeSettings, ...]:
    """One ``ProbeSettings`` per flow of the service levels (or of ``flows``)."""
    chosen = [f.flow for f in levels.flows] if flows is None else list(flows)
    interval = levels.settings.probe_interval_ms
    return tuple(
        ProbeSettings(
            f, interval, levels.flow(f).probe_timeout_ms, levels.flow(f).stall_threshold_ms
        )
        for f in chosen
    )


@dataclass
class _Step:
    """One watched call of a flow: whether it was sent, and when it was first answered."""

    sent: bool = False
    answered_ns: int | None = None


@dataclass
class _RunWatch:
    """What one run of a flow did: its exchanges and its keyed writes' calls.

    ``create`` is the keyed ``create`` of the write's model; ``validate`` is
    ``stock.picking.button_validate`` (the stock movement).
    """

    model: str | None
    create: _Step = field(default_factory=_Step)
    validate: _Step = field(default_factory=_Step)
    exchanges: list[Exchange] = field(default_factory=list)


class _WatchedClient(OdooClient):
    """An ``OdooClient`` shared by the overlapping runs of one flow, noting what each run
    (its thread) did in that run's ``_RunWatch``."""

    def __init__(self, base_url: str, db: str, login: str, password: str, timeout_s: float) -> None:
        super().__init__(base_url, db, login, password, timeout_s)
        self._runs = threading.local()
        self.observer = self._note_exchange

    def begin_run(self, model: str | None) -> _RunWatch:
        """Start watching the calling thread's run."""
        watch = _RunWatch(model)
        self._runs.watch = watch
        return watch

    def _watch(self) -> _RunWatch | None:
        watch: _RunWatch | None = getattr(self._runs, "watch", None)
        return watch

    def _note_exchange(self, exchange: Exchange) -> None:
        watch = self._watch()
        if watch is not None:
            watch.exchanges.append(exchange)

    def execute_kw(
        self,
        model: str,
        method: str,
        args: Sequence[object],
        kwargs: Mapping[str, object] | None = None,
    ) -> object:
        watch = self._watch()
        step: _Step | None = None
        if watch is not None and watch.model is not None:
            if method == "create" and model == watch.model:
                step = watch.create
            elif method == "button_validate" and model == "stock.picking":
                step = watch.validate
        if step is not None:
            step.sent = True
        result = super().execute_kw(model, method, args, kwargs)
        if step is not None and step.answered_ns is None:
            step.answered_ns = time.monotonic_ns()
        return result


class FlowAction(Protocol):
    """One run of a business flow; raises ``OdooError`` (or anything) when it fails."""

    key_kind: KeyKind | None
    """Where the flow's write key lives; None for a read-only flow."""

    def __call__(self, client: OdooClient, key: str) -> None: ...


class _Rotation:
    """Cycles through the seeded catalog so probes spread over products and partners.

    Thread-safe: runs of one flow overlap."""

    def __init__(self, catalog: SeedCatalog, offset: int) -> None:
        self.catalog = catalog
        self._n = itertools.count(offset + 1)

    def next(self) -> int:
        return next(self._n)


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
    """A failure as a sample outcome and a short detail that says whose it was.

    The first line of what answered is kept: ``HTTP 503: no available server`` is
    Traefik with every app out of its health check, ``HTTP 502: Bad Gateway`` a backend
    that refused or reset; an infrastructure error names what the database tier said.
    """
    if isinstance(exc, OdooTimeout):
        return Outcome.TIMEOUT, f"OdooTimeout ({exc.phase}) at {exc.endpoint}"
    if isinstance(exc, OdooRPCError):
        name = exc.name or f"JSON-RPC error code {exc.code}"
        if exc.kind is ErrorKind.INFRA and exc.message:
            return Outcome.ERROR, f"{name}: {_first_line(exc.message)}"
        return Outcome.ERROR, name
    if isinstance(exc, OdooHTTPError):
        body = _first_line(exc.body_excerpt)
        return Outcome.ERROR, f"HTTP {exc.status}: {body}" if body else f"HTTP {exc.status}"
    if isinstance(exc, OdooConnectionError):
        return Outcome.ERROR, _first_line(exc.detail)
    return Outcome.ERROR, type(exc).__name__


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:DETAIL_CHARS] if lines else ""


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
        self._seq = itertools.count(1)
        self._in_flight: set[threading.Thread] = set()
        self._first_waits: deque[int] = deque(maxlen=FIRST_WAITS_KEPT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"probe-{self.flow}", daemon=True)
        self._first_slot_ns = 0

    def warm_up(self) -> None:
        """Log in before the first slot; a failure is retried inside the first run."""
        # A probe never raises; when this fails its first sample logs in and tells why.
        with contextlib.suppress(Exception):
            self._client.login()

    def start(self, first_slot_ns: int) -> None:
        self._first_slot_ns = first_slot_ns
        self._thread.start()

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float) -> bool:
        """Wait for the schedule and every run in flight; False when one is still inside
        a call at the bound (it finishes on its daemon thread and closes its client)."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            running = list(self._in_flight)
        for worker in running:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            done = not self._thread.is_alive() and not self._in_flight
        if done:
            self._client.close()
        return done

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
        while not self._stop.wait(max(0, t0 + k * interval - time.monotonic_ns()) / NS_PER_S):
            slot = t0 + k * interval
            with self._lock:
                busy = len(self._in_flight) >= MAX_IN_FLIGHT
                if busy:
                    self._skipped += 1
                else:
                    worker = threading.Thread(
                        target=self._one, args=(slot,), name=f"probe-{self.flow}-{k}"
                    )
                    worker.daemon = True
                    self._in_flight.add(worker)
            if not busy:
                worker.start()
            # A schedule that fell behind (a starved CPU) skips to the next slot to come.
            next_k = max(k + 1, -(-(time.monotonic_ns() - t0) // interval))
            with self._lock:
                self._skipped += next_k - k - 1
            k = next_k

    def _one(self, slot_ns: int) -> None:
        """One run on its own thread; its sample is recorded when it ends."""
        t_start = time.monotonic_ns()
        run = self._probe_once(t_start)
        sample = run_sample(run, self.settings.stall_ns)
        with self._lock:
            self._lateness.append(t_start - slot_ns)
            self._series.append(sample)
            self._in_flight.discard(threading.current_thread())
            last = self._stop.is_set() and not self._in_flight and not self._thread.is_alive()
        if last:
            # Stopped while this run was still inside a call: the probe is done with it.
            self._client.close()

    def _probe_once(self, t_start: int) -> FlowRun:
        """One run: never raises (see the module docstring for how it is dated)."""
        client = self._client
        kind = self._action.key_kind
        pending = None
        if kind is not None:
            key = f"{self._key_prefix}-{self.flow}-{next(self._seq):07d}"
            pending = self._ledger.invoke(key, self.flow, kind, t_start)
        else:
            key = ""
        watch = client.begin_run(None if kind is None else kind.model)
        failure: BaseException | None = None
        try:
            if client.uid is None:
                client.login()
            self._action(client, key)
        except Exception as exc:  # every failure, even a harness bug, becomes a sample
            failure = exc
        t_end = time.monotonic_ns()
        if pending is not None and kind is not None:
            self._complete_writes(watch, pending, kind, failure, t_end)
        exchanges = tuple(watch.exchanges)
        if failure is not None:
            outcome, detail = classify(failure)
            # A timed-out request is dated when it was sent; an error when it came back.
            dated = t_end
            if outcome is Outcome.TIMEOUT:
                dated = exchanges[-1].sent_ns if exchanges else t_start
            return FlowRun(self.flow, outcome, dated, t_end, detail, exchanges)
        elapsed = t_end - t_start
        if elapsed > self.settings.timeout_ns:
            detail = (
                f"flow took {elapsed / NS_PER_MS:.0f} ms, over its "
                f"{self.settings.timeout_ms} ms probe timeout"
            )
            return FlowRun(self.flow, Outcome.TIMEOUT, t_start, t_end, detail, exchanges)
        answered = answered_from(t_start, exchanges, self._usual_first_answer(exchanges))
        return FlowRun(self.flow, Outcome.OK, t_start, t_end, "", exchanges, answered)

    def _usual_first_answer(self, exchanges: tuple[Exchange, ...]) -> int:
        """The median wait for a run's first answer over recent OK runs (this one not
        yet among them unless there is no other)."""
        with self._lock:
            recent = sorted(self._first_waits)
            if exchanges and exchanges[0].duration_ns <= self.settings.stall_ns:
                self._first_waits.append(exchanges[0].duration_ns)
        if not recent:
            return exchanges[0].duration_ns if exchanges else 0
        return recent[len(recent) // 2]

    def _complete_writes(
        self,
        watch: _RunWatch,
        pending: PendingWrite,
        kind: KeyKind,
        failure: BaseException | None,
        t_end: int,
    ) -> None:
        """The keyed write and, once the flow validated a transfer, the stock movement."""
        unknown = not isinstance(failure, OdooError) or failure.outcome_unknown
        create, validate = watch.create, watch.validate
        if create.answered_ns is not None:
            self._ledger.complete(pending, WriteOutcome.OK, create.answered_ns)
        elif create.sent and unknown:
            self._ledger.complete(pending, WriteOutcome.UNKNOWN, t_end)
        else:
            self._ledger.complete(pending, WriteOutcome.FAIL, t_end)
        if not validate.sent:
            return
        if failure is None and validate.answered_ns is not None:
            outcome, t_complete = WriteOutcome.OK, validate.answered_ns
        elif validate.answered_ns is not None or unknown:
            outcome, t_complete = WriteOutcome.UNKNOWN, t_end
        else:
            outcome, t_complete = WriteOutcome.FAIL, t_end
        record = WriteRecord(
            pending.key + DONE_SUFFIX, self.flow, pending.t_invoke_ns, t_complete, outcome
        )
        self._ledger.add(record, kind.validated)


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
