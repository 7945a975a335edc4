"""Measurement accuracy: break the route for exactly L seconds under load, against an oracle.

Two kinds of case, each held for L seconds under the bench's Locust load while the probes
run, one after another with a settling pause between them:

- cut: every ingress→app link disabled in Toxiproxy (a reset: the route refuses at once),
  for L = 2, 5 and 10 s;
- freeze: one component's processes stopped with SIGSTOP and resumed with SIGCONT (a hang:
  the route accepts and never answers), for Traefik, HAProxy and one app instance of three
  (Traefik should route around it), for L = 2, 5 and 7 s. The processes are resumed in a
  ``finally``, so nothing is left stopped on an error or Ctrl-C.

An independent dense oracle says how long new requests were not answered: its own HTTP
client sends ``product.product search_count`` through the same ingress every 20 ms,
whatever is still in flight (at most ``ORACLE_IN_FLIGHT`` at once), each with a 0.5 s
timeout. Its stall for a case runs from the send of an exchange without a timely answer
(one that failed, timed out, or was answered later than the baseline median latency of
the 5 s before the fault + the smallest stall threshold of the critical flows, 400 ms) to
the answer of the first good exchange sent at or
after it, less that baseline; overlapping stalls are merged and separate ones summed. So
with one app of three frozen it says how long until a new request is answered (Traefik's
health check routing around the instance), not how long a request caught on that
instance waited; a frozen ingress leaves every exchange waiting until the thaw.

Per case and critical flow the bench reports the outage the probes measured (from the
probe samples, by ``harness.core.recovery.outages``), the oracle's stall, the difference,
whether it is within one probe interval (200 ms) of the oracle and of L, where the outage
starts against the fault and ends against its end, and the probes' failure details. It
also records what the route's components said meanwhile: Traefik's health-check state of
each app, HAProxy's server states, sessions and error counters, and the app instances'
error lines, each stamped when the bench saw it (every 50 ms), so what happens after a
thaw can be read off the result. The component logs are copied beside the result before
the stack goes down, with every log line the bench saw during a case, grouped.

    .venv/bin/python bench/accuracy.py [--out bench/results/accuracy.json]
                                       [--logs bench/results/accuracy-logs]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType

import httpx
import yaml

from harness.core import reconcile
from harness.core.recovery import outages
from harness.core.samples import FlowSamples
from harness.errors import PlatformError
from harness.faults import links
from harness.ledger import AppKeyReader, DbReadBack, WriteLedger, read_back
from harness.levels import DEFAULT_SERVICE_LEVELS, ServiceLevels, load_service_levels
from harness.load.catalog import write_catalog
from harness.load.runner import LoadRun, LoadSettings
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from harness.platform.endpoints import StackEndpoints
from harness.platform.local.platform import BLUE, LocalPlatform
from harness.probes import OdooEndpoint, ProbeSet, probe_settings

REPO = Path(__file__).resolve().parents[1]
TOPOLOGY = Path(__file__).with_name("accuracy-topology.yaml")
PROFILES = Path(__file__).with_name("accuracy-load.yaml")
PROFILE = "accuracy"
CUTS_S = (2.0, 5.0, 10.0)
FREEZES_S = (2.0, 5.0, 7.0)
#: One component per layer of the route: the ingress, the DB router, one app of three.
FROZEN = ("traefik", "haproxy", "app-2")
SETTLE_S = 12.0
#: An outage (or oracle stall) opening up to this long after the fault ended is the case's.
AFTER_S = 1.0
#: Outages are measured between sample starts on the monotonic clock; allow 1 ms of
#: scheduling slack on top of the one probe interval the target grants.
SLACK_S = 0.001
ORACLE_EVERY_S = 0.02
ORACLE_TIMEOUT_S = 0.5
#: Oracle exchanges in flight at once: enough for the few caught on a frozen instance
#: before the ingress routes around it, few enough not to flood a thawing stack.
ORACLE_IN_FLIGHT = 5
LOGIN_TIMEOUT_S = 30.0
#: An oracle answer later than the baseline median latency plus this is not timely: the
#: smallest stall threshold of the service levels' critical flows, so that the oracle and
#: the probes call the same thing "not answered" (sub-threshold slowness is latency's).
ORACLE_MARGIN_S = (
    min(f.stall_threshold_ms for f in load_service_levels(DEFAULT_SERVICE_LEVELS).critical_flows())
    / 1000
)
BASELINE_S = 5.0
WATCH_EVERY_S = 0.05
WATCH_TIMEOUT_S = 0.3
#: Evidence of a case: what was seen from just before the fault to this long after its end.
EVIDENCE_AFTER_S = 3.0
#: HAProxy stats columns whose growth during a case is reported.
HAPROXY_COUNTERS = ("stot", "econ", "eresp", "cli_abrt", "srv_abrt", "chkfail", "chkdown")
#: How long after a fault's end HAProxy's rw sessions are listed poll by poll.
SESSIONS_KEPT_S = 1.5
LOG_GROUPS_KEPT = 12
APP_ERRORS_KEPT = 8
NS = 1_000_000_000


# -- cases and the faults that make them ------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """Break the route for ``length_s``: ``kind`` "cut" (ingress links) or "freeze" ``target``."""

    kind: str
    target: str
    length_s: float

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target}"


@dataclass(frozen=True)
class Held:
    """When a case's fault held (monotonic ns), and the processes it stopped."""

    case: Case
    on_ns: int
    off_ns: int
    pids: tuple[int, ...] = ()

    def after_on(self, t_ns: int) -> float:
        return round((t_ns - self.on_ns) / NS, 3)

    def after_off(self, t_ns: int) -> float:
        return round((t_ns - self.off_ns) / NS, 3)

    def window(self, after_s: float) -> tuple[int, int]:
        return self.on_ns, self.off_ns + int(after_s * NS)


