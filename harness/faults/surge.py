"""batch-surge: an order-import burst (a noisy neighbour) while interactive flows run.

The burst is Locust running the ``import-surge`` load profile (order importers only,
no pause between batches) as a subprocess, exactly as ``load/warehouse.py`` runs on its
own. Journal and lease: the undo (``STOP_LOAD``) names a pid file holding Locust's
pid and start time; the reaper, or ``odoo-resilience recover``, stops that process
group if the runner dies. Locust also ends by itself when the profile's stages end, so
even a burst started in the instant before its pid file was written is bounded.

Landed check: the burst must reach at least ``min_rate`` imported orders per second
(acknowledged creates) over its first seconds; a burst the stack never felt proves
nothing about isolation.

Its writes: every imported order carries a unique ``client_order_ref``; after the
revert they join the scenario's write ledger and are read back like the probes'.

``tenant``: run the burst in another tenant's database on the same stack (the
cross-tenant noisy neighbour); its writes are then read back from that database.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from harness.core.ledger import WriteOutcome
from harness.errors import FaultDidNotLand
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.loadstop import write_pidfile
from harness.faults.undo import UndoOp, UndoStep
from harness.ledger import LedgerEntry, key_kind
from harness.levels import FaultFamily
from harness.load.runner import LoadRun, LoadSettings
from harness.platform.endpoints import AppLogin

SURGE_PROFILE = "import-surge"
MEASURE_S = 8.0


class OrderImportSurge(Fault):
    family = FaultFamily.BATCH_SURGE

    def __init__(
        self,
        runtime: FaultRuntime,
        catalog_file: Path,
        *,
        profile: str = SURGE_PROFILE,
        min_rate: float = 2.0,
        tenant: AppLogin | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.catalog_file = catalog_file
        self.tenant = tenant
        """Another tenant's database to run the burst in; None: the run's own."""
        self.profile = profile
        self.min_rate = min_rate
        self._out = runtime.run_dir / f"surge-{time.time_ns()}"
        self.pidfile = self._out / "locust.pid"
        """Locust's pid and start time, for the undo (``harness.faults.loadstop``)."""
        self._load: LoadRun | None = None

    @property
    def name(self) -> str:
        where = "" if self.tenant is None else f"@{self.tenant.db}"
        return f"order-import-surge:{self.profile}{where}"

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.STOP_LOAD, {"pidfile": str(self.pidfile)}),)

    def act(self) -> None:
        endpoints = self.platform.endpoints()
        login = endpoints.app_login if self.tenant is None else self.tenant
        self._load = LoadRun(
            LoadSettings(
                host=endpoints.ingress_url,
                catalog=self.catalog_file,
                out_dir=self._out,
                profile=self.profile,
                db=login.db,
                login=login.login,
                password=login.password,
                processes=None,
            )
        )
        self._load.start()
        pid = self._load.pid
        if pid is not None:
            write_pidfile(self.pidfile, pid)

    def _acked_imports(self) -> int:
        load = self._load
        if load is None:
            return 0
        return sum(w.outcome is WriteOutcome.OK for w in load.writes())

    def measure(self) -> LandedEvidence:
        start = time.monotonic()
        before = self._acked_imports()
        time.sleep(MEASURE_S)
        rate = (self._acked_imports() - before) / (time.monotonic() - start)
        detail = f"{rate:.1f} orders/s imported by the burst over {MEASURE_S:g} s"
        if rate < self.min_rate:
            raise FaultDidNotLand(
                f"expected the order-import burst to import at least {self.min_rate:g} "
                f"orders/s, saw {detail}; see {self._out / 'locust.log'}"
            )
        return LandedEvidence(self.name, rate, "orders/s", detail)

    def writes(self) -> Sequence[LedgerEntry]:
        load = self._load
        if load is None:
            return ()
        load.stop()  # already stopped by the undo: this drains the last records
        tenant = None if self.tenant is None else self.tenant.db
        return [LedgerEntry(w, key_kind(w.flow), tenant) for w in load.writes()]
