"""Backups of the local platform's database to the S3 object store, with pgBackRest.

Not a daemon: this module writes ``pgbackrest.conf`` for one stanza (the repository
in the SeaweedFS ``backups`` bucket over HTTPS, verified against the run's CA) and
runs pgBackRest's one-shot commands as the DB user. Patroni puts
``archive_command`` into each PostgreSQL member so WAL reaches the repository
continuously, which is what restore and RPO scenarios rely on.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from harness.errors import PlatformError
from harness.platform.endpoints import S3Access
from harness.platform.local.context import StackContext
from harness.platform.local.process import require_binary, run_checked

#: How long ``check`` waits for a WAL segment to reach the repository.
ARCHIVE_TIMEOUT_S = 60
COMMAND_TIMEOUT_S = 300.0


class BackupType(StrEnum):
    FULL = "full"
    DIFF = "diff"
    INCR = "incr"


@dataclass(frozen=True)
class PgMember:
    """One PostgreSQL member pgBackRest may back up from (it finds the primary itself)."""

    name: str
    data_dir: Path
    port: int
    socket_dir: Path


@dataclass(frozen=True)
class BackupSummary:
    """One backup in the repository, as ``pgbackrest info`` reports it."""

    label: str
    type: BackupType
    start_epoch_s: int
    stop_epoch_s: int
    wal_start: str
    wal_stop: str
    database_size_bytes: int
    repo_size_bytes: int
    error: bool


@dataclass(frozen=True)
class StanzaSummary:
    """The stanza's state: status, backups (oldest first) and the archived WAL range."""

    name: str
    status_code: int
    status_message: str
    backups: tuple[BackupSummary, ...]
    archive_min: str | None
    archive_max: str | None

    @property
    def ok(self) -> bool:
        return self.status_code == 0


class PgBackRest:
    """pgBackRest configured for one stanza over the run's S3 ``backups`` bucket."""

    def __init__(
        self,
        ctx: StackContext,
        stanza: str,
        s3: S3Access,
        pg_members: Sequence[PgMember],
        *,
        repo_path: str = "/pgbackrest",
        retention_full: int = 2,
    ) -> None:
        if not pg_members:
            raise ValueError("PgBackRest needs at least one PostgreSQL member")
        self._ctx = ctx
        self.stanza = stanza
        self._s3 = s3
        self._members = tuple(pg_members)
        self._repo_path = repo_path
        self._retention_full = retention_full
        self._home = ctx.data_dir("pgbackrest", owner=ctx.db_user, mode=0o700)
        self.config_path = self._home / "pgbackrest.conf"
        self._binary = require_binary("pgbackrest", "install it with `apt-get install pgbackrest`.")
        self._write_config()

    def _write_config(self) -> None:
        paths = {}
        for sub in ("lock", "log", "spool"):
            path = self._home / sub
            path.mkdir(exist_ok=True)
            paths[sub] = path
            self._own(path)
        s3 = self._s3
        lines = [
            "[global]",
            "repo1-type=s3",
            f"repo1-path={self._repo_path}",
            f"repo1-s3-bucket={s3.backups_bucket}",
            # The endpoint is the name the certificate carries as a DNS SAN; pgBackRest
            # connects to it, on the port given separately.
            "repo1-s3-endpoint=localhost",
            f"repo1-storage-port={s3.endpoint.port}",
            f"repo1-s3-region={s3.region}",
            f"repo1-s3-key={s3.access_key}",
            f"repo1-s3-key-secret={s3.secret_key}",
            "repo1-s3-uri-style=path",
            "repo1-storage-verify-tls=y",
            f"repo1-storage-ca-file={s3.ca_file}",
            f"repo1-retention-full={self._retention_full}",
            f"lock-path={paths['lock']}",
            f"log-path={paths['log']}",
            f"spool-path={paths['spool']}",
            "log-level-console=warn",
            "log-level-file=info",
            # Backups start at once instead of waiting for the next scheduled checkpoint.
            "start-fast=y",
            f"archive-timeout={ARCHIVE_TIMEOUT_S}",
            "compress-type=lz4",
            "",
            f"[{self.stanza}]",
        ]
        for index, member in enumerate(self._members, start=1):
            lines += [
                f"pg{index}-path={member.data_dir}",
                f"pg{index}-port={member.port}",
                f"pg{index}-socket-path={member.socket_dir}",
            ]
        # Holds the S3 secret: only the DB user reads it.
        self.config_path.write_text("\n".join(lines) + "\n")
        os.chmod(self.config_path, 0o600)
        self._own(self.config_path)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            os.chown(path, self._ctx.db_user.uid, self._ctx.db_user.gid)

    @property
    def archive_command(self) -> str:
        """PostgreSQL's ``archive_command`` (Patroni's ``postgresql.parameters``)."""
        return (
            f"{shlex.quote(self._binary)} --config={shlex.quote(str(self.config_path))} "
            f"--stanza={shlex.quote(self.stanza)} archive-push %p"
        )

    def _run(self, what: str, *args: str) -> str:
        argv = [self._binary, f"--config={self.config_path}", f"--stanza={self.stanza}", *args]
        return run_checked(argv, what, user=self._ctx.db_user.name, timeout_s=COMMAND_TIMEOUT_S)

    def stanza_create(self) -> None:
        """Create the stanza in the repository (idempotent when it matches the cluster)."""
        self._run(f"creating pgBackRest stanza {self.stanza}", "stanza-create")

    def check(self) -> None:
        """Prove the configuration works: forces a WAL switch and waits for it in S3."""
        self._run(f"checking pgBackRest stanza {self.stanza} (WAL archiving to S3)", "check")

    def backup(self, type: BackupType = BackupType.FULL) -> None:
        self._run(f"{type.value} backup of stanza {self.stanza}", "backup", f"--type={type.value}")

    def info(self) -> StanzaSummary:
        out = self._run(f"reading pgBackRest info of {self.stanza}", "info", "--output=json")
        return parse_info(out, self.stanza)


def parse_info(text: str, stanza: str) -> StanzaSummary:
    """The summary of ``stanza`` from ``pgbackrest info --output=json``."""
    try:
        stanzas = json.loads(text)
        entry = next(s for s in stanzas if s["name"] == stanza)
        archives = [a for a in entry.get("archive", []) if a.get("min") or a.get("max")]
        return StanzaSummary(
            name=entry["name"],
            status_code=int(entry["status"]["code"]),
            status_message=str(entry["status"]["message"]),
            backups=tuple(
                BackupSummary(
                    label=b["label"],
                    type=BackupType(b["type"]),
                    start_epoch_s=int(b["timestamp"]["start"]),
                    stop_epoch_s=int(b["timestamp"]["stop"]),
                    wal_start=b["archive"]["start"],
                    wal_stop=b["archive"]["stop"],
                    database_size_bytes=int(b["info"]["size"]),
                    repo_size_bytes=int(b["info"]["repository"]["size"]),
                    error=bool(b.get("error", False)),
                )
                for b in entry.get("backup", [])
            ),
            archive_min=archives[-1]["min"] if archives else None,
            archive_max=archives[-1]["max"] if archives else None,
        )
    except (ValueError, KeyError, TypeError, StopIteration) as exc:
        raise PlatformError(
            f"expected `pgbackrest info --output=json` to describe stanza {stanza!r}, could not "
            f"read it ({type(exc).__name__}: {exc}); output began: {text[:300]!r}. Run the "
            "command by hand as the DB user to see what pgBackRest reports."
        ) from exc
