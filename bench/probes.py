"""Benchmark of the probes' schedule: how late probes start against their slots under load.

Runs the five business flow probes (200 ms cadence, the service levels' timeouts) against
one stack in three cases:

- ``idle``: nothing else runs;
- ``loaded``: a subprocess hammers the stack with barcode scans from several closed-loop
  threads (no Locust import: the load is a plain ``python -c`` with httpx, as the harness
  runs load out of process);
- ``background``: the scenario's background warehouse load, as a scenario runs it: the
  probes start, then ``LoadRun`` runs load/warehouse.py headless in one Locust process
  with the background profile (default ``steady-light``, fixtures/load-profiles.yaml) on a
  catalog of its own (``LOAD_PRODUCTS`` products seeded with the probes' seed plus
  ``LOAD_SEED_OFFSET``, as harness/pytest_plugin.py does), its records tailed in this
  process, and the steady state (probes and load floor) evaluated every ``TICK_S``. The
  figures cover the window after the warm-up (until the system is steady, as a
  scenario's warm-up); ``with_warm_up_p99_ms`` includes Locust's start.

The stack is a throwaway PostgreSQL, Redis and one seeded Odoo double by default, or with
``--stack local`` the whole local platform (``odoo-resilience up``'s stack, brought up
and down by the bench; the probes and the load then go through its ingress).

Lateness is a probe's start minus its slot on ``time.monotonic_ns()``; the target is a
p99 of at most 20 ms. Prints the result and writes ``bench/results/probes.json`` (with
``--stack local``: ``probes-local.json``).

Run from the repository root: ``.venv/bin/python -m bench.probes [--stack local]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.core.samples import FlowSamples, Outcome
from harness.core.steady import LoadFloor, system_steady_intervals
from harness.ledger import WriteLedger
from harness.levels import DEFAULT_SERVICE_LEVELS, ServiceLevels, load_service_levels
from harness.load.catalog import write_catalog
from harness.load.profiles import DEFAULT_LOAD_PROFILES, load_profiles
from harness.load.runner import LoadRun, LoadSettings
from harness.odoo.client import OdooClient
from harness.odoo.seed import SeedCatalog, seed_warehouse
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.topology import DEFAULT_TOPOLOGY
from harness.probes import OdooEndpoint, ProbeSet, ProbeStats, probe_settings
from harness.pytest_plugin import LOAD_PRODUCTS, LOAD_SEED_OFFSET
from harness.scenario.targets import flow_targets, steady_spec
from tests.support.seeded import seeded_double

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_P99_MS = 20.0
PROBE_PRODUCTS = 200
PROBE_SEED = 7
TICK_S = 0.5
"""How often a scenario evaluates its steady state (harness/scenario/runner.py)."""
WARM_UP_LIMIT_S = 60.0
PASSWORD_ENV = "BENCH_ODOO_PASSWORD"

LOAD = """
import os, sys, threading, httpx
url, db, login, barcodes, threads = sys.argv[1:4] + [sys.argv[4].split(","), int(sys.argv[5])]
password = os.environ["BENCH_ODOO_PASSWORD"]
def rpc(http, service, method, args):
    body = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": service, "method": method, "args": args}}
    return http.post("/jsonrpc", json=body).json().get("result")
counts = [0] * threads
def hammer(i):
    with httpx.Client(base_url=url, timeout=30) as http:
        uid = rpc(http, "common", "login", [db, login, password])
        n = 0
        while True:
            code = barcodes[n % len(barcodes)]
            rpc(http, "object", "execute_kw", [db, uid, password, "product.product",
                "search_read", [[["barcode", "=", code]], ["id", "qty_available"]], {"limit": 1}])
            n += 1
            counts[i] = n
for i in range(threads):
    threading.Thread(target=hammer, args=(i,), daemon=True).start()
sys.stdin.read()
print(sum(counts), flush=True)
"""


@dataclass(frozen=True)
class Target:
    """The stack the probes and the loads run against."""

    endpoint: OdooEndpoint
    catalog: SeedCatalog
    """The probes' seed catalog."""
    load_catalog: Path
    """The background load's own catalog (its own seed)."""


@dataclass(frozen=True)
class Phase:
    name: str
    seconds: float
    load_threads: int
    load_requests: int
    probes: int
    samples_ok: int
    samples_total: int
    skipped_slots: int
    lateness_p50_ms: float
    lateness_p99_ms: float
    lateness_max_ms: float
    per_flow_p99_ms: dict[str, float]


@dataclass(frozen=True)
class BackgroundPhase(Phase):
    """A ``Phase`` under the scenario's background load (its figures: after the warm-up)."""

    load_profile: str
    load_target_rps: float
    load_ok_rps: float
    """OK answers per second of the load over the measured window."""
    load_failures: int
    warm_up_s: float
    steady_ticks_pct: float
    """Share of the steady-state checks during the measured window that found it steady."""
    with_warm_up_p99_ms: float
    """Lateness p99 from the probes' start, Locust's start-up included."""


