"""The warehouse locustfile run by ``LoadRun`` against the Odoo double, end to end.

The double runs on a throwaway PostgreSQL and Redis (tests/support/standalone.py); Locust
runs as a subprocess exactly as scenarios run it. Profiles written here keep every run to a
few users for a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.core.ledger import WriteOrigin, WriteOutcome
from harness.core.samples import Outcome
from harness.load.catalog import write_catalog
from harness.load.runner import LOCUSTFILE, LoadError, LoadRun, LoadSettings
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from tests.support.standalone import free_port, odoo_double, standalone_postgres, standalone_redis

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOWS = ("login", "warehouse_scan", "picking_validate", "receiving", "order_import", "reporting")
SMOKE_S = 8

SMOKE_PROFILE = f"""
version: 1
profiles:
  smoke:
    request_timeout_s: 5
    users:
      picker: {{weight: 2, think_min_s: 0.1, think_max_s: 0.3, scan_weight: 1, pick_weight: 1}}
      receiver: {{weight: 1, think_min_s: 0.2, think_max_s: 0.5}}
      order_importer:
        weight: 1
        think_min_s: 0.05
        think_max_s: 0.1
        orders_per_batch: 2
        lines_per_order: 2
        batch_pause_s: 0.5
      reporter: {{weight: 1, think_min_s: 0.5, think_max_s: 1}}
    stages:
      - {{duration_s: {SMOKE_S}, users: 5, spawn_rate: 5}}
