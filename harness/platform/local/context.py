"""What every local component gets when it starts: the run's directories, users,
ports and cgroups, in one object built by the platform at ``up``.

Layout of a run directory (reachable by the DB user, never under root's home)::

    <run_dir>/
      state.json          what is running (written by the platform)
      endpoints.json      how to reach it
      logs/<component>.log
      data/<component>/   data and config of one component
      tls/                the CA and certificates the harness makes at ``up``
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from harness.platform.local.cgroups import CgroupTree


@dataclass(frozen=True)
class RunUser:
    """The unprivileged account the DB tier runs as (PostgreSQL refuses root)."""

    name: str
    uid: int
    gid: int

    @staticmethod
    def for_db_tier() -> RunUser:
        pw = pwd.getpwnam("postgres") if os.geteuid() == 0 else pwd.getpwuid(os.geteuid())
        return RunUser(pw.pw_name, pw.pw_uid, pw.pw_gid)


class StackContext:
    """The run directory, DB user and cgroups shared by the components of one run."""

    def __init__(
        self, run_id: str, run_dir: Path, cgroups: CgroupTree | None, db_user: RunUser
    ) -> None:
        self.run_id = run_id
        self.run_dir = run_dir
        self.cgroups = cgroups
        self.db_user = db_user
        for sub in ("logs", "data", "tls"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        # The DB user must traverse the run directory and write its own logs.
        os.chmod(run_dir, 0o755)
        os.chmod(run_dir / "logs", 0o1777)

    def data_dir(self, component: str, *, owner: RunUser | None = None, mode: int = 0o755) -> Path:
        """``data/<component>``, created, owned by ``owner`` when given."""
        path = self.run_dir / "data" / component
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, mode)
        if owner is not None and os.geteuid() == 0:
            os.chown(path, owner.uid, owner.gid)
        return path

    def log_path(self, component: str) -> Path:
        return self.run_dir / "logs" / f"{component}.log"

    def log_paths(self) -> dict[str, Path]:
        """Every component log of the run (retired components' too), by component name."""
        return {path.stem: path for path in sorted((self.run_dir / "logs").glob("*.log"))}

    def tls_dir(self) -> Path:
        return self.run_dir / "tls"

    def cgroup_procs(self, node: str, component: str) -> list[Path]:
        """Create the component's cgroup leaf under its node; the files to join it."""
        if self.cgroups is None:
            return []
        leaf = f"{node}/{component}"
        self.cgroups.create(leaf)
        return self.cgroups.procs_files(leaf)