@dataclass(frozen=True)
class Result:
    cores: int
    target_p99_ms: float
    idle: Phase
    loaded: Phase
    met: bool
    stack: str = "double"
    background: BackgroundPhase | None = None
    background_met: bool | None = None


def _lateness(
    stats: Sequence[ProbeStats], since: Sequence[ProbeStats] = ()
) -> tuple[ProbeStats, dict[str, float]]:
    """All probes' lateness merged, and each flow's p99, counting only what came after
    ``since`` (an earlier ``stats()`` of the same probes; lateness is appended in order)."""
    skip = {s.flow: len(s.lateness_ns) for s in since}
    per_flow = {s.flow: s.lateness_ns[skip.get(s.flow, 0) :] for s in stats}
    merged = ProbeStats("all", 0, 0, tuple(ns for values in per_flow.values() for ns in values))
    p99 = {
        flow: round(ProbeStats(flow, 0, 0, values).lateness_pct_ms(99), 3)
        for flow, values in per_flow.items()
    }
    return merged, p99


def _samples_counts(
    probes: ProbeSet, since_ns: int = 0, until_ns: int | None = None
) -> tuple[int, int]:
    """OK and all samples of the probes that started in ``[since_ns, until_ns)``."""
    ok = total = 0
    for series in probes.samples().values():
        for start, outcome in zip(series.starts, series.outcomes, strict=True):
            if since_ns <= start and (until_ns is None or start < until_ns):
                total += 1
                ok += outcome == Outcome.OK.value
    return ok, total


