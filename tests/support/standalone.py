"""Throwaway PostgreSQL 15 and Redis for tests that do not need the HA stack.

Each server runs as a direct child of the test process (never daemonised: PID 1 here
does not reap zombies, so we must ``wait()`` ourselves), binds 127.0.0.1 on a port
picked at run time, keeps all state in one directory under /tmp and is removed on
exit. PostgreSQL refuses to run as root, so when the tests run as root it runs as
Debian's ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from harness.errors import ComponentFailed, PrerequisiteMissing

PG_BIN = Path("/usr/lib/postgresql/15/bin")
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def free_port() -> int:
    """A port free on 127.0.0.1 a moment ago."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_listening(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ComponentFailed(
                f"{what} should listen on 127.0.0.1:{port} but exited with {proc.returncode}; "
                f"its log {log} ends with:\n{_tail(log)}"
            )
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((LOOPBACK, port)) == 0:
                return
        time.sleep(0.05)
    raise ComponentFailed(
        f"{what} should listen on 127.0.0.1:{port} within {START_TIMEOUT_S:.0f}s but did not; "
        f"see {log}:\n{_tail(log)}"
    )


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(log unreadable: {exc.strerror})"


def _stop(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class StandalonePostgres:
    """One PostgreSQL 15 cluster; ``restart`` keeps its port and data."""

    root: Path
    port: int
    user: str | None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={LOOPBACK} port={self.port} user=postgres dbname={dbname}"

    def _ids(self) -> tuple[int | None, int | None]:
        if self.user is None:
            return None, None
        entry = pwd.getpwnam(self.user)
        return entry.pw_uid, entry.pw_gid

    def initdb(self) -> None:
        data = self.root / "data"
        result = subprocess.run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            capture_output=True,
            check=False,
            user=self._ids()[0],
            group=self._ids()[1],
        )
        if result.returncode != 0:
            raise ComponentFailed(
                f"initdb into {data} should succeed but exited {result.returncode}: "
                f"{result.stderr.decode(errors='replace')[-2000:]}"
            )

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(self.root / "data"),
                    "-c",
                    f"port={self.port}",
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=100",
                    "-c",
                    "shared_buffers=64MB",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                user=self._ids()[0],
                group=self._ids()[1],
            )
        _wait_listening(self.port, self.proc, "PostgreSQL", self.log)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                # The port opens before recovery ends ("the database system is starting up").
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """Stop like ``pg_ctl -m fast|immediate`` (SIGINT / SIGQUIT to the postmaster)."""
        if self.proc is not None:
            _stop(self.proc, signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
            self.proc = None

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


@contextlib.contextmanager
def standalone_postgres() -> Iterator[StandalonePostgres]:
    """A fresh PostgreSQL 15 on a run-time port; stopped and deleted on exit."""
    if not (PG_BIN / "postgres").exists():
        raise PrerequisiteMissing(
            f"PostgreSQL 15 should be installed under {PG_BIN} but is not; "
            "run scripts/install-system-deps.sh (apt-get install postgresql-15)."
        )
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="odoo-double-pg-", dir="/tmp"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    server = StandalonePostgres(root=root, port=free_port(), user=user)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class StandaloneRedis:
    """One redis-server without persistence: a restart loses every key."""

    root: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.root / "redis.log"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise PrerequisiteMissing(
                "redis-server should be on PATH but is not; apt-get install redis-server."
            )
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    LOOPBACK,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.root),
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _wait_listening(self.port, self.proc, "redis-server", self.log)

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc, signal.SIGTERM)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def standalone_redis() -> Iterator[StandaloneRedis]:
    """A fresh redis-server on a run-time port; stopped and deleted on exit."""
    root = Path(tempfile.mkdtemp(prefix="odoo-double-redis-", dir="/tmp"))
    server = StandaloneRedis(root=root, port=free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class DoubleProcess:
    """One Odoo double instance run as ``python -m fixtures.odoo_double``."""

    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        _wait_listening(self.port, self.proc, "the Odoo double", self.log)

    def stop(self) -> int:
        _stop(self.proc, signal.SIGTERM)
        return self.proc.returncode


REPO_ROOT = Path(__file__).resolve().parents[2]


def start_double(
    dsn: str,
    *,
    redis: str | None = None,
    release: str = "good",
    name: str = "app-1",
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
) -> DoubleProcess:
    """Start an instance (not waiting for it); the caller stops it."""
    port = free_port()
    log = Path(
        tempfile.mkstemp(prefix=f"odoo-double-{name}-", suffix=".log", dir=str(log_dir or "/tmp"))[
            1
        ]
    )
    argv = [
        os.environ.get("ODOO_DOUBLE_PYTHON", sys.executable),
        "-m",
        "fixtures.odoo_double",
        "--name",
        name,
        "--port",
        str(port),
        "--db-name",
        "odoo",
        "--release",
        release,
        *extra_args,
    ]
    if redis is not None:
        argv += ["--redis", redis]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "ODOO_DOUBLE_DB_DSN": dsn, **(env or {})},
        )
    return DoubleProcess(port, proc, log)


@contextlib.contextmanager
def odoo_double(
    dsn: str,
    *,
    redis: str | None = None,
    release: str = "good",
    name: str = "app-1",
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[DoubleProcess]:
    """A ready instance of the double; stopped (and waited for) on exit."""
    double = start_double(
        dsn, redis=redis, release=release, name=name, extra_args=extra_args, env=env
    )
    try:
        double.wait_ready()
        yield double
    finally:
        double.stop()


class JsonRpc:
    """Raw JSON-RPC calls to an Odoo (or the double), returning the whole response body."""

    def __init__(
        self,
        url: str,
        db: str = "odoo",
        login: str = "admin",
        password: str = "admin",
        timeout_s: float = 30.0,
    ) -> None:
        self.http = httpx.Client(base_url=url, timeout=timeout_s)
        self.db, self.login, self.password = db, login, password
        self.uid: int = 0
        self._ids = 0

    def close(self) -> None:
        self.http.close()

    def post(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        self._ids += 1
        response = self.http.post(
            path, json={"jsonrpc": "2.0", "method": "call", "params": params, "id": self._ids}
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def call(self, service: str, method: str, *args: Any) -> dict[str, Any]:
        return self.post("/jsonrpc", {"service": service, "method": method, "args": list(args)})

    def authenticate(self) -> int:
        uid = self.call("common", "login", self.db, self.login, self.password)["result"]
        assert isinstance(uid, int), f"login as {self.login} should succeed, got {uid!r}"
        self.uid = uid
        return uid

    def execute_kw(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self.call(
            "object",
            "execute_kw",
            self.db,
            self.uid,
            self.password,
            model,
            method,
            args,
            kwargs or {},
        )

    def ok(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None
    ) -> Any:
        """The ``result`` of a call that must succeed (None when the key is omitted)."""
        body = self.execute_kw(model, method, args, kwargs)
        assert "error" not in body, f"{model}.{method} failed: {body['error']['data']}"
        return body.get("result")
