"""Load-path efficiency: requests per CPU-second of Locust, ours against plain Locust.

Starts a throwaway PostgreSQL, Redis and one Odoo double (tests/support/standalone.py),
seeds a small warehouse, then runs headless Locust against it four times, in the order
harness, plain, plain, harness, each with the same users, think time 0 and duration:

- ``harness``: ``harness.load.runner.LoadRun`` running load/warehouse.py with a picker that
  only scans barcodes (product lookup + per-bin quants), record streaming on, tailed live;
- ``plain``: a minimal locustfile generated in a temp dir, a ``FastHttpUser`` posting the
  same two ``/jsonrpc`` bodies, no classification, no records.

The double saturates first on this host, so raw requests/s say little about the load
path; what it costs is Locust's CPU. Each run's CPU time is taken from
``getrusage(RUSAGE_CHILDREN)`` around it (Locust is the only child reaped meanwhile),
plus, for ours, this process's own CPU (the record tailer runs here), giving requests
per CPU-second ("per core"); the ratio harness/plain is the efficiency
(target >= 0.9). Prints the result and writes ``bench/results/load_efficiency.json``.

Run from the repository root: ``.venv/bin/python -m bench.load_efficiency [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.load.catalog import read_catalog, write_catalog
from harness.load.runner import LoadRun, LoadSettings
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from tests.support.standalone import odoo_double, standalone_postgres, standalone_redis

RESULTS = Path(__file__).resolve().parent / "results" / "load_efficiency.json"
TARGET_RATIO = 0.9

PLAIN_LOCUSTFILE = """
import json, random
from locust import FastHttpUser, constant, task

BARCODES = {barcodes!r}
WAREHOUSE_ID = {warehouse_id}
LOT_STOCK_ID = {lot_stock_id}


