"""The business-flow probes against the Odoo double (real PostgreSQL, Redis and app).

``tests/support/seeded.py`` runs the double as a subprocess on a run-time port it can
restart on, with a small seeded warehouse.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.core import (
    EventKind,
    Outcome,
    Phase,
    RunData,
    SteadyStateSpec,
    Timeline,
    TimelineEvent,
    evaluate_run,
)
from harness.core.recovery import outages
from harness.core.steady import steady_intervals
from harness.ledger import AppKeyReader, DbReadBack, KeyKind, WriteLedger, read_back
from harness.levels import BusinessFlow
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooHTTPError, OdooRPCError, OdooTimeout
from harness.probes import (
    MAX_IN_FLIGHT,
    OdooEndpoint,
    Probe,
    ProbeSet,
    ProbeSettings,
    classify,
    probe_settings,
)
from tests.support.seeded import LEVELS, SeededDouble, seeded_double, targets


def run_for(probes: ProbeSet, seconds: float, during: Callable[[], None] | None = None) -> None:
    with probes:
        if during is not None:
            during()
        time.sleep(seconds)


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeededDouble]:
    with seeded_double(tmp_path_factory.mktemp("probes")) as running:
        yield running


def test_probe_settings_follow_the_service_levels() -> None:
    settings = {s.flow: s for s in probe_settings(LEVELS)}

    assert set(settings) == set(BusinessFlow)
    scan = settings[BusinessFlow.WAREHOUSE_SCAN]
    assert scan.interval_ms == LEVELS.settings.probe_interval_ms == 200
    assert scan.timeout_ms == LEVELS.flow(BusinessFlow.WAREHOUSE_SCAN).probe_timeout_ms


def test_a_run_without_fault_is_steady_throughout_and_loses_nothing(
    double: SeededDouble,
) -> None:
    ledger = WriteLedger()
    probes = ProbeSet(double.endpoint, double.seeded(), ledger, probe_settings(LEVELS))
    t_begin = time.monotonic_ns()
    with probes:
        time.sleep(4.0)
    t_end = time.monotonic_ns()
    flows = probes.samples()

    for flow, samples in flows.items():
        outcomes = [samples.sample(i) for i in range(len(samples))]
        assert len(samples) >= 15, flow
        assert all(s.outcome is Outcome.OK for s in outcomes), (flow, outcomes[:3])
    with double.client() as client:
        result = read_back(ledger, AppKeyReader(client), DbReadBack(double.dsn))
    assert result.disagreements == ()
    assert result.keys == len(ledger) >= 3 * 15
    timeline = Timeline(
        t_begin,
        time.time_ns(),
        (
            TimelineEvent(EventKind.PHASE_START, t_begin, phase=Phase.BASELINE),
            TimelineEvent(EventKind.RUN_END, t_end),
        ),
    )
    steady = SteadyStateSpec(window_s=1.0, stability_s=1.0)
    run = RunData(
        "clean",
        "none",
        timeline,
        flows,
        targets(),
        steady,
        ledger=ledger.records(),
        read_back=result.read_back,
    )
    verdicts = evaluate_run(run)

    assert verdicts.passed, [v.sentence for v in verdicts.failed]
    report = verdicts.ledger
    assert report is not None
    assert report.lost == ()
    assert report.rpo_ns == 0
    assert report.acked == report.written
    for target in targets():
        samples = flows[target.name]
        intervals = steady_intervals(samples, target, steady.window_ns, t_end)
        # Steady from the first full window to the end: 100 % of the observable time.
        assert len(intervals) == 1, (target.name, intervals)
        assert intervals[0].end_ns == t_end
        assert intervals[0].start_ns <= samples.ends[0] + steady.window_ns


def test_probes_never_raise_while_the_app_is_down_and_recover_after_restart(
    double: SeededDouble,
) -> None:
    ledger = WriteLedger()
    flows = [BusinessFlow.WAREHOUSE_SCAN, BusinessFlow.ORDER_IMPORT]
    probes = ProbeSet(double.endpoint, double.seeded(), ledger, probe_settings(LEVELS, flows))
    with probes:
        time.sleep(1.5)
        t_stopping = time.monotonic_ns()
        double.stop()
        t_down = time.monotonic_ns()  # the double has stopped serving (it drains first)
        time.sleep(1.5)
        t_restart = time.monotonic_ns()
        double.start()
        t_up = time.monotonic_ns()
        time.sleep(2.5)
    report = probes.stop()

    assert report.still_running == ()
    for flow, samples in probes.samples().items():
        got = [samples.sample(i) for i in range(len(samples))]
        before = [s for s in got if s.t_end_ns < t_stopping]
        during = [s for s in got if t_down < s.t_start_ns and s.t_end_ns < t_restart]
        after = [s for s in got if s.t_start_ns > t_up + 1_000_000_000]
        assert before, flow
        assert all(s.outcome is Outcome.OK for s in before), flow
        assert len(during) >= 4, flow
        assert all(s.outcome is Outcome.ERROR for s in during), (flow, during)
        # A kept-alive connection cut by the stopping server reads as ReadError once.
        kinds = {s.detail.split(":", 1)[0] for s in during}
        assert "ConnectError" in kinds, flow
        assert kinds <= {"ConnectError", "ReadError"}, flow
        assert after, flow
        assert all(s.outcome is Outcome.OK for s in after), (flow, after)
    # Refused connections never reached Odoo: those writes failed rather than unknown.
    outcomes = [r.outcome.value for r in ledger.records()]
    assert outcomes.count("fail") >= 4
    assert set(outcomes) <= {"ok", "fail", "unknown"}


def test_runs_overlap_so_every_slot_is_probed_even_while_calls_hang(
    double: SeededDouble,
) -> None:
    class HangsThenTimesOut:
        key_kind: KeyKind | None = None

        def __call__(self, client: OdooClient, key: str) -> None:
            time.sleep(0.25)
            raise OdooTimeout(endpoint="test", phase="read", timeout_s=0.25, sent=True)

    class SlowButFine:
        key_kind: KeyKind | None = None

        def __call__(self, client: OdooClient, key: str) -> None:
            time.sleep(0.25)

    settings = ProbeSettings(BusinessFlow.REPORTING, 100, 2000, 1000)
    failing = Probe(settings, double.endpoint, HangsThenTimesOut(), WriteLedger(), "t")
    slow = Probe(settings, double.endpoint, SlowButFine(), WriteLedger(), "t")
    for probe in (failing, slow):
        probe.warm_up()
    t0 = time.monotonic_ns() + 50_000_000
    for probe in (failing, slow):
        probe.start(t0)
    time.sleep(1.0)
    for probe in (failing, slow):
        probe.request_stop()
        assert probe.join(2.0)

    # Each run takes 250 ms on a 100 ms grid: three are in flight at once, and every
    # slot still starts a run of its own, on its slot.
    for probe, outcome in ((failing, Outcome.TIMEOUT), (slow, Outcome.OK)):
        samples = probe.samples()
        stats = probe.stats()
        assert len(samples) >= 8, stats
        assert {Outcome(o) for o in samples.outcomes} == {outcome}
        assert stats.skipped == 0
        assert len(stats.lateness_ns) == len(samples)
        assert sorted(stats.lateness_ns)[len(samples) // 2] < 20_000_000  # median
        assert max(samples.ends[i] - samples.starts[i] for i in range(len(samples))) < 400_000_000


def test_an_error_at_a_later_call_of_a_flow_is_dated_when_it_came_back(
    double: SeededDouble,
) -> None:
    class FailsAtItsSecondCall:
        key_kind: KeyKind | None = None

        def __init__(self) -> None:
            self.flow_starts: list[int] = []
            self.failing_sends: list[int] = []

        def __call__(self, client: OdooClient, key: str) -> None:
            self.flow_starts.append(time.monotonic_ns())
            client.execute_kw("res.partner", "search", [[]], {"limit": 1})
            time.sleep(0.3)
            self.failing_sends.append(time.monotonic_ns())
            client.execute_kw("no.such.model", "search", [[]])

    action = FailsAtItsSecondCall()
    probe = Probe(
        ProbeSettings(BusinessFlow.REPORTING, 1000, 5000, 2500),
        double.endpoint,
        action,
        WriteLedger(),
        "t",
    )
    probe.warm_up()
    probe.start(time.monotonic_ns())
    time.sleep(1.6)
    probe.request_stop()
    assert probe.join(5.0)

    samples = probe.samples()
    assert len(samples) == len(action.failing_sends) >= 2
    assert {Outcome(o) for o in samples.outcomes} == {Outcome.ERROR}
    for start, flow_start, sent in zip(
        samples.starts, action.flow_starts, action.failing_sends, strict=True
    ):
        # The error is dated when it came back, after the flow's 300 ms first step.
        assert start - flow_start >= 300_000_000
        assert 0 <= start - sent < 50_000_000
    assert list(samples.starts) == list(samples.ends)


class _JsonRpcHandler(BaseHTTPRequestHandler):
    """A few JSON-RPC answers, quietly: ``common.login`` is uid 1, anything else ``[]``."""

    def request_body(self) -> dict[str, object]:
        body: dict[str, object] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        return body

    @staticmethod
    def is_login(body: dict[str, object]) -> bool:
        params = body["params"]
        return isinstance(params, dict) and params.get("method") == "login"

    def answer(self, body: dict[str, object]) -> None:
        result: object = 1 if self.is_login(body) else []
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _serving(handler: type[_JsonRpcHandler], release: threading.Event) -> Iterator[OdooEndpoint]:
    """``handler`` on a port of 127.0.0.1 for the block; ``release`` lets held calls go."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield OdooEndpoint(f"http://127.0.0.1:{server.server_port}", "db", "u", "p")
    finally:
        release.set()
        server.shutdown()
        server.server_close()


