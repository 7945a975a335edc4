"""Measurement accuracy: cut every ingress→app link for exactly L seconds under load.

For L = 2, 5 and 10 s the outage the probes measure on each critical flow must be
within one probe interval of L, and the write ledger must report no lost write.
Traefik re-admits instances on its health check, which adds up to one check
interval to what users see; the bench runs with a 100 ms interval
(``bench/accuracy-topology.yaml``) so that lag stays under one probe interval (200 ms).

    .venv/bin/python bench/accuracy.py [--out bench/results/accuracy.json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from harness.core import reconcile
from harness.core.recovery import outages
from harness.faults import links
from harness.ledger import AppKeyReader, DbReadBack, WriteLedger, read_back
from harness.levels import DEFAULT_SERVICE_LEVELS, load_service_levels
from harness.load.catalog import write_catalog
from harness.load.runner import LoadRun, LoadSettings
from harness.odoo.client import OdooClient
from harness.odoo.seed import seed_warehouse
from harness.platform.local.platform import LocalPlatform
from harness.probes import OdooEndpoint, ProbeSet, probe_settings

TOPOLOGY = Path(__file__).with_name("accuracy-topology.yaml")
PROFILES = Path(__file__).with_name("accuracy-load.yaml")
CUTS_S = (2.0, 5.0, 10.0)
SETTLE_S = 12.0
#: Outages are measured between sample starts on the monotonic clock; allow 1 ms of
#: scheduling slack on top of the one probe interval the target grants.
SLACK_S = 0.001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/accuracy.json"))
    args = parser.parse_args()
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    interval_s = levels.settings.probe_interval_ms / 1000
    root = Path(tempfile.mkdtemp(prefix="odoo-res-accuracy-", dir="/var/tmp"))
    stack = LocalPlatform.create(root, TOPOLOGY, "acc-" + secrets.token_hex(3))
    stack.up()
    results = []
    try:
        ep = stack.endpoints()
        login = ep.app_login
        with OdooClient(ep.ingress_url, login.db, login.login, login.password, 120) as client:
            client.login()
            catalog = seed_warehouse(client, products=200, seed=7)
        catalog_file = root / "catalog.json"
        write_catalog(catalog, catalog_file)
        ledger = WriteLedger()
        probes = ProbeSet(
            OdooEndpoint(ep.ingress_url, login.db, login.login, login.password),
            catalog,
            ledger,
            probe_settings(levels),
        )
        load = LoadRun(
            LoadSettings(
                host=ep.ingress_url,
                catalog=catalog_file,
                out_dir=root / "load",
                profile="accuracy",
                profiles_file=PROFILES,
                db=login.db,
                login=login.login,
                password=login.password,
                processes=1,
            )
        )
        load.start()
        probes.start()
        cuts: list[tuple[float, int, int]] = []
        time.sleep(SETTLE_S)
        for length in CUTS_S:
            api = ep.toxiproxy_api
            names = [f"ingress-{a}" for a in stack.topology.app_instances]
            t_cut = time.monotonic_ns()
            for name in names:
                links.set_enabled(api, name, False)
            time.sleep(length - (time.monotonic_ns() - t_cut) / 1e9)
            t_back = time.monotonic_ns()
            for name in names:
                links.set_enabled(api, name, True)
            cuts.append((length, t_cut, t_back))
            time.sleep(SETTLE_S)
        probes.stop()
        load.stop()
        flows = probes.samples()
        now = time.monotonic_ns()
        for length, t_cut, t_back in cuts:
            for target in levels.critical_flows():
                found = [
                    o
                    for o in outages(flows[target.flow.value], now)
                    if o.start_ns < t_back + int(1e9) and o.end_ns > t_cut
                ]
                measured = sum(o.end_ns - o.start_ns for o in found) / 1e9
                samples = flows[target.flow.value]
                failed_details = sorted(
                    {samples.details[i] for o in found for i in range(o.first_index, o.stop_index)}
                )
                results.append(
                    {
                        "outage_starts_after_cut_s": [
                            round((o.start_ns - t_cut) / 1e9, 3) for o in found
                        ],
                        "outage_ends_after_restore_s": [
                            round((o.end_ns - t_back) / 1e9, 3) for o in found
                        ],
                        "failures": failed_details,
                        "cut_s": length,
                        "flow": target.flow.value,
                        "actual_cut_s": round((t_back - t_cut) / 1e9, 3),
                        "measured_outage_s": round(measured, 3),
                        "ratio": round(measured / length, 3),
                        "within_one_interval": abs(measured - length) <= interval_s + SLACK_S,
                    }
                )
                print(
                    f"cut {length:>4.1f} s  {target.flow.value:<17} measured {measured:6.3f} s  "
                    f"measured/L {measured / length:5.3f}  "
                    f"{'within' if abs(measured - length) <= interval_s + SLACK_S else 'OUTSIDE'} "
                    f"±{interval_s:.1f} s"
                )
        with OdooClient(ep.ingress_url, login.db, login.login, login.password, 120) as client:
            client.login()
            back = read_back(ledger, AppKeyReader(client), DbReadBack(ep.db.conninfo()))
        report = reconcile(ledger.records(), back.read_back, cuts[0][1])
        print(
            f"ledger: {report.written:,} probe writes, {report.acked:,} acknowledged, "
            f"{len(report.lost)} lost; load: {load.record_count:,} requests"
        )
        summary = {
            "probe_interval_s": interval_s,
            "cuts": results,
            "ledger": {"written": report.written, "acked": report.acked, "lost": len(report.lost)},
            "load_requests": load.record_count,
        }
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
