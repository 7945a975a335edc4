"""Measurements the landed checks are made of, taken from outside the processes.

Round trips through a link (PostgreSQL ``SELECT 1``, Redis ``PING``, an HTTP GET),
throughput of one large reply, whether a port refuses, whether connections get
reset, commit latency, and the kernel's view of a node's processes (``/proc``).
Foreign errors are mapped to outcomes here; nothing raises past these functions
except ``FaultError`` for a probe that could not run at all.
"""

from __future__ import annotations

import socket
import ssl
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from harness.errors import FaultError
from harness.platform.endpoints import HostPort, StackEndpoints

#: What a PostgreSQL client sends first (SSLRequest): safe to send to any PG port.
PG_SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def spread_ms(samples: list[float]) -> float:
    return (max(samples) - min(samples)) * 1000.0


def tcp_refuses(address: HostPort, timeout_s: float = 1.0) -> bool:
    """True when a connect to ``address`` is refused (nothing listens there)."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout_s):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def reset_on_first_bytes(address: HostPort, payload: bytes, timeout_s: float = 2.0) -> bool:
    """True when the peer answers ``payload`` with a TCP reset (ECONNRESET)."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout_s) as sock:
            sock.sendall(payload)
            sock.recv(1)
    except ConnectionResetError:
        return True
    except OSError:
        return False
    return False


def _db_conninfo(endpoints: StackEndpoints, address: HostPort, timeout_s: int) -> str:
    db = endpoints.db
    return (
        f"host={address.host} port={address.port} dbname={db.dbname} user={db.user} "
        f"password={db.password} connect_timeout={timeout_s} sslmode=disable"
    )


def db_round_trips(endpoints: StackEndpoints, address: HostPort, count: int) -> list[float]:
    """Seconds of ``count`` ``SELECT 1`` round trips on one fresh connection."""
    try:
        with psycopg.connect(_db_conninfo(endpoints, address, 10), autocommit=True) as conn:
            samples = []
            for _ in range(count):
                t0 = time.perf_counter()
                conn.execute("SELECT 1").fetchone()
                samples.append(time.perf_counter() - t0)
            return samples
    except psycopg.Error as exc:
        raise FaultError(
            f"expected to run SELECT 1 through {address}, it failed: {exc}; is the DB route up?"
        ) from exc


def db_reply_seconds(endpoints: StackEndpoints, address: HostPort, size: int) -> float:
    """Seconds to receive one reply of ``size`` bytes through ``address``."""
    try:
        with psycopg.connect(_db_conninfo(endpoints, address, 10), autocommit=True) as conn:
            conn.execute("SELECT 1").fetchone()
            t0 = time.perf_counter()
            conn.execute("SELECT repeat('x', %s)", (size,)).fetchone()
            return time.perf_counter() - t0
    except psycopg.Error as exc:
        raise FaultError(f"expected a {size}-byte reply through {address}, saw {exc}") from exc


def commit_seconds(endpoints: StackEndpoints, count: int) -> list[float]:
    """Seconds of ``count`` single-row commits through the read-write route."""
    try:
        with psycopg.connect(endpoints.db.conninfo(connect_timeout_s=10), autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS harness_fault_commit_probe (t float8)")
            samples = []
            for _ in range(count):
                t0 = time.perf_counter()
                conn.execute("INSERT INTO harness_fault_commit_probe VALUES (%s)", (time.time(),))
                samples.append(time.perf_counter() - t0)
            conn.execute("TRUNCATE harness_fault_commit_probe")
            return samples
    except psycopg.Error as exc:
        raise FaultError(
            f"expected {count} commits through the read-write route, they failed: {exc}"
        ) from exc


def _redis_exchange(address: HostPort, command: bytes, timeout_s: float) -> bytes:
    with socket.create_connection((address.host, address.port), timeout=timeout_s) as sock:
        sock.sendall(command)
        return _read_reply(sock)


def _read_reply(sock: socket.socket) -> bytes:
    buffer = b""
    while b"\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed before a reply")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n")
    if head[:1] != b"$":
        return head
    length = int(head[1:])
    while len(rest) < length + 2:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the connection closed inside a reply")
        rest += chunk
    return rest[:length]


def redis_reply(address: HostPort, *args: str, timeout_s: float = 2.0) -> bytes | None:
    """The reply to one command, or None when Redis could not be reached or answered."""
    command = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    try:
        return _redis_exchange(address, command, timeout_s)
    except (OSError, ValueError):
        return None


def redis_round_trips(address: HostPort, count: int) -> list[float]:
    samples = []
    with socket.create_connection((address.host, address.port), timeout=10) as sock:
        for _ in range(count):
            t0 = time.perf_counter()
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            _read_reply(sock)
            samples.append(time.perf_counter() - t0)
    return samples


def redis_reply_seconds(address: HostPort, size: int) -> float:
    payload = "x" * size
    command = f"*2\r\n$4\r\nECHO\r\n${size}\r\n{payload}\r\n".encode()
    with socket.create_connection((address.host, address.port), timeout=30) as sock:
        t0 = time.perf_counter()
        sock.sendall(command)
        _read_reply(sock)
        return time.perf_counter() - t0


def http_round_trips(url: str, count: int, verify: ssl.SSLContext | bool = True) -> list[float]:
    samples = []
    with httpx.Client(verify=verify, timeout=10) as client:
        client.get(url)
        for _ in range(count):
            t0 = time.perf_counter()
            client.get(url)
            samples.append(time.perf_counter() - t0)
    return samples


def https_fails(url: str, ca_file: str, timeout_s: float = 2.0) -> str | None:
    """The error an HTTPS GET of ``url`` meets, or None when it got any response."""
    try:
        httpx.get(url, verify=ssl.create_default_context(cafile=ca_file), timeout=timeout_s)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def samples_or_fault(probe: Callable[[], list[float]], what: str) -> list[float]:
    try:
        return probe()
    except (OSError, httpx.HTTPError) as exc:
        raise FaultError(f"expected to measure {what}, the probe failed: {exc}") from exc


# -- the kernel's view of a process ------------------------------------------------
def process_state(pid: int) -> str | None:
    """The state letter of ``/proc/<pid>/stat`` (R, S, D, T, Z ...), None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()[0]