def _hold_until(t_ns: int) -> None:
    time.sleep(max(0.0, (t_ns - time.monotonic_ns()) / NS))


def cut_ingress(stack: LocalPlatform, case: Case) -> Held:
    """Every ingress→app link disabled in Toxiproxy for ``case.length_s``."""
    api = stack.fault_proxy.api_url
    names = [f"ingress-{a}" for a in stack.topology.app_instances]
    on = time.monotonic_ns()
    try:
        for name in names:
            links.set_enabled(api, name, False)
        _hold_until(on + int(case.length_s * NS))
    finally:
        off = time.monotonic_ns()
        for name in names:
            links.set_enabled(api, name, True)
    return Held(case, on, off)


def component_pids(stack: LocalPlatform, name: str) -> list[int]:
    """Every process of component ``name``: its cgroup leaf, else its main process."""
    component = stack.component(name)
    pids = [] if stack.cgroups is None else stack.cgroups.pids(f"{component.node}/{name}")
    main_pid = component.pid()
    if not pids and main_pid is not None:
        pids = [main_pid]
    if not pids:
        raise PlatformError(f"expected component {name} to be running to freeze it, saw no pid")
    return pids


def _process_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "gone"
    return stat.rsplit(")", 1)[1].split()[0]


def _await_state(pids: Sequence[int], *, stopped: bool) -> None:
    """Returns once every pid is stopped (state T), or running again; PlatformError after 2 s."""
    deadline = time.monotonic() + 2.0
    while True:
        states = {pid: _process_state(pid) for pid in pids}
        if all((state == "T") == stopped for state in states.values()):
            return
        if time.monotonic() > deadline:
            raise PlatformError(
                f"expected pids {sorted(states)} to be {'stopped' if stopped else 'running'} "
                f"within 2 s, saw states {states}; look at /proc/<pid>/status"
            )
        time.sleep(0.005)


def freeze_component(stack: LocalPlatform, case: Case) -> Held:
    """SIGSTOP every process of ``case.target``, SIGCONT ``case.length_s`` later (always)."""
    pids = component_pids(stack, case.target)
    on = time.monotonic_ns()
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        _await_state(pids, stopped=True)  # the fault landed
        _hold_until(on + int(case.length_s * NS))
    finally:
        off = time.monotonic_ns()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    _await_state(pids, stopped=False)
    return Held(case, on, off, tuple(pids))


