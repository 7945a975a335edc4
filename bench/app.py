"""Benchmark of one Odoo double instance: barcode-scan throughput and p95 at half of it.

Starts a throwaway PostgreSQL, Redis and one double (tests/support/standalone.py),
seeds products, then drives ``product.product.search_read`` by barcode through
``/jsonrpc`` ``execute_kw`` from threads with their own keep-alive httpx clients:
first closed-loop for the maximum rate, then open-loop at half that rate for the
latency. Prints the result and writes ``bench/results/app.json``.

Run from the repository root: ``.venv/bin/python -m bench.app``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from tests.support.standalone import (
    JsonRpc,
    odoo_double,
    standalone_postgres,
    standalone_redis,
)

RESULTS = Path(__file__).resolve().parent / "results" / "app.json"
PRODUCTS = 50


@dataclass(frozen=True)
class Result:
    server: str
    max_rps: float
    max_rps_threads: int
    max_rps_errors: int
    paced_rps_target: float
    paced_rps_achieved: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    paced_errors: int
    duration_s: float
    cpus: int
    target_rps: float = 300.0
    target_p95_ms: float = 20.0


def _scan_body(uid: int, n: int) -> bytes:
    return json.dumps(
        {
            "jsonrpc": "2.0",
            "method": "call",
            "id": n,
            "params": {
                "service": "object",
                "method": "execute_kw",
                "args": [
                    "odoo",
                    uid,
                    "admin",
                    "product.product",
                    "search_read",
                    [
                        [["barcode", "=", f"590{n % PRODUCTS:05d}"]],
                        [
                            "id",
                            "display_name",
                            "uom_id",
                            "qty_available",
                            "free_qty",
                            "virtual_available",
                        ],
                    ],
                    {"limit": 1, "context": {"warehouse_id": 1}},
                ],
            },
        }
    ).encode()


def _scan(http: httpx.Client, uid: int, n: int) -> bool:
    response = http.post(
        "/jsonrpc", content=_scan_body(uid, n), headers={"Content-Type": "application/json"}
    )
    return response.status_code == 200 and b'"result"' in response.content


def closed_loop(url: str, uid: int, threads: int, seconds: float) -> tuple[float, int]:
    counts = [0] * threads
    errors = [0] * threads
    stop = time.monotonic() + seconds

    def run(slot: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            n = slot
            while time.monotonic() < stop:
                if _scan(http, uid, n):
                    counts[slot] += 1
                else:
                    errors[slot] += 1
                n += threads

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    start = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.monotonic() - start), sum(errors)


def paced(
    url: str, uid: int, rate: float, seconds: float, threads: int
) -> tuple[list[float], int, float]:
    """Open loop: each thread fires on its own fixed schedule; latency per request."""
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads
    interval = threads / rate
    begin = time.monotonic() + 0.2

    def run(slot: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            due = begin + slot * interval / threads
            n = slot
            while due < begin + seconds:
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                t0 = time.monotonic()
                ok = _scan(http, uid, n)
                latencies[slot].append((time.monotonic() - t0) * 1000)
                if not ok:
                    errors[slot] += 1
                due += interval
                n += threads

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    flat = [x for per in latencies for x in per]
    return flat, sum(errors), len(flat) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    with (
        standalone_postgres() as pg,
        standalone_redis() as redis,
        odoo_double(pg.create_database("odoo"), redis=redis.address) as app,
    ):
        rpc = JsonRpc(app.url)
        uid = rpc.authenticate()
        rpc.ok(
            "product.product",
            "create",
            [
                [
                    {
                        "name": f"Item {i}",
                        "default_code": f"I{i:05d}",
                        "barcode": f"590{i:05d}",
                        "type": "consu",
                        "is_storable": True,
                    }
                    for i in range(PRODUCTS)
                ]
            ],
        )
        rpc.close()
        closed_loop(app.url, uid, args.threads, 2.0)  # warm-up: pool, caches
        rps, rps_errors = closed_loop(app.url, uid, args.threads, args.seconds)
        lat, lat_errors, achieved = paced(app.url, uid, rps / 2, args.seconds, args.threads)
    quantiles = statistics.quantiles(lat, n=100)
    result = Result(
        server="ThreadingHTTPServer HTTP/1.1 keep-alive",
        max_rps=round(rps, 1),
        max_rps_threads=args.threads,
        max_rps_errors=rps_errors,
        paced_rps_target=round(rps / 2, 1),
        paced_rps_achieved=round(achieved, 1),
        p50_ms=round(quantiles[49], 2),
        p95_ms=round(quantiles[94], 2),
        p99_ms=round(quantiles[98], 2),
        paced_errors=lat_errors,
        duration_s=args.seconds,
        cpus=len(os.sched_getaffinity(0)),
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(json.dumps(asdict(result), indent=2))
    return 0 if result.max_rps >= result.target_rps and result.p95_ms <= result.target_p95_ms else 1


if __name__ == "__main__":
    raise SystemExit(main())
