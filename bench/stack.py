"""Local platform timings: cold ``up`` to healthy, leader crash to writable, ``down``.

Targets on the 2-core reference machine (issue "Local platform"): up <= 60 s,
down <= 10 s, writable again <= ttl + 3 s after the leader's node is crashed.
Writability is measured on the app's route (Toxiproxy → HAProxy rw) and on
HAProxy's rw port directly, so the proxy's share is visible.

    .venv/bin/python bench/stack.py [--crashes 3] [--out bench/results/stack.json]
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

from harness.platform.endpoints import HostPort
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.topology import DEFAULT_TOPOLOGY


def _conninfo(stack: LocalPlatform, target: HostPort) -> str:
    db = stack.endpoints().db
    return (
        f"host={target.host} port={target.port} dbname={db.dbname} user={db.user} "
        f"password={db.password} connect_timeout=1"
    )


def _writable(conninfo: str) -> bool:
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_crash (t double precision)")
            conn.execute("INSERT INTO bench_crash VALUES (%s)", (time.time(),))
        return True
    except psycopg.Error:
        return False


def _crash_once(stack: LocalPlatform) -> dict[str, float | str]:
    old = stack.leader()
    assert old is not None, "no leader before the crash"
    node = stack.topology.node_of(old)
    app_route = _conninfo(stack, stack.endpoints().db.rw)
    direct = _conninfo(stack, stack.haproxy.rw)
    crashed = time.monotonic()
    stack.crash_node(node)
    via_haproxy = via_app_route = None
    while time.monotonic() - crashed < 90 and (via_haproxy is None or via_app_route is None):
        if via_haproxy is None and _writable(direct):
            via_haproxy = time.monotonic() - crashed
        if via_app_route is None and _writable(app_route):
            via_app_route = time.monotonic() - crashed
        time.sleep(0.02)
    new = stack.leader() or "none"
    restarted = time.monotonic()
    for name in stack.nodes()[node]:
        stack.start_component(name)
    stack.cluster.wait_all_streaming(90)
    return {
        "old_leader": old,
        "new_leader": new,
        "writable_via_haproxy_s": round(via_haproxy or float("nan"), 2),
        "writable_via_app_route_s": round(via_app_route or float("nan"), 2),
        "rejoined_s": round(time.monotonic() - restarted, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crashes", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/stack.json"))
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="odoo-res-bench-", dir="/var/tmp"))
    stack = LocalPlatform.create(root, DEFAULT_TOPOLOGY, "bench-" + secrets.token_hex(3))
    ttl = stack.topology.patroni.ttl
    t0 = time.monotonic()
    stack.up()
    up_s = time.monotonic() - t0
    print(f"cold up to healthy: {up_s:.1f} s (target <= 60 s)")
    crashes = []
    try:
        for i in range(args.crashes):
            result = _crash_once(stack)
            crashes.append(result)
            print(
                f"crash {i + 1}: {result['old_leader']} -> {result['new_leader']}; writable via "
                f"HAProxy {result['writable_via_haproxy_s']} s, via the app route "
                f"{result['writable_via_app_route_s']} s (target <= ttl + 3 = {ttl + 3} s); "
                f"old leader rejoined in {result['rejoined_s']} s"
            )
    finally:
        t1 = time.monotonic()
        stack.down()
        down_s = time.monotonic() - t1
        shutil.rmtree(root, ignore_errors=True)
    print(f"down: {down_s:.1f} s (target <= 10 s); leftovers: {stack.leftovers() or 'none'}")
    app_route = [float(c["writable_via_app_route_s"]) for c in crashes]
    summary = {
        "up_s": round(up_s, 1),
        "down_s": round(down_s, 1),
        "ttl_s": ttl,
        "crashes": crashes,
        "writable_via_app_route_median_s": round(statistics.median(app_route), 2)
        if app_route
        else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