FAULTS: Mapping[str, Callable[[LocalPlatform, Case], Held]] = {
    "cut": cut_ingress,
    "freeze": freeze_component,
}


def bench_cases() -> list[Case]:
    cuts = [Case("cut", "ingress", length) for length in CUTS_S]
    return cuts + [Case("freeze", name, length) for name in FROZEN for length in FREEZES_S]


# -- the oracle -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Exchange:
    """One oracle request: sent and done (answered, failed or timed out) on the monotonic clock."""

    sent_ns: int
    done_ns: int
    ok: bool
    detail: str

    @property
    def latency_ns(self) -> int:
        return self.done_ns - self.sent_ns


def _answer(response: httpx.Response) -> tuple[bool, str]:
    """Whether a response is a good ``search_count`` answer; else what it was."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            data = error.get("data")
            data = data if isinstance(data, dict) else {}
            message = str(data.get("message") or error.get("message") or "").splitlines()
            return False, f"{data.get('name') or 'JSON-RPC error'}: {(message or [''])[0][:120]}"
        result = body.get("result")
        if response.status_code == 200 and isinstance(result, int):
            return True, ""
    # Traefik's own answers say why: 503 "no available server" (every backend DOWN by its
    # health check), 502 "Bad Gateway" (a backend refused or reset).
    return False, f"HTTP {response.status_code}: {response.text[:40].strip()}"


class Oracle:
    """Reads ``product.product search_count`` through the ingress every 20 ms, overlapping.

    Independent of the harness: plain httpx, its own connections, no retries, no re-login.
    """

    def __init__(self, endpoint: OdooEndpoint) -> None:
        self._endpoint = endpoint
        self._http = httpx.Client(
            base_url=endpoint.base_url,
            timeout=ORACLE_TIMEOUT_S,
            transport=httpx.HTTPTransport(retries=0),
            limits=httpx.Limits(max_connections=ORACLE_IN_FLIGHT),
            trust_env=False,
        )
        self._uid: int | None = None
        self._exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(ORACLE_IN_FLIGHT)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="oracle", daemon=True)

    def __enter__(self) -> Oracle:
        self._uid = self._login()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=ORACLE_TIMEOUT_S + 2.0)
        for _ in range(ORACLE_IN_FLIGHT):  # every exchange in flight has ended
            self._slots.acquire(timeout=ORACLE_TIMEOUT_S + 2.0)
        self._http.close()

    def exchanges(self) -> list[Exchange]:
        """Every exchange, in the order they were sent."""
        with self._lock:
            return sorted(self._exchanges, key=lambda e: e.sent_ns)

    def _body(self, service: str, method: str, args: list[object]) -> dict[str, object]:
        return {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": 1,
        }

    def _login(self) -> int:
        """``common.login`` once, with a long timeout: it hashes the password (slow on purpose)."""
        ep = self._endpoint
        body = self._body("common", "login", [ep.db, ep.login, ep.password])
        try:
            uid = self._http.post("/jsonrpc", json=body, timeout=LOGIN_TIMEOUT_S).json()["result"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise PlatformError(
                f"expected the oracle to log in as {ep.login} at {ep.base_url}, saw "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise PlatformError(f"expected a uid from common.login, saw {uid!r}")
        return uid

    def _ask(self) -> Exchange:
        ep = self._endpoint
        args: list[object] = [ep.db, self._uid, ep.password, "product.product", "search_count"]
        body = self._body("object", "execute_kw", [*args, [[]]])
        sent = time.monotonic_ns()
        try:
            response = self._http.post("/jsonrpc", json=body)
        except httpx.TimeoutException as exc:
            return Exchange(sent, time.monotonic_ns(), False, f"timeout ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Exchange(sent, time.monotonic_ns(), False, type(exc).__name__)
        done = time.monotonic_ns()
        return Exchange(sent, done, *_answer(response))

    def _one(self) -> None:
        try:
            exchange = self._ask()
            with self._lock:
                self._exchanges.append(exchange)
        finally:
            self._slots.release()

    def _run(self) -> None:
        every = int(ORACLE_EVERY_S * NS)
        slot = time.monotonic_ns()
        while not self._stop.is_set():
            # A slot finding every exchange still in flight waits for one to end.
            if self._slots.acquire(timeout=ORACLE_TIMEOUT_S):
                threading.Thread(target=self._one, name="oracle-ask", daemon=True).start()
            slot = max(slot + every, time.monotonic_ns())
            self._stop.wait(max(0, slot - time.monotonic_ns()) / NS)


@dataclass(frozen=True)
class OracleStall:
    """What the oracle saw during one case: its stalls (summed) and where each starts and ends."""

    baseline_ms: float
    stall_s: float
    starts_after_fault_s: list[float]
    ends_after_restore_s: list[float]
    untimely: int
    failures: list[str]


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def oracle_stall(exchanges: Sequence[Exchange], held: Held) -> OracleStall:
    """The oracle's stall during ``held`` (see the module docstring)."""
    on, until = held.window(AFTER_S)
    before = [
        e.latency_ns
        for e in exchanges
        if e.ok and on - BASELINE_S * NS <= e.sent_ns and e.done_ns <= on
    ]
    baseline = int(statistics.median(before)) if before else 0
    timely_ns = baseline + int(ORACLE_MARGIN_S * NS)
    # next_ok[i]: the first good (timely) answer sent at or after exchange i (by send).
    next_ok = [len(exchanges)] * (len(exchanges) + 1)
    for i in range(len(exchanges) - 1, -1, -1):
        good = exchanges[i].ok and exchanges[i].latency_ns <= timely_ns
        next_ok[i] = i if good else next_ok[i + 1]
    spans: list[tuple[int, int]] = []
    failures: dict[str, int] = {}
    for i, e in enumerate(exchanges):
        if e.done_ns <= on or e.sent_ns >= until or (e.ok and e.latency_ns <= timely_ns):
            continue
        j = next_ok[i]
        end = exchanges[j].done_ns - baseline if j < len(exchanges) else exchanges[-1].done_ns
        spans.append((e.sent_ns, max(e.sent_ns, end)))
        detail = e.detail or "answered late"
        failures[detail] = failures.get(detail, 0) + 1
    merged = _merged(spans)
    return OracleStall(
        baseline_ms=round(baseline / 1e6, 1),
        stall_s=round(sum(end - start for start, end in merged) / NS, 3),
        starts_after_fault_s=[held.after_on(start) for start, _ in merged],
        ends_after_restore_s=[held.after_off(end) for _, end in merged],
        untimely=len(spans),
        failures=[f"{detail} (x{count})" for detail, count in sorted(failures.items())],
    )