class _AnswersLoginOnly(_JsonRpcHandler):
    """Answers ``common.login`` with uid 1 and never answers anything else."""

    release = threading.Event()

    def do_POST(self) -> None:
        body = self.request_body()
        if not self.is_login(body):
            self.release.wait(5)
            return
        self.answer(body)


def test_a_timed_out_request_is_dated_when_it_was_sent() -> None:
    class WorksThenHangs:
        key_kind: KeyKind | None = None

        def __init__(self) -> None:
            self.sends: list[int] = []
            self.lock = threading.Lock()

        def __call__(self, client: OdooClient, key: str) -> None:
            time.sleep(0.3)  # the flow's first steps, which answered
            with self.lock:
                self.sends.append(time.monotonic_ns())
            client.execute_kw("res.partner", "search", [[]])

    action = WorksThenHangs()
    with _serving(_AnswersLoginOnly, _AnswersLoginOnly.release) as endpoint:
        settings = ProbeSettings(BusinessFlow.REPORTING, 100, 250, 200)
        probe = Probe(settings, endpoint, action, WriteLedger(), "t")
        probe.warm_up()
        probe.start(time.monotonic_ns())
        time.sleep(1.0)
        probe.request_stop()
        assert probe.join(3.0)

    samples = probe.samples()
    assert len(samples) == len(action.sends) >= 4
    assert {Outcome(o) for o in samples.outcomes} == {Outcome.TIMEOUT}
    # Each timeout is dated when its request went out, not when its run began 300 ms
    # earlier, and it is one sample, not a stall besides.
    for start, sent in zip(samples.starts, sorted(action.sends), strict=True):
        assert 0 <= start - sent < 20_000_000


