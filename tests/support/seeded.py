"""A seeded Odoo double on a standalone PostgreSQL and Redis, restartable on its port.

Used by the probe, ledger and invariant tests and by bench/probes.py.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness.core import FlowTarget
from harness.errors import ComponentFailed
from harness.levels import DEFAULT_SERVICE_LEVELS, load_service_levels
from harness.odoo.client import OdooClient
from harness.odoo.seed import SeedCatalog, seed_warehouse
from harness.probes import OdooEndpoint
from harness.scenario.targets import flow_targets
from tests.support.standalone import (
    StandalonePostgres,
    free_port,
    standalone_postgres,
    standalone_redis,
)

REPO = Path(__file__).resolve().parents[2]
DB = "odoo"
READY_TIMEOUT_S = 30.0
LEVELS = load_service_levels(DEFAULT_SERVICE_LEVELS)


@dataclass
class SeededDouble:
    """A double on a fixed run-time port (so it can be restarted), seeded."""

    postgres: StandalonePostgres
    dsn: str
    redis: str
    port: int
    log: Path
    catalog: SeedCatalog | None = None
    proc: subprocess.Popen[bytes] | None = None
    extra: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def endpoint(self) -> OdooEndpoint:
        return OdooEndpoint(self.url, DB, "admin", "admin")

    def seeded(self) -> SeedCatalog:
        assert self.catalog is not None
        return self.catalog

    def spawn(self, port: int, *args: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fixtures.odoo_double",
                    "--port",
                    str(port),
                    "--db-dsn",
                    self.dsn,
                    "--db-name",
                    DB,
                    "--redis",
                    self.redis,
                    "--retry-sleep-cap",
                    "0.2",
                    *args,
                ],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        _wait_healthy(f"http://127.0.0.1:{port}", proc, self.log)
        return proc

    def start(self) -> None:
        self.proc = self.spawn(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            _terminate(self.proc)
            assert self.proc.returncode == 0, f"the double should stop cleanly; see {self.log}"
            self.proc = None

    def start_extra(self, *args: str) -> str:
        """Another instance on the same database (e.g. a slow release); its URL."""
        port = free_port()
        self.extra.append(self.spawn(port, *args))
        return f"http://127.0.0.1:{port}"

    def client(self, timeout_s: float = 30.0) -> OdooClient:
        client = OdooClient(self.url, DB, "admin", "admin", timeout_s)
        client.login()
        return client


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ComponentFailed(
                f"the Odoo double should serve {url} but exited {proc.returncode}; "
                f"log:\n{log.read_text(errors='replace')[-2000:]}"
            )
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/web/health", timeout=1.0).status_code == 200:
                return
        time.sleep(0.05)
    _terminate(proc)
    raise ComponentFailed(f"the Odoo double should answer {url}/web/health within 30 s; {log}")


@contextlib.contextmanager
def seeded_double(log_dir: Path, products: int = 120) -> Iterator[SeededDouble]:
    with standalone_postgres() as pg, standalone_redis() as redis:
        double = SeededDouble(
            postgres=pg,
            dsn=pg.create_database(DB),
            redis=redis.address,
            port=free_port(),
            log=log_dir / "double.log",
        )
        double.start()
        try:
            with double.client() as client:
                double.catalog = seed_warehouse(
                    client, products=products, seed=7, bins=6, customers=6, vendors=3
                )
            yield double
        finally:
            double.stop()
            for proc in double.extra:
                _terminate(proc)


def targets() -> tuple[FlowTarget, ...]:
    """The service levels' flow targets as the core takes them."""
    return flow_targets(LEVELS)