# -- what the route's components said meanwhile -----------------------------------------------
@dataclass(frozen=True, slots=True)
class Seen:
    """Something the watch saw change at ``t_ns``: a state (traefik, haproxy) or a log line."""

    t_ns: int
    source: str
    text: str


class Watch:
    """Pollers on their own threads, every 50 ms; each notes what changed."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def note(self, t_ns: int, source: str, text: str) -> None:
        with self._lock:
            self.seen.append(Seen(t_ns, source, text))

    def every(self, name: str, poll: Callable[[], None]) -> None:
        def loop() -> None:
            while not self._stop.wait(WATCH_EVERY_S):
                with contextlib.suppress(Exception):  # a poller must outlive any answer
                    poll()

        thread = threading.Thread(target=loop, name=f"watch-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def __enter__(self) -> Watch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=WATCH_TIMEOUT_S + 2.0)

    def during(self, held: Held, sources: Sequence[str] | None = None) -> list[Seen]:
        start, end = held.on_ns - int(0.5 * NS), held.off_ns + int(EVIDENCE_AFTER_S * NS)
        with self._lock:
            return [
                s
                for s in self.seen
                if start <= s.t_ns <= end and (sources is None or s.source in sources)
            ]


class StatePoller:
    """Notes each change of a component's view of its backends (or of its reachability)."""

    def __init__(
        self, watch: Watch, source: str, read: Callable[[httpx.Client], dict[str, str]]
    ) -> None:
        self._watch, self._source, self._read = watch, source, read
        self._http = httpx.Client(timeout=WATCH_TIMEOUT_S, trust_env=False)
        self._last: dict[str, str] = {}

    def __call__(self) -> None:
        try:
            states = self._read(self._http)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            states = {"api": f"unreachable ({type(exc).__name__})"}
        t = time.monotonic_ns()
        for key, value in states.items():
            if self._last.get(key) != value:
                self._watch.note(t, self._source, f"{key} {value}")
        if "api" not in states and "api" in self._last:
            self._watch.note(t, self._source, "api reachable")
        self._last = states


