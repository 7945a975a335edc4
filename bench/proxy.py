"""Benchmark: the built-in Toxiproxy server's cost with no toxic.

Starts a throwaway PostgreSQL 15 (as the ``postgres`` user, in a temp dir under /tmp,
on a port picked at run time) and the built-in server, then measures:

- pgbench select-only (``-S``, 4 clients, ``-j 2``) directly and through a proxy:
  TPS ratio, target >= 80 % of direct;
- the same pgbench through HAProxy in TCP mode (one thread), when installed: a C proxy
  as the reference for what any user-space proxy costs on this machine;
- 5,000 ping-pong round trips against a small echo server, directly and through a
  proxy: p50/p99 and the added p50, target <= 0.2 ms.

Prints the figures and writes them as JSON (default ``bench/results/proxy.json``).
Everything binds 127.0.0.1 and is stopped at the end.

    .venv/bin/python bench/proxy.py [--seconds 10] [--out bench/results/proxy.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from harness.toxiproxy import is_ready, toxiproxy_command

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROUND_TRIPS = 5_000
TPS_RATIO_TARGET = 0.80
ADDED_P50_TARGET_MS = 0.2

_ECHO_SERVER = """
import socket, sys, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen()
print(ls.getsockname()[1], flush=True)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := c.recv(65536):
        c.sendall(data)
    c.close()
