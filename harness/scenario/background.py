"""The warehouse load under every scenario: Locust, from before the warm-up to the end.

The probes are the calibrated instrument the verdicts rest on; the load is what makes a
scenario mean what its users assume, pickers, receivers, order feeds and reports working
while the fault happens. ``BackgroundLoad`` runs ``load/warehouse.py`` headless (one
process, ``LoadRun``) with the session's background profile (``fixtures/load-profiles.yaml``
``background``) against the stack's ingress, on a catalog of its own (seeded next to the
probes' one, so its pickers never take a delivery a probe is about to validate).

What it gives the scenario:

- its requests, every flow together, as the ``LoadFloor`` of the steady state (the
  baseline and recovery need the load at 90 % of its ``target_rps``);
- its keyed writes (receipts, imported orders) for the write ledger, ``WriteOrigin.LOAD``;
- its evidence (``harness.evidence.model.WarehouseLoad``): its samples per flow, its
  profile and pace, how Locust ended, and Locust's own HTML report and CSV stats for
  the bundle.

A Locust that dies mid-run is not an error of the harness: its samples stop, the load
floor then fails the steady state with its sentence, and ``WarehouseLoad.ended`` says when
and how it ended.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from harness.core.steady import LoadFloor
from harness.errors import ConfigError
from harness.evidence.model import WarehouseLoad
from harness.faults.loadstop import write_pidfile
from harness.ledger import LedgerEntry, key_kind
from harness.load.profiles import DEFAULT_LOAD_PROFILES, LoadProfile
from harness.load.runner import LoadRun, LoadSettings
from harness.platform.endpoints import StackEndpoints

PIDFILE_NAME = "locust.pid"


@dataclass(frozen=True)
class LoadPlan:
    """The load every scenario of a session runs under."""

    profile: LoadProfile
    catalog: Path
    """The load's own seed catalog (``harness.load.catalog.write_catalog``)."""
    profiles_file: Path = DEFAULT_LOAD_PROFILES

    def __post_init__(self) -> None:
        if self.profile.target_rps is None:
            raise ConfigError(
                f"expected a background load profile with target_rps, saw profile "
                f"{self.profile.name} without one; add target_rps: to it in "
                f"{self.profiles_file}"
            )

    @property
    def target_rps(self) -> float:
        return self.profile.target_rps or 0.0


class BackgroundLoad:
    """One scenario's background load; start() before the warm-up, stop() at the end."""

    def __init__(self, plan: LoadPlan, endpoints: StackEndpoints, out_dir: Path) -> None:
        self.plan = plan
        login = endpoints.app_login
        self.out_dir = out_dir
        self._run = LoadRun(
            LoadSettings(
                host=endpoints.ingress_url,
                catalog=plan.catalog,
                out_dir=out_dir,
                profile=plan.profile.name,
                profiles_file=plan.profiles_file,
                db=login.db,
                login=login.login,
                password=login.password,
                processes=None,
            )
        )
        self._started_ns = 0
        self._stopped_ns = 0
        self._exit: int | None = None
        self._ended: str | None = None

    @property
    def pidfile(self) -> Path:
        return self.out_dir / PIDFILE_NAME

    def start(self) -> None:
        self._run.start()
        self._started_ns = time.monotonic_ns()
        pid = self._run.pid
        if pid is not None:
            write_pidfile(self.pidfile, pid)

    def floor(self) -> LoadFloor:
        """The load's part of the steady state, over its requests so far."""
        return LoadFloor(self._run.all_requests().freeze(), self.plan.target_rps)

    def stop(self) -> None:
        """Stops Locust (bounded) and drains its last records; idempotent."""
        if self._stopped_ns:
            return
        exited = self._run.exit_code()
        self._exit = self._run.stop()
        self._stopped_ns = time.monotonic_ns()
        if exited is not None:
            self._ended = (
                f"Locust exited with {_status(exited)} before the scenario ended; "
                f"see {self._run.log_path}"
            )
        self.pidfile.unlink(missing_ok=True)

    def writes(self) -> list[LedgerEntry]:
        return [LedgerEntry(w, key_kind(w.flow)) for w in self._run.writes()]

    def evidence(self) -> WarehouseLoad:
        run = self._run
        floor = self.floor()
        return WarehouseLoad(
            profile=self.plan.profile.name,
            target_rps=self.plan.target_rps,
            floor_rps=floor.floor_rps,
            flows={flow: run.series(flow).freeze() for flow in run.flows()},
            requests=floor.samples,
            writes=len(run.writes()),
            files=run.report_files(),
            started_ns=self._started_ns,
            stopped_ns=self._stopped_ns or time.monotonic_ns(),
            exit_code=self._exit,
            ended=self._ended,
        )


def _status(code: int) -> str:
    return f"signal {-code}" if code < 0 else f"status {code}"


def load_dir(run_dir: Path, scenario: str) -> Path:
    """Where a scenario's load writes its records and Locust's report."""
    return run_dir / "load" / re.sub(r"[^A-Za-z0-9._-]+", "_", scenario)