def traefik_states(
    ep: StackEndpoints, app_of: Mapping[str, str]
) -> Callable[[httpx.Client], dict[str, str]]:
    url = f"{ep.traefik_api}/api/http/services/{BLUE}@file"

    def read(http: httpx.Client) -> dict[str, str]:
        status = http.get(url).json().get("serverStatus", {})
        return {app_of.get(u, u): str(state) for u, state in sorted(status.items())}

    return read


class HAProxyStats:
    """HAProxy's stats CSV every poll: server states as changes, rw sessions and counters."""

    def __init__(self, stats_url: str) -> None:
        self._url = f"{stats_url};csv"
        self.sessions: list[tuple[int, int]] = []  # (t_ns, rw frontend scur)
        self.counters: list[tuple[int, dict[str, int]]] = []

    def read(self, http: httpx.Client) -> dict[str, str]:
        response = http.get(self._url)
        response.raise_for_status()
        rows = list(csv.DictReader(io.StringIO(response.text.lstrip("# "))))
        t = time.monotonic_ns()
        states: dict[str, str] = {}
        counters: dict[str, int] = {}
        for row in rows:
            key = f"{row['pxname']}/{row['svname']}"
            if row["pxname"] not in ("rw", "ro"):
                continue
            if row["svname"] == "FRONTEND" and row["pxname"] == "rw":
                self.sessions.append((t, int(row["scur"] or 0)))
            if row["svname"] not in ("FRONTEND", "BACKEND"):
                # "* L7OK": that check is running now; only its result is a change.
                states[key] = f"{row['status']} ({row['check_status'].removeprefix('* ')})"
            if row["pxname"] == "rw":
                for name in HAPROXY_COUNTERS:
                    if row.get(name):
                        counters[f"{key} {name}"] = int(row[name])
        self.counters.append((t, counters))
        return states

    def during(self, held: Held) -> HAProxyWindow:
        on, end = held.on_ns, held.off_ns + int(EVIDENCE_AFTER_S * NS)
        before = [n for t, n in self.sessions if t <= on]
        first = [c for t, c in self.counters if t <= on]
        last = [c for t, c in self.counters if t <= end]
        grown = {k: v - first[-1].get(k, 0) for k, v in last[-1].items()} if first else {}
        return HAProxyWindow(
            rw_sessions_before_fault=before[-1] if before else None,
            rw_sessions_after_restore=[
                (held.after_off(t), n)
                for t, n in self.sessions
                if held.off_ns - WATCH_EVERY_S * NS <= t <= held.off_ns + SESSIONS_KEPT_S * NS
            ],
            counters_grown={k: v for k, v in grown.items() if v},
        )


@dataclass(frozen=True)
class HAProxyWindow:
    """HAProxy during a case: rw frontend sessions (s after restore, sessions) and counters
    grown from the fault to 3 s after its end (``<proxy>/<server> <column>``)."""

    rw_sessions_before_fault: int | None
    rw_sessions_after_restore: list[tuple[float, int]]
    counters_grown: dict[str, int]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_NUMBER = re.compile(r"(?<![a-z]-)\d+(?:\.\d+)?")
_TRACEBACK = ("Traceback", "During handling", "The above exception", "---", "Exception occurred")