while True:
    conn, _ = ls.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: object, what: str, timeout: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"bench: {what} did not become ready within {timeout:.0f} s")


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@contextmanager
def stopped_at_exit(proc: subprocess.Popen[bytes], sig: int = 15) -> Iterator[None]:
    try:
        yield
    finally:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def postgres() -> Iterator[int]:
    """A throwaway PostgreSQL owned by ``postgres``; yields its port."""
    root = Path(tempfile.mkdtemp(prefix="bench-pg-", dir="/tmp"))
    shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    port = free_port()
    try:
        subprocess.run(
            [str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N"],
            user="postgres",
            check=True,
            stdout=subprocess.DEVNULL,
        )
        proc = subprocess.Popen(
            [
                str(PG_BIN / "postgres"),
                "-D", str(data),
                "-k", str(root),
                "-h", "127.0.0.1",
                "-p", str(port),
                "-c", "fsync=off",
                "-c", "max_connections=50",
            ],
            user="postgres",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        # SIGINT is PostgreSQL's fast shutdown.
        with stopped_at_exit(proc, sig=2):
            wait_until(lambda: can_connect(port), "PostgreSQL")
            yield port
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def toxiproxy() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(toxiproxy_command("127.0.0.1", port), stdout=subprocess.DEVNULL)
    with stopped_at_exit(proc):
        wait_until(lambda: is_ready("127.0.0.1", port), "the built-in Toxiproxy server")
        yield port


@contextmanager
def haproxy(upstream_port: int) -> Iterator[int | None]:
    """A one-thread HAProxy TCP relay to ``upstream_port``; None when HAProxy is absent."""
    binary = shutil.which("haproxy")
    if binary is None:
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-haproxy-") as tmp:
        config = Path(tmp) / "haproxy.cfg"
        config.write_text(
            "global\n  nbthread 1\n"
            "defaults\n  mode tcp\n  timeout connect 5s\n"
            "  timeout client 60s\n  timeout server 60s\n"
            f"listen pg\n  bind 127.0.0.1:{port}\n  server pg 127.0.0.1:{upstream_port}\n"
        )
        proc = subprocess.Popen(
            [binary, "-f", str(config), "-db"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        with stopped_at_exit(proc):
            wait_until(lambda: can_connect(port), "HAProxy")
            yield port


@contextmanager
def echo_server() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, "-c", _ECHO_SERVER], stdout=subprocess.PIPE)
    with stopped_at_exit(proc):
        assert proc.stdout is not None
        yield int(proc.stdout.readline())


def create_proxy(api_port: int, name: str, upstream_port: int) -> int:
    response = httpx.post(
        f"http://127.0.0.1:{api_port}/proxies",
        json={"name": name, "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{upstream_port}"},
    )
    response.raise_for_status()
    return int(response.json()["listen"].rsplit(":", 1)[1])


def pgbench_tps(port: int, seconds: int) -> float:
    env = os.environ | {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "postgres"}
    out = subprocess.run(
        [str(PG_BIN / "pgbench"), "-S", "-c", "4", "-j", "2", "-T", str(seconds), "postgres"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(f"bench: pgbench on port {port} failed:\n{out.stdout}{out.stderr}")
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out.stdout)
    if match is None:
        raise SystemExit(f"bench: no TPS line in pgbench output:\n{out.stdout}")
    return float(match.group(1))


def round_trips_ms(port: int, count: int) -> list[float]:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payload = b"p" * 64
        samples = []
        for _ in range(count + 200):
            start = time.perf_counter_ns()
            sock.sendall(payload)
            got = 0
            while got < len(payload):
                data = sock.recv(65536)
                if not data:
                    raise SystemExit(f"bench: echo connection on port {port} closed early")
                got += len(data)
            samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples[200:]  # the first ones warm caches and the proxy's fast path


def event_loop() -> str:
    """Which loop the server runs on (``python -m harness.toxiproxy`` prefers uvloop)."""
    found = importlib.util.find_spec("uvloop") is not None
    return "uvloop" if found else "asyncio"


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="pgbench run length")
    parser.add_argument("--out", type=Path, default=Path("bench/results/proxy.json"))
    args = parser.parse_args()

    with postgres() as pg_port, toxiproxy() as api_port, echo_server() as echo_port:
        env = os.environ | {"PGHOST": "127.0.0.1", "PGPORT": str(pg_port), "PGUSER": "postgres"}
        subprocess.run(
            [str(PG_BIN / "pgbench"), "-i", "-s", "1", "-q", "postgres"],
            env=env,
            check=True,
            capture_output=True,
        )
        pg_proxy = create_proxy(api_port, "bench_pg", pg_port)
        echo_proxy = create_proxy(api_port, "bench_echo", echo_port)

        direct_rt = round_trips_ms(echo_port, ROUND_TRIPS)
        proxied_rt = round_trips_ms(echo_proxy, ROUND_TRIPS)
        # Other work on a shared machine moves the direct figure: measure it before and
        # after and compare with the mean.
        direct_before = pgbench_tps(pg_port, args.seconds)
        proxied_tps = pgbench_tps(pg_proxy, args.seconds)
        with haproxy(pg_port) as haproxy_port:
            haproxy_tps = None if haproxy_port is None else pgbench_tps(haproxy_port, args.seconds)
        direct_after = pgbench_tps(pg_port, args.seconds)
        direct_tps = (direct_before + direct_after) / 2

    ratio = proxied_tps / direct_tps
    d50, d99 = percentile(direct_rt, 50), percentile(direct_rt, 99)
    p50, p99 = percentile(proxied_rt, 50), percentile(proxied_rt, 99)
    result = {
        "pgbench": {
            "mode": "select-only -S, 4 clients, -j 2",
            "seconds": args.seconds,
            "direct_tps_before": round(direct_before, 1),
            "direct_tps_after": round(direct_after, 1),
            "direct_tps": round(direct_tps, 1),
            "proxied_tps": round(proxied_tps, 1),
            "ratio": round(ratio, 3),
            "target_ratio": TPS_RATIO_TARGET,
            "haproxy_tps": None if haproxy_tps is None else round(haproxy_tps, 1),
            "haproxy_ratio": None if haproxy_tps is None else round(haproxy_tps / direct_tps, 3),
        },
        "round_trip": {
            "count": ROUND_TRIPS,
            "payload_bytes": 64,
            "direct_p50_ms": round(d50, 4),
            "direct_p99_ms": round(d99, 4),
            "proxied_p50_ms": round(p50, 4),
            "proxied_p99_ms": round(p99, 4),
            "added_p50_ms": round(p50 - d50, 4),
            "target_added_p50_ms": ADDED_P50_TARGET_MS,
        },
        "event_loop": event_loop(),
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
    }
    print(
        f"pgbench -S: direct {direct_tps:.0f} tps, proxied {proxied_tps:.0f} tps, "
        f"ratio {ratio:.1%} (target >= {TPS_RATIO_TARGET:.0%})"
    )
    if haproxy_tps is not None:
        print(
            f"reference: HAProxy (C, 1 thread) {haproxy_tps:.0f} tps, "
            f"ratio {haproxy_tps / direct_tps:.1%}"
        )
    print(
        f"round trip p50: direct {d50:.3f} ms, proxied {p50:.3f} ms, "
        f"added {p50 - d50:.3f} ms (target <= {ADDED_P50_TARGET_MS} ms); "
        f"p99 direct {d99:.3f} ms, proxied {p99:.3f} ms"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