def test_classify_names_the_failure_and_who_answered() -> None:
    assert classify(OdooTimeout(endpoint="e", phase="read", timeout_s=1, sent=True)) == (
        Outcome.TIMEOUT,
        "OdooTimeout (read) at e",
    )
    assert classify(ValueError("bug")) == (Outcome.ERROR, "ValueError")
    # Traefik with every app out of its health check, and a backend that reset.
    no_server = OdooHTTPError(endpoint="e", status=503, body_excerpt="no available server\n")
    assert classify(no_server) == (Outcome.ERROR, "HTTP 503: no available server")
    assert classify(OdooHTTPError(endpoint="e", status=502, body_excerpt="")) == (
        Outcome.ERROR,
        "HTTP 502",
    )
    refused = OdooRPCError(
        endpoint="e",
        name="psycopg2.OperationalError",
        message="connection to server failed\nIs the server running?",
        code=200,
        http_status=200,
        debug="",
    )
    assert classify(refused) == (
        Outcome.ERROR,
        "psycopg2.OperationalError: connection to server failed",
    )
    business = OdooRPCError(
        endpoint="e",
        name="odoo.exceptions.UserError",
        message="no",
        code=200,
        http_status=200,
        debug="",
    )
    assert classify(business) == (Outcome.ERROR, "odoo.exceptions.UserError")


class _FreezesOnDemand(_JsonRpcHandler):
    """Answers every call at once, except while ``frozen`` is set: then it answers when
    ``thawed`` is set (a SIGSTOPped component, answered after SIGCONT)."""

    frozen = threading.Event()
    thawed = threading.Event()

    def do_POST(self) -> None:
        body = self.request_body()
        if self.frozen.is_set():
            self.thawed.wait(10)
        self.answer(body)


def test_a_hang_answered_within_the_timeout_reads_as_long_as_it_lasted() -> None:
    class Search:
        key_kind: KeyKind | None = None

        def __call__(self, client: OdooClient, key: str) -> None:
            client.execute_kw("res.partner", "search", [[]])

    with _serving(_FreezesOnDemand, _FreezesOnDemand.thawed) as endpoint:
        # A 5 s probe timeout: the 2 s hang never times out, yet it must read as 2 s down.
        settings = ProbeSettings(BusinessFlow.REPORTING, 100, 5000, 800)
        probe = Probe(settings, endpoint, Search(), WriteLedger(), "t")
        probe.warm_up()
        probe.start(time.monotonic_ns())
        time.sleep(0.5)
        t_freeze = time.monotonic_ns()
        _FreezesOnDemand.frozen.set()
        time.sleep(2.0)
        _FreezesOnDemand.frozen.clear()
        _FreezesOnDemand.thawed.set()
        t_thaw = time.monotonic_ns()
        time.sleep(0.8)
        probe.request_stop()
        assert probe.join(3.0)

    samples = probe.samples()
    outcomes = {Outcome(o) for o in samples.outcomes}
    assert outcomes == {Outcome.OK, Outcome.STALL}
    (outage,) = [o for o in outages(samples, time.monotonic_ns()) if o.end_ns > t_freeze]
    # Down from the first send into the freeze (a request sent just before it may be the
    # one that hangs) to the first probe after the thaw, within one 100 ms slot and a
    # little scheduling of each.
    assert -50_000_000 <= outage.start_ns - t_freeze <= 150_000_000
    assert 0 <= outage.end_ns - t_thaw <= 150_000_000
    # The runs sent into the freeze stalled, as many as may be in flight at once; the
    # slots that found them all waiting are counted as skipped.
    stalls = [d for d in samples.details if d.startswith("stalled")]
    assert len(stalls) == MAX_IN_FLIGHT
    assert all("(stall threshold 800 ms)" in d for d in stalls)
    assert probe.stats().skipped >= 5