class LogTail:
    """New lines of every component log, noted when seen (tracebacks' inner lines left out)."""

    def __init__(self, watch: Watch, logs_dir: Path) -> None:
        self._watch, self._dir = watch, logs_dir
        self._offsets = {p: p.stat().st_size for p in logs_dir.glob("*.log")}
        self._partial: dict[Path, bytes] = {}

    def __call__(self) -> None:
        for path in sorted(self._dir.glob("*.log")):
            with path.open("rb") as fh:
                fh.seek(self._offsets.get(path, 0))
                data = self._partial.pop(path, b"") + fh.read()
                self._offsets[path] = fh.tell()
            t = time.monotonic_ns()
            *lines, rest = data.split(b"\n")
            if rest:
                self._partial[path] = rest
            for raw in lines:
                line = _ANSI.sub("", raw.decode("utf-8", "replace")).rstrip()
                if line and not line[0].isspace() and not line.startswith(_TRACEBACK):
                    self._watch.note(t, f"log {path.stem}", line)


@dataclass
class LogGroup:
    """Lines of one log alike but for their numbers: the first one, how many, when seen."""

    line: str
    count: int
    first_after_restore_s: float
    last_after_restore_s: float


def log_groups(seen: Sequence[Seen], held: Held, keep: int) -> dict[str, list[LogGroup]]:
    """Per log (source ``log <name>``), its lines during the case grouped, first seen first."""
    groups: dict[str, dict[str, LogGroup]] = {}
    for s in seen:
        if not s.source.startswith("log "):
            continue
        at = held.after_off(s.t_ns)
        found = groups.setdefault(s.source.removeprefix("log "), {})
        group = found.setdefault(_NUMBER.sub("#", s.text), LogGroup(s.text, 0, at, at))
        group.count += 1
        group.last_after_restore_s = at
    return {log: list(found.values())[:keep] for log, found in sorted(groups.items())}


def app_errors(seen: Sequence[Seen], held: Held) -> list[LogGroup]:
    """The error envelopes the app instances logged during the case (all instances together)."""
    marker = " WARNING odoo_double.http: "
    errors = [
        Seen(s.t_ns, "log apps", s.text.split(marker, 1)[1])
        for s in seen
        if s.source.startswith("log app-") and marker in s.text
    ]
    return log_groups(errors, held, APP_ERRORS_KEPT).get("apps", [])


# -- the harness's measure, and one case's result ---------------------------------------------
@dataclass(frozen=True)
class FlowResult:
    """One critical flow during one case: the probes' outage against the oracle and L."""

    flow: str
    measured_outage_s: float
    oracle_stall_s: float
    minus_oracle_s: float
    within_one_interval_of_oracle: bool
    within_one_interval_of_length: bool
    outage_starts_after_fault_s: list[float]
    outage_ends_after_restore_s: list[float]
    failures: list[str]


def flow_result(
    samples: FlowSamples, held: Held, oracle: OracleStall, until_ns: int, interval_s: float
) -> FlowResult:
    on, end = held.window(AFTER_S)
    found = [o for o in outages(samples, until_ns) if o.start_ns < end and o.end_ns > on]
    measured = sum(o.duration_ns for o in found) / NS
    details = sorted(
        {samples.details[i] for o in found for i in range(o.first_index, o.stop_index)}
    )
    bound = interval_s + SLACK_S
    return FlowResult(
        flow=samples.flow,
        measured_outage_s=round(measured, 3),
        oracle_stall_s=oracle.stall_s,
        minus_oracle_s=round(measured - oracle.stall_s, 3),
        within_one_interval_of_oracle=abs(measured - oracle.stall_s) <= bound,
        within_one_interval_of_length=abs(measured - held.case.length_s) <= bound,
        outage_starts_after_fault_s=[held.after_on(o.start_ns) for o in found],
        outage_ends_after_restore_s=[held.after_off(o.end_ns) for o in found],
        failures=details,
    )


@dataclass(frozen=True)
class StateChange:
    after_restore_s: float
    source: str
    state: str


@dataclass(frozen=True)
class Evidence:
    """What the route's components showed from 0.5 s before the fault to 3 s after its end."""

    states: list[StateChange]
    haproxy: HAProxyWindow
    app_errors: list[LogGroup]


@dataclass(frozen=True)
class CaseResult:
    kind: str
    target: str
    length_s: float
    actual_s: float
    pids: list[int]
    load_average_1m: float
    oracle: OracleStall
    flows: list[FlowResult]
    evidence: Evidence


