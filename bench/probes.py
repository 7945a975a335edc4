"""Benchmark of the probes' schedule: how late probes start against their slots under load.

Starts a throwaway PostgreSQL, Redis and one seeded Odoo double, runs the five business
flow probes (200 ms cadence, the service levels' timeouts) first on an idle double, then
while a subprocess hammers the double with barcode scans from several closed-loop threads
(no Locust import: the load is a plain ``python -c`` with httpx, as the harness runs load
out of process). Lateness is a probe's start minus its slot on ``time.monotonic_ns()``;
the target is a p99 of at most 20 ms. Prints the result and writes
``bench/results/probes.json``.

Run from the repository root: ``.venv/bin/python -m bench.probes``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.ledger import WriteLedger
from harness.levels import DEFAULT_SERVICE_LEVELS, load_service_levels
from harness.probes import ProbeSet, ProbeStats, probe_settings
from tests.support.seeded import SeededDouble, seeded_double

RESULTS = Path(__file__).resolve().parent / "results" / "probes.json"
TARGET_P99_MS = 20.0

LOAD = """
import sys, threading, httpx
url, barcodes, threads = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
def rpc(http, service, method, args):
    body = {"jsonrpc": "2.0", "method": "call", "id": 1,
            "params": {"service": service, "method": method, "args": args}}
    return http.post("/jsonrpc", json=body).json().get("result")
counts = [0] * threads
def hammer(i):
    with httpx.Client(base_url=url, timeout=30) as http:
        uid = rpc(http, "common", "login", ["odoo", "admin", "admin"])
        n = 0
        while True:
            code = barcodes[n % len(barcodes)]
            rpc(http, "object", "execute_kw", ["odoo", uid, "admin", "product.product",
                "search_read", [[["barcode", "=", code]], ["id", "qty_available"]], {"limit": 1}])
            n += 1
            counts[i] = n
for i in range(threads):
    threading.Thread(target=hammer, args=(i,), daemon=True).start()
sys.stdin.read()
print(sum(counts), flush=True)
"""


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
class Result:
    cores: int
    target_p99_ms: float
    idle: Phase
    loaded: Phase
    met: bool


def _measure(double: SeededDouble, name: str, seconds: float, load_threads: int) -> Phase:
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    load = None
    if load_threads:
        barcodes = ",".join(p.barcode for p in double.seeded().products[:50])
        load = subprocess.Popen(
            [sys.executable, "-c", LOAD, double.url, barcodes, str(load_threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # let the load reach its rate before the probes start
    probes = ProbeSet(double.endpoint, double.seeded(), WriteLedger(), probe_settings(levels))
    try:
        with probes:
            time.sleep(seconds)
    finally:
        requests = 0
        if load is not None:
            out, _ = load.communicate("", timeout=30)
            requests = int(out.strip() or 0)
    stats = probes.stats()
    merged = ProbeStats("all", 0, 0, tuple(ns for s in stats for ns in s.lateness_ns))
    samples = probes.samples().values()
    return Phase(
        name=name,
        seconds=seconds,
        load_threads=load_threads,
        load_requests=requests,
        probes=len(merged.lateness_ns),
        samples_ok=sum(sum(1 for o in s.outcomes if o == 0) for s in samples),
        samples_total=sum(len(s) for s in samples),
        skipped_slots=sum(s.skipped for s in stats),
        lateness_p50_ms=round(merged.lateness_pct_ms(50), 3),
        lateness_p99_ms=round(merged.lateness_pct_ms(99), 3),
        lateness_max_ms=round(merged.lateness_pct_ms(100), 3),
        per_flow_p99_ms={s.flow: round(s.lateness_pct_ms(99), 3) for s in stats},
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--load-threads", type=int, default=6)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-probes-") as tmp,
        seeded_double(Path(tmp), products=200) as double,
    ):
        idle = _measure(double, "idle", args.seconds / 2, 0)
        loaded = _measure(double, "loaded", args.seconds, args.load_threads)
    result = Result(
        cores=os.cpu_count() or 0,
        target_p99_ms=TARGET_P99_MS,
        idle=idle,
        loaded=loaded,
        met=loaded.lateness_p99_ms <= TARGET_P99_MS,
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