class PlainScanner(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        self.ids = 0
        self.uid = self.rpc("common", "login", ["odoo", "admin", "admin"])

    def rpc(self, service, method, args):
        self.ids += 1
        body = {{"jsonrpc": "2.0", "method": "call", "id": self.ids,
                "params": {{"service": service, "method": method, "args": args}}}}
        response = self.client.post("/jsonrpc", data=json.dumps(body),
                                    headers={{"Content-Type": "application/json"}})
        return response.json().get("result")

    def execute(self, model, method, args, kwargs):
        return self.rpc("object", "execute_kw",
                        ["odoo", self.uid, "admin", model, method, args, kwargs])

    @task
    def scan(self):
        rows = self.execute(
            "product.product", "search_read",
            [[["barcode", "=", random.choice(BARCODES)]],
             ["id", "display_name", "uom_id", "qty_available", "free_qty", "virtual_available"]],
            {{"limit": 1, "context": {{"warehouse_id": WAREHOUSE_ID}}}})
        if rows:
            self.execute(
                "stock.quant", "search_read",
                [[["product_id", "=", rows[0]["id"]], ["location_id", "child_of", LOT_STOCK_ID]],
                 ["location_id", "lot_id", "quantity", "reserved_quantity"]], {{}})
"""

SCAN_PROFILE = """
version: 1
profiles:
  bench:
    request_timeout_s: 10
    users:
      picker: {{weight: 1, think_min_s: 0, think_max_s: 0, scan_weight: 1, pick_weight: 0}}
    stages:
      - {{duration_s: {seconds}, users: {users}, spawn_rate: {users}}}
"""


@dataclass(frozen=True)
class PathRate:
    requests: int
    failures: int
    seconds: float
    cpu_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def rps_per_cpu_s(self) -> float:
        return self.requests / self.cpu_s


@dataclass(frozen=True)
class Result:
    users: int
    seconds_per_run: float
    runs_per_path: int
    harness_rps: float
    plain_rps: float
    harness_requests_per_cpu_s: float
    plain_requests_per_cpu_s: float
    harness_cpu_s: float
    plain_cpu_s: float
    harness_failures: int
    plain_failures: int
    harness_records: int
    efficiency_ratio: float
    raw_rps_ratio: float
    target_ratio: float
    cpus: int


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _aggregated(stats_csv: Path) -> tuple[int, int]:
    with stats_csv.open() as stream:
        for row in csv.DictReader(stream):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"]), int(row["Failure Count"])
    raise SystemExit(f"expected an Aggregated row in {stats_csv}, saw none; see its log")


def run_harness(
    url: str, catalog: Path, work: Path, users: int, seconds: int
) -> tuple[PathRate, int]:
    profiles = work / "bench-profiles.yaml"
    profiles.write_text(SCAN_PROFILE.format(seconds=seconds, users=users))
    settings = LoadSettings(
        host=url,
        catalog=catalog,
        out_dir=work / "harness",
        profile="bench",
        profiles_file=profiles,
        processes=None,
    )
    # Our own CPU counts too: the record tailer runs in this process.
    cpu_before = _children_cpu_s() + _own_cpu_s()
    with LoadRun(settings) as run:
        run.wait(timeout_s=seconds + 60)
    cpu = _children_cpu_s() + _own_cpu_s() - cpu_before
    requests, failures = _aggregated(work / "harness" / "locust_stats.csv")
    return PathRate(requests, failures, float(seconds), cpu), run.record_count


def run_plain(url: str, catalog: Path, work: Path, users: int, seconds: int) -> PathRate:
    loaded = read_catalog(catalog)
    locustfile = work / "plain_locustfile.py"
    locustfile.write_text(
        textwrap.dedent(
            PLAIN_LOCUSTFILE.format(
                barcodes=[p.barcode for p in loaded.products],
                warehouse_id=loaded.warehouse_id,
                lot_stock_id=loaded.lot_stock_id,
            )
        )
    )
    prefix = work / "plain"
    cpu_before = _children_cpu_s()
    with (work / "plain.log").open("wb") as log:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(locustfile),
                "--headless",
                "--host",
                url,
                "-u",
                str(users),
                "-r",
                str(users),
                "-t",
                f"{seconds}s",
                "--csv",
                str(prefix),
                "--only-summary",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=seconds + 60,
            check=False,
        )
    cpu = _children_cpu_s() - cpu_before
    requests, failures = _aggregated(Path(f"{prefix}_stats.csv"))
    return PathRate(requests, failures, float(seconds), cpu)


def _total(runs: list[PathRate]) -> PathRate:
    return PathRate(
        requests=sum(r.requests for r in runs),
        failures=sum(r.failures for r in runs),
        seconds=sum(r.seconds for r in runs),
        cpu_s=sum(r.cpu_s for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run; 4 runs")
    parser.add_argument("--users", type=int, default=8)
    args = parser.parse_args()
    users, seconds = args.users, args.seconds
    with (
        tempfile.TemporaryDirectory(prefix="load-efficiency-") as tmp,
        standalone_postgres() as pg,
        standalone_redis() as redis,
    ):
        work = Path(tmp)
        dsn = pg.create_database("odoo")
        with odoo_double(dsn, redis=redis.address) as double:
            with OdooClient(double.url, "odoo", "admin", "admin", 30.0) as client:
                client.login()
                seeded = seed_warehouse(client, products=50, bins=6, customers=3, vendors=2)
            catalog = write_catalog(seeded, work / "catalog.json")
            # ABBA order: the double slows down as its tables grow (and this host is
            # shared), so whichever path runs later would be handicapped.
            harness_runs: list[PathRate] = []
            plain_runs: list[PathRate] = []
            records = 0
            for order in (("harness", "plain"), ("plain", "harness")):
                for path in order:
                    sub = work / f"{path}-{len(harness_runs) + len(plain_runs)}"
                    sub.mkdir()
                    if path == "harness":
                        rate, count = run_harness(
                            double.url, catalog, sub, args.users, args.seconds
                        )
                        harness_runs.append(rate)
                        records += count
                    else:
                        plain_runs.append(
                            run_plain(double.url, catalog, sub, args.users, args.seconds)
                        )
    harness, plain = _total(harness_runs), _total(plain_runs)
    result = Result(
        users=users,
        seconds_per_run=float(seconds),
        runs_per_path=len(harness_runs),
        harness_rps=round(harness.rps, 1),
        plain_rps=round(plain.rps, 1),
        harness_requests_per_cpu_s=round(harness.rps_per_cpu_s, 1),
        plain_requests_per_cpu_s=round(plain.rps_per_cpu_s, 1),
        harness_cpu_s=round(harness.cpu_s, 2),
        plain_cpu_s=round(plain.cpu_s, 2),
        harness_failures=harness.failures,
        plain_failures=plain.failures,
        harness_records=records,
        efficiency_ratio=round(harness.rps_per_cpu_s / plain.rps_per_cpu_s, 3),
        raw_rps_ratio=round(harness.rps / plain.rps, 3),
        target_ratio=TARGET_RATIO,
        cpus=os.cpu_count() or 0,
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(asdict(result), indent=2) + "\n")
    print(json.dumps(asdict(result), indent=2))
    verdict = "meets" if result.efficiency_ratio >= TARGET_RATIO else "misses"
    print(f"load path {verdict} the {TARGET_RATIO} efficiency target; written to {RESULTS}")


if __name__ == "__main__":
    main()