def _measure(
    target: Target, levels: ServiceLevels, name: str, seconds: float, load_threads: int
) -> Phase:
    load = None
    if load_threads:
        barcodes = ",".join(p.barcode for p in target.catalog.products[:50])
        ep = target.endpoint
        load = subprocess.Popen(
            [sys.executable, "-c", LOAD, ep.base_url, ep.db, ep.login, barcodes, str(load_threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, PASSWORD_ENV: ep.password},
        )
        time.sleep(1.0)  # let the load reach its rate before the probes start
    probes = ProbeSet(target.endpoint, target.catalog, WriteLedger(), probe_settings(levels))
    try:
        with probes:
            time.sleep(seconds)
    finally:
        requests = 0
        if load is not None:
            out, _ = load.communicate("", timeout=30)
            requests = int(out.strip() or 0)
    stats = probes.stats()
    merged, per_flow = _lateness(stats)
    ok, total = _samples_counts(probes)
    return Phase(
        name=name,
        seconds=seconds,
        load_threads=load_threads,
        load_requests=requests,
        probes=len(merged.lateness_ns),
        samples_ok=ok,
        samples_total=total,
        skipped_slots=sum(s.skipped for s in stats),
        lateness_p50_ms=round(merged.lateness_pct_ms(50), 3),
        lateness_p99_ms=round(merged.lateness_pct_ms(99), 3),
        lateness_max_ms=round(merged.lateness_pct_ms(100), 3),
        per_flow_p99_ms=per_flow,
    )


def _ok_in(samples: FlowSamples, from_ns: int, to_ns: int) -> tuple[int, int]:
    ok = failed = 0
    for end, outcome in zip(samples.ends, samples.outcomes, strict=True):
        if from_ns < end <= to_ns:
            if outcome == Outcome.OK.value:
                ok += 1
            else:
                failed += 1
    return ok, failed


def _measure_background(
    target: Target, levels: ServiceLevels, profile_name: str, seconds: float, out_dir: Path
) -> BackgroundPhase:
    profile = load_profiles(DEFAULT_LOAD_PROFILES).get(profile_name)
    target_rps = profile.target_rps or 0.0
    targets = flow_targets(levels)
    window_ns = int(steady_spec(levels).window_s * 1e9)
    ep = target.endpoint
    run = LoadRun(
        LoadSettings(
            host=ep.base_url,
            catalog=target.load_catalog,
            out_dir=out_dir,
            profile=profile_name,
            profiles_file=DEFAULT_LOAD_PROFILES,
            db=ep.db,
            login=ep.login,
            password=ep.password,
            processes=None,
        )
    )
    probes = ProbeSet(target.endpoint, target.catalog, WriteLedger(), probe_settings(levels))

    def steady_now() -> bool:
        # What a scenario's runner computes every tick (ScenarioRunner._steady_now).
        now = time.monotonic_ns()
        floor = LoadFloor(run.all_requests().freeze(), target_rps) if target_rps else None
        steady = system_steady_intervals(probes.samples(), targets, window_ns, now, floor)
        return any(iv.start_ns <= now - 1 and iv.end_ns >= now for iv in steady)

    # The scenario's order: probes, then the load, then the warm-up until steady.
    with probes:
        started = time.monotonic()
        with run:
            warm_until = started + WARM_UP_LIMIT_S
            while not steady_now() and time.monotonic() < warm_until:
                time.sleep(TICK_S)
            warm_up_s = time.monotonic() - started
            since = probes.stats()
            t0_ns = time.monotonic_ns()
            ticks = steady_ticks = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(TICK_S)
                ticks += 1
                steady_ticks += steady_now()
            t1_ns = time.monotonic_ns()
            stats = probes.stats()
    merged, per_flow = _lateness(stats, since)
    whole, _ = _lateness(stats)
    ok, total = _samples_counts(probes, t0_ns, t1_ns)
    load_ok, load_failed = _ok_in(run.all_requests().freeze(), t0_ns, t1_ns)
    measured_s = (t1_ns - t0_ns) / 1e9
    return BackgroundPhase(
        name="background",
        seconds=round(measured_s, 1),
        load_threads=0,
        load_requests=load_ok + load_failed,
        probes=len(merged.lateness_ns),
        samples_ok=ok,
        samples_total=total,
        skipped_slots=sum(s.skipped for s in stats) - sum(s.skipped for s in since),
        lateness_p50_ms=round(merged.lateness_pct_ms(50), 3),
        lateness_p99_ms=round(merged.lateness_pct_ms(99), 3),
        lateness_max_ms=round(merged.lateness_pct_ms(100), 3),
        per_flow_p99_ms=per_flow,
        load_profile=profile_name,
        load_target_rps=target_rps,
        load_ok_rps=round(load_ok / measured_s, 1),
        load_failures=load_failed,
        warm_up_s=round(warm_up_s, 1),
        steady_ticks_pct=round(100 * steady_ticks / max(ticks, 1), 1),
        with_warm_up_p99_ms=round(whole.lateness_pct_ms(99), 3),
    )


def _load_catalog(client: OdooClient, work: Path) -> Path:
    """The background load's own catalog, seeded as the pytest plugin seeds it."""
    load = seed_warehouse(client, products=LOAD_PRODUCTS, seed=PROBE_SEED + LOAD_SEED_OFFSET)
    return write_catalog(load, work / "load-catalog.json")


@contextlib.contextmanager
def double_target(work: Path) -> Iterator[Target]:
    with seeded_double(work, products=PROBE_PRODUCTS) as double:
        with double.client() as client:
            load_catalog = _load_catalog(client, work)
        yield Target(double.endpoint, double.seeded(), load_catalog)


@contextlib.contextmanager
def local_target(work: Path) -> Iterator[Target]:
    root = Path(tempfile.mkdtemp(prefix="odoo-res-bench-probes-", dir="/var/tmp"))
    platform = LocalPlatform.create(root, DEFAULT_TOPOLOGY, "bench-" + secrets.token_hex(3))
    try:
        t0 = time.monotonic()
        platform.up()
        print(f"local stack up in {time.monotonic() - t0:.1f} s", file=sys.stderr)
        endpoints = platform.endpoints()
        login = endpoints.app_login
        endpoint = OdooEndpoint(endpoints.ingress_url, login.db, login.login, login.password)
        with OdooClient(endpoint.base_url, login.db, login.login, login.password, 120) as client:
            client.login()
            catalog = seed_warehouse(client, products=PROBE_PRODUCTS, seed=PROBE_SEED)
            load_catalog = _load_catalog(client, work)
        yield Target(endpoint, catalog, load_catalog)
    finally:
        platform.down()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--load-threads", type=int, default=6)
    parser.add_argument("--stack", choices=("double", "local"), default="double")
    parser.add_argument(
        "--background-profile",
        default="steady-light",
        help="load profile of the background case, or 'none' to skip it (default: %(default)s)",
    )
    args = parser.parse_args()
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    stack = double_target if args.stack == "double" else local_target
    background = None
    with tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp, stack(Path(tmp)) as target:
        idle = _measure(target, levels, "idle", args.seconds / 2, 0)
        loaded = _measure(target, levels, "loaded", args.seconds, args.load_threads)
        if args.background_profile != "none":
            background = _measure_background(
                target, levels, args.background_profile, args.seconds, Path(tmp) / "load"
            )
    result = Result(
        cores=os.cpu_count() or 0,
        target_p99_ms=TARGET_P99_MS,
        idle=idle,
        loaded=loaded,
        met=loaded.lateness_p99_ms <= TARGET_P99_MS,
        stack=args.stack,
        background=background,
        background_met=None if background is None else background.lateness_p99_ms <= TARGET_P99_MS,
    )
    name = "probes.json" if args.stack == "double" else f"probes-{args.stack}.json"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