@dataclass(frozen=True)
class Observations:
    """Everything measured during the run, from which each case's result is cut."""

    critical: Sequence[FlowSamples]
    exchanges: Sequence[Exchange]
    watch: Watch
    haproxy: HAProxyStats
    interval_s: float


def case_result(held: Held, load_1m: float, seen_all: Observations) -> CaseResult:
    stall = oracle_stall(seen_all.exchanges, held)
    seen = seen_all.watch.during(held)
    until = time.monotonic_ns()
    return CaseResult(
        kind=held.case.kind,
        target=held.case.target,
        length_s=held.case.length_s,
        actual_s=round((held.off_ns - held.on_ns) / NS, 3),
        pids=list(held.pids),
        load_average_1m=round(load_1m, 2),
        oracle=stall,
        flows=[flow_result(f, held, stall, until, seen_all.interval_s) for f in seen_all.critical],
        evidence=Evidence(
            states=[
                StateChange(held.after_off(s.t_ns), s.source, s.text)
                for s in seen
                if not s.source.startswith("log ")
            ],
            haproxy=seen_all.haproxy.during(held),
            app_errors=app_errors(seen, held),
        ),
    )


# -- the run ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    code: str
    probe_interval_s: float
    oracle: dict[str, float]
    cpus: int | None
    cases: list[CaseResult]
    ledger: dict[str, int]
    load_requests: int


def code_revision() -> str:
    """The commit measured, and whether harness/ or fixtures/ differed from it."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "harness", "fixtures"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"unknown: {REPO} is not a git checkout"
    return f"{rev} with uncommitted changes to harness/ or fixtures/" if dirty else rev


def load_profiles(root: Path, seconds: float) -> Path:
    """The bench's load profile with its last stage held for ``seconds`` (the whole bench)."""
    data = yaml.safe_load(PROFILES.read_text())
    stage = data["profiles"][PROFILE]["stages"][-1]
    stage["duration_s"] = max(float(stage["duration_s"]), seconds)
    path = root / PROFILES.name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(stack: LocalPlatform, root: Path, levels: ServiceLevels, logs_out: Path) -> Summary:
    """Seed, start load, probes, oracle and watch, hold every case, then measure."""
    cases = bench_cases()
    interval_s = levels.settings.probe_interval_ms / 1000
    ep = stack.endpoints()
    login = ep.app_login
    endpoint = OdooEndpoint(ep.ingress_url, login.db, login.login, login.password)
    with OdooClient(ep.ingress_url, login.db, login.login, login.password, 120) as client:
        client.login()
        catalog = seed_warehouse(client, products=200, seed=7)
    catalog_file = root / "catalog.json"
    write_catalog(catalog, catalog_file)
    ledger = WriteLedger()
    probes = ProbeSet(endpoint, catalog, ledger, probe_settings(levels))
    bench_s = SETTLE_S + sum(c.length_s + SETTLE_S for c in cases) + 60
    load = LoadRun(
        LoadSettings(
            host=ep.ingress_url,
            catalog=catalog_file,
            out_dir=root / "load",
            profile=PROFILE,
            profiles_file=load_profiles(root, bench_s),
            db=login.db,
            login=login.login,
            password=login.password,
            processes=1,
        )
    )
    app_of = {
        f"http://127.0.0.1:{stack.plan.proxy_ports[f'ingress-{a}']}": a
        for a in stack.topology.app_instances
    }
    haproxy = HAProxyStats(stack.haproxy.stats_url)
    held: list[Held] = []
    loads: list[float] = []
    with contextlib.ExitStack() as running:
        running.enter_context(load)
        running.enter_context(probes)
        oracle = running.enter_context(Oracle(endpoint))
        watch = running.enter_context(Watch())
        watch.every("traefik", StatePoller(watch, "traefik", traefik_states(ep, app_of)))
        watch.every("haproxy", StatePoller(watch, "haproxy", haproxy.read))
        watch.every("logs", LogTail(watch, stack.plan.run_dir / "logs"))
        time.sleep(SETTLE_S)
        for case in cases:
            loads.append(os.getloadavg()[0])
            print(f"{case.label} for {case.length_s:g} s", flush=True)
            held.append(FAULTS[case.kind](stack, case))
            time.sleep(SETTLE_S)
    samples = probes.samples()
    exchanges = oracle.exchanges()
    observed = Observations(
        [samples[t.flow.value] for t in levels.critical_flows()],
        exchanges,
        watch,
        haproxy,
        interval_s,
    )
    results = [case_result(h, load_1m, observed) for h, load_1m in zip(held, loads, strict=True)]
    keep_logs(stack, logs_out, held, watch)
    with OdooClient(ep.ingress_url, login.db, login.login, login.password, 120) as client:
        client.login()
        back = read_back(ledger, AppKeyReader(client), DbReadBack(ep.db.conninfo()))
    report = reconcile(ledger.records(), back.read_back, held[0].on_ns)
    return Summary(
        code=code_revision(),
        probe_interval_s=interval_s,
        oracle={
            "every_s": ORACLE_EVERY_S,
            "timeout_s": ORACLE_TIMEOUT_S,
            "margin_s": ORACLE_MARGIN_S,
            "exchanges": len(exchanges),
        },
        cpus=os.cpu_count(),
        cases=results,
        ledger={"written": report.written, "acked": report.acked, "lost": len(report.lost)},
        load_requests=load.record_count,
    )