"""


@dataclass(frozen=True)
class Warehouse:
    base_url: str
    catalog: Path
    profiles: Path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    root = tmp_path_factory.mktemp("load")
    profiles = root / "load-profiles.yaml"
    profiles.write_text(SMOKE_PROFILE)
    with standalone_postgres() as pg, standalone_redis() as redis:
        dsn = pg.create_database("odoo")
        with odoo_double(dsn, redis=redis.address) as double:
            with OdooClient(double.url, "odoo", "admin", "admin", 30.0) as client:
                client.login()
                catalog = seed_warehouse(client, products=40, bins=6, customers=5, vendors=3)
            yield Warehouse(double.url, write_catalog(catalog, root / "catalog.json"), profiles)


def _settings(
    warehouse: Warehouse,
    out_dir: Path,
    *,
    host: str | None = None,
    profile: str = "smoke",
    processes: int | None = None,
) -> LoadSettings:
    return LoadSettings(
        host=host or warehouse.base_url,
        catalog=warehouse.catalog,
        out_dir=out_dir,
        profile=profile,
        profiles_file=warehouse.profiles,
        processes=processes,
    )


def _descendants(pid: int) -> list[int]:
    """Processes whose parent chain reaches ``pid`` (read from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def test_smoke_run_records_every_flow_and_its_writes(warehouse: Warehouse, tmp_path: Path) -> None:
    t_before = time.monotonic_ns()
    with LoadRun(_settings(warehouse, tmp_path, processes=2)) as run:
        code = run.wait(timeout_s=SMOKE_S + 30)
    t_after = time.monotonic_ns()

    assert code in (0, 1)
    assert set(FLOWS) <= set(run.flows()), run.flows()
    for flow in FLOWS:
        samples = run.series(flow).freeze()
        assert len(samples) > 0, flow
        ok = sum(1 for outcome in samples.outcomes if outcome == Outcome.OK)
        assert ok == len(samples), (flow, [samples.details[i] for i in range(len(samples))][:5])
        spans = zip(samples.starts, samples.ends, strict=True)
        assert all(t_before <= s <= e <= t_after for s, e in spans)
        assert list(samples.starts) == sorted(samples.starts)
    # Two worker processes wrote a file each; every record was read from one of them.
    worker_files = sorted(tmp_path.glob("records.jsonl.*"))
    assert len(worker_files) == 2
    lines = sum(len(path.read_bytes().splitlines()) for path in worker_files)
    assert lines == run.record_count
    assert (tmp_path / "locust_stats.csv").exists()
    # Locust's own report, for the bundle.
    assert "<html" in (tmp_path / "locust.html").read_text()[:2000].lower()
    names = {p.name for p in run.report_files()}
    assert {"locust.html", "locust_stats.csv", "locust_failures.csv", "locust.log"} <= names
    assert all(w.origin is WriteOrigin.LOAD for w in run.writes())

    writes = run.writes()
    flows_written = {w.flow for w in writes}
    assert flows_written == {"receiving", "order_import"}
    assert all(w.outcome is WriteOutcome.OK for w in writes)
    keys = [w.key for w in writes]
    assert len(set(keys)) == len(keys)
    with OdooClient(warehouse.base_url, "odoo", "admin", "admin", 30.0) as client:
        client.login()
        orders = [w.key for w in writes if w.flow == "order_import"]
        receipts = [w.key for w in writes if w.flow == "receiving"]
        found_orders = client.execute_kw(
            "sale.order",
            "search_read",
            [[["client_order_ref", "in", orders]], ["client_order_ref"]],
        )
        found_receipts = client.execute_kw(
            "stock.picking", "search_read", [[["origin", "in", receipts]], ["origin"]]
        )
    assert isinstance(found_orders, list)
    assert isinstance(found_receipts, list)
    assert sorted(row["client_order_ref"] for row in found_orders) == sorted(orders)
    assert sorted(row["origin"] for row in found_receipts) == sorted(receipts)


def test_stop_ends_locust_and_leaves_no_process(warehouse: Warehouse, tmp_path: Path) -> None:
    run = LoadRun(_settings(warehouse, tmp_path, processes=2))
    run.start()
    pid = run.pid
    assert pid is not None
    children = _descendants(pid)
    assert len(children) == 2, children
    deadline = time.monotonic() + 20
    while run.record_count == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run.record_count > 0, "the tailer should see records while Locust runs"
    t_stop = time.monotonic()
    code = run.stop()
    assert time.monotonic() - t_stop < run.settings.stop_timeout_s
    # Stopped as a user stops it (Ctrl-C): Locust ends cleanly and writes its own report.
    assert code in (0, 1)
    assert (tmp_path / "locust.html").exists()
    assert (tmp_path / "locust.json").exists()
    for gone in (pid, *children):
        assert not Path(f"/proc/{gone}").exists(), f"process {gone} outlived stop()"


OWNER = """
import sys, time
from pathlib import Path
from harness.load.runner import LoadRun, LoadSettings

run = LoadRun(LoadSettings(host=sys.argv[1], catalog=Path(sys.argv[2]), out_dir=Path(sys.argv[3]),
                           profiles_file=Path(sys.argv[4]), processes=None))
run.start()
print(run.pid, flush=True)
time.sleep(600)
"""


def test_a_load_whose_owner_is_killed_quits_by_itself(warehouse: Warehouse, tmp_path: Path) -> None:
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            OWNER,
            warehouse.base_url,
            str(warehouse.catalog),
            str(tmp_path),
            str(warehouse.profiles),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        locust = int(owner.stdout.readline())
        assert Path(f"/proc/{locust}").exists()
    finally:
        owner.kill()  # SIGKILL: the owner gets no chance to stop its load
        owner.wait()
        if owner.stdout is not None:
            owner.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(locust) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(locust), "Locust outlived the process that started it"


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's zombie waits for PID 1 or a subreaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_bad_host_makes_every_request_an_error_sample(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with LoadRun(_settings(warehouse, tmp_path, host=dead)) as run:
        code = run.wait(timeout_s=SMOKE_S + 30)
    assert code == 1
    assert run.flows() == ("login",)
    samples = run.series("login").freeze()
    assert len(samples) > 5
    assert set(samples.outcomes) == {Outcome.ERROR}
    assert all("ConnectionRefusedError" in d for d in samples.details)
    assert run.writes() == []


def test_a_bad_option_fails_start_with_locusts_words(warehouse: Warehouse, tmp_path: Path) -> None:
    run = LoadRun(_settings(warehouse, tmp_path, profile="no-such-profile"))
    with pytest.raises(LoadError) as caught:
        run.start()
    message = str(caught.value)
    assert "exited with" in message
    assert "no profile 'no-such-profile'" in message


def test_the_locustfile_loads_on_its_own() -> None:
    """``--help`` works, and ``--list`` imports the file from outside the repository.

    Locust prints ``--help`` before it imports a locustfile, so the custom options are
    documented in the file's docstring instead.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("LOAD_")}
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    helped = subprocess.run(
        [*base, "--help"], capture_output=True, text=True, timeout=60, check=False, env=env, cwd="/"
    )
    assert helped.returncode == 0, helped.stderr
    assert "--headless" in helped.stdout
    listed = subprocess.run(
        [*base, "--list"], capture_output=True, text=True, timeout=60, check=False, env=env, cwd="/"
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[2:] == ["Picker", "Receiver", "OrderImporter", "Reporter"]
    docstring = LOCUSTFILE.read_text().split('"""')[1]
    for option in ("--catalog", "--profile", "--records", "--odoo-db", "ODOO_LOAD_PASSWORD"):
        assert option in docstring