def keep_logs(stack: LocalPlatform, logs_out: Path, held: Sequence[Held], watch: Watch) -> None:
    """The component logs, and every log line seen per case grouped, beside the result."""
    target = logs_out / stack.plan.run_id
    shutil.copytree(stack.plan.run_dir / "logs", target)
    seen = [
        {
            "case": f"{h.case.label} {h.case.length_s:g} s",
            "logs": {
                log: [asdict(g) for g in groups]
                for log, groups in log_groups(watch.during(h), h, LOG_GROUPS_KEPT).items()
            },
        }
        for h in held
    ]
    (target / "seen-per-case.json").write_text(json.dumps(seen, indent=2) + "\n")
    print(f"component logs kept in {target}")


def _offsets(values: Sequence[float]) -> str:
    return ",".join(f"{v:+.2f}" for v in values) or "-"


def print_table(summary: Summary) -> None:
    print(
        f"{'case':<15} {'L':>4} {'oracle':>6} {'starts':>6} {'ends':>6}  {'flow':<17}"
        f"{'harness':>7} {'starts':>12} {'ends':>12} {'-oracle':>7}  vs oracle"
    )
    for case in summary.cases:
        o = case.oracle
        head = (
            f"{case.kind + ' ' + case.target:<15} {case.length_s:>4.1f} {o.stall_s:>6.2f} "
            f"{_offsets(o.starts_after_fault_s):>6} {_offsets(o.ends_after_restore_s):>6}"
        )
        for f in case.flows:
            verdict = "within" if f.within_one_interval_of_oracle else "OUTSIDE"
            print(
                f"{head:<42}  {f.flow:<17}{f.measured_outage_s:>7.2f} "
                f"{_offsets(f.outage_starts_after_fault_s):>12} "
                f"{_offsets(f.outage_ends_after_restore_s):>12} {f.minus_oracle_s:>+7.2f}  "
                f"{verdict}"
            )
            head = ""
    ledger = summary.ledger
    print(
        f"ledger: {ledger['written']:,} probe writes, {ledger['acked']:,} acknowledged, "
        f"{ledger['lost']} lost; load: {summary.load_requests:,} requests"
    )


def _terminate(signum: int, _frame: FrameType | None) -> None:
    # Unwinds like Ctrl-C, so the finally blocks resume what is stopped and tear down.
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/accuracy.json"))
    parser.add_argument("--logs", type=Path, default=Path("bench/results/accuracy-logs"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    root = Path(tempfile.mkdtemp(prefix="odoo-res-accuracy-", dir="/var/tmp"))
    stack = LocalPlatform.create(root, TOPOLOGY, "acc-" + secrets.token_hex(3))
    try:
        stack.up()
        summary = run(stack, root, levels, args.logs)
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(summary), indent=2) + "\n")
    print_table(summary)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
