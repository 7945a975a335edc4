"""PostgreSQL HA on the local platform: Patroni members and the cluster seen through their REST API.

Owns three things:

- ``PatroniSettings`` and ``DbCredentials``, the values every member of one cluster shares
  (the DCS timing Patroni elects by, and the superuser, replication and app accounts);
- ``PatroniMember``, one ``LocalComponent``: Debian's ``/usr/bin/patroni`` on the system
  python, run as the DB user, driving the newest installed PostgreSQL with its data,
  config and unix socket under the member's own data directory, listening on 127.0.0.1;
- ``PatroniCluster``, a client of the members' REST APIs (not a component): who leads,
  the members' roles, lag and timeline, the promotions on record (``GET /history``),
  switchover and failover, and waiting for them.

The first member to start bootstraps the cluster (initdb, the app role and database in
``post_bootstrap``); later members clone it with pg_basebackup and stream from it. A
crashed leader that is started again is rewound (``use_pg_rewind``, ``wal_log_hints``)
and rejoins as a replica.
"""

from __future__ import annotations

import contextlib
import enum
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from harness.errors import ComponentFailed, ConfigError, PlatformError, PrerequisiteMissing
from harness.platform.base import Promotion
from harness.platform.endpoints import HostPort
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK

PATRONI_BINARY = "/usr/bin/patroni"
POSTGRESQL_ROOT = Path("/usr/lib/postgresql")
NAMESPACE = "/odoo-resilience/"
#: Bootstrap (initdb) or a pg_basebackup clone, plus a pg_rewind on restart.
START_TIMEOUT_S = 120.0
_REST_TIMEOUT_S = 2.0
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class PatroniSettings:
    """The DCS timing and failover policy of one cluster (``bootstrap.dcs``)."""

    ttl: int = 10
    loop_wait: int = 2
    retry_timeout: int = 4
    maximum_lag_on_failover: int = 1048576
    synchronous_mode: bool = False

    def __post_init__(self) -> None:
        problems = [
            f"{key} must be a positive number of seconds, saw {value}"
            for key, value in (
                ("ttl", self.ttl),
                ("loop_wait", self.loop_wait),
                ("retry_timeout", self.retry_timeout),
            )
            if value <= 0
        ]
        if self.loop_wait + 2 * self.retry_timeout > self.ttl:
            # Patroni's own rule: a leader must be able to retry the DCS twice within one
            # HA loop before its lock expires, or a healthy leader loses its lock.
            problems.append(
                f"Patroni needs loop_wait + 2 * retry_timeout <= ttl, saw "
                f"{self.loop_wait} + 2 * {self.retry_timeout} = "
                f"{self.loop_wait + 2 * self.retry_timeout} > ttl {self.ttl}; raise ttl or "
                "lower loop_wait/retry_timeout"
            )
        if self.maximum_lag_on_failover < 0:
            problems.append(
                f"maximum_lag_on_failover must be >= 0 bytes, saw {self.maximum_lag_on_failover}"
            )
        if problems:
            raise ConfigError("invalid Patroni settings: " + "; ".join(problems))


@dataclass(frozen=True)
class DbCredentials:
    """The accounts of one cluster; passwords never appear in ``repr``."""

    superuser: str
    superuser_password: str = field(repr=False)
    replication_user: str
    replication_password: str = field(repr=False)
    app_user: str
    app_password: str = field(repr=False)
    app_database: str
    tenant_databases: tuple[str, ...] = ()
    """Further databases the app user owns: other tenants on the same cluster."""

    def __post_init__(self) -> None:
        names = (
            self.superuser,
            self.replication_user,
            self.app_user,
            self.app_database,
            *self.tenant_databases,
        )
        bad = [n for n in names if not _IDENTIFIER.match(n)]
        if bad:
            raise ConfigError(
                f"database names must be lower-case SQL identifiers ([a-z_][a-z0-9_]*), saw "
                f"{', '.join(repr(b) for b in bad)}; rename them"
            )
        if len({self.superuser, self.replication_user, self.app_user}) != 3:
            raise ConfigError(
                f"superuser, replication and app users must differ, saw {self.superuser!r}, "
                f"{self.replication_user!r}, {self.app_user!r}"
            )

    @staticmethod
    def generate(app_database: str = "odoo", app_user: str = "odoo") -> DbCredentials:
        """Fresh random passwords (hex, so they need no quoting in SQL, YAML or conninfo)."""
        return DbCredentials(
            superuser="postgres",
            superuser_password=secrets.token_hex(16),
            replication_user="replicator",
            replication_password=secrets.token_hex(16),
            app_user=app_user,
            app_password=secrets.token_hex(16),
            app_database=app_database,
        )


class DbRole(enum.Enum):
    """A member's role as Patroni's ``/cluster`` reports it."""

    LEADER = "leader"
    REPLICA = "replica"
    SYNC_STANDBY = "sync_standby"
    STANDBY_LEADER = "standby_leader"


@dataclass(frozen=True)
class DbMember:
    """One member in Patroni's cluster view.

    ``lag_bytes`` is None for the leader and when Patroni does not know it yet;
    ``timeline`` is None until the member has reported one.
    """

    name: str
    role: DbRole
    state: str
    address: HostPort
    lag_bytes: int | None
    timeline: int | None


def postgres_bin_dir(root: Path = POSTGRESQL_ROOT) -> Path:
    """``bin`` of the newest PostgreSQL major installed under ``root``."""
    majors: list[tuple[int, Path]] = []
    if root.is_dir():
        majors = [
            (int(entry.name), entry / "bin")
            for entry in root.iterdir()
            if entry.name.isdigit() and (entry / "bin" / "postgres").is_file()
        ]
    if not majors:
        raise PrerequisiteMissing(
            f"expected a PostgreSQL server under {root}/<major>/bin, found none. Install one "
            "(`apt-get install postgresql-15`) or run `odoo-resilience doctor`."
        )
    return max(majors)[1]


def _require_patroni() -> None:
    if not os.access(PATRONI_BINARY, os.X_OK):
        raise PrerequisiteMissing(
            f"expected Patroni at {PATRONI_BINARY}, found nothing executable there. Install "
            "Debian's package (`apt-get install patroni`), which brings python3-etcd and "
            "python3-psycopg2 for the system python."
        )


class PatroniMember(Daemon):
    """One Patroni-managed PostgreSQL member; satisfies ``LocalComponent``."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        *,
        name: str,
        scope: str,
        pg_port: int,
        rest_port: int,
        etcd_url: str,
        settings: PatroniSettings,
        credentials: DbCredentials,
        archive_command: str | None = None,
    ) -> None:
        super().__init__(ctx, node, name)
        self.scope = scope
        self.pg_port = pg_port
        self.rest_port = rest_port
        self.etcd_url = etcd_url
        self.settings = settings
        self.credentials = credentials
        self.archive_command = archive_command
        self._member_dir = ctx.data_dir(name, owner=ctx.db_user, mode=0o700)

    # -- identity ---------------------------------------------------------------------

    @property
    def pg_address(self) -> HostPort:
        return HostPort(LOOPBACK, self.pg_port)

    @property
    def rest_address(self) -> HostPort:
        return HostPort(LOOPBACK, self.rest_port)

    @property
    def rest_url(self) -> str:
        return f"http://{self.rest_address}"

    @property
    def member_dir(self) -> Path:
        """Config, pgpass, unix socket and ``pgdata`` of this member (owned by the DB user)."""
        return self._member_dir

    @property
    def pgdata(self) -> Path:
        return self.member_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.member_dir / "socket"

    def conninfo(
        self, *, dbname: str | None = None, superuser: bool = False, connect_timeout_s: int = 3
    ) -> str:
        """A libpq conninfo straight to this member's PostgreSQL (bypassing HAProxy)."""
        creds = self.credentials
        user, password = (
            (creds.superuser, creds.superuser_password)
            if superuser
            else (creds.app_user, creds.app_password)
        )
        return (
            f"host={LOOPBACK} port={self.pg_port} dbname={dbname or creds.app_database} "
            f"user={user} password={password} connect_timeout={connect_timeout_s}"
        )

    # -- configuration ----------------------------------------------------------------
    def config(self, bin_dir: Path) -> dict[str, object]:
        """Patroni's YAML configuration for this member, as a mapping."""
        creds = self.credentials
        settings = self.settings
        hba = [
            # pgBackRest runs as the DB user over the member's unix socket.
            f"local all {creds.superuser} peer",
            f"host all {creds.superuser} {LOOPBACK}/32 scram-sha-256",
            f"host replication {creds.replication_user} {LOOPBACK}/32 scram-sha-256",
            # The app role also reaches `postgres` (readiness, Odoo's db listing and
            # cron LISTEN) and template databases (Odoo's init).
            f"host all {creds.app_user} {LOOPBACK}/32 scram-sha-256",
        ]
        local_parameters: dict[str, object] = {
            "unix_socket_directories": str(self.socket_dir),
            "archive_mode": "on" if self.archive_command else "off",
        }
        if self.archive_command:
            local_parameters["archive_command"] = self.archive_command
        return {
            "scope": self.scope,
            "name": self._name,
            "namespace": NAMESPACE,
            "log": {"level": "INFO", "format": "%(asctime)s %(levelname)s: %(message)s"},
            "restapi": {
                "listen": str(self.rest_address),
                "connect_address": str(self.rest_address),
            },
            "etcd3": {"hosts": [self.etcd_url.removeprefix("http://")], "protocol": "http"},
            "bootstrap": {
                "dcs": {
                    "ttl": settings.ttl,
                    "loop_wait": settings.loop_wait,
                    "retry_timeout": settings.retry_timeout,
                    "maximum_lag_on_failover": settings.maximum_lag_on_failover,
                    "synchronous_mode": settings.synchronous_mode,
                    "postgresql": {
                        "use_pg_rewind": True,
                        "use_slots": True,
                        "parameters": {
                            "wal_level": "replica",
                            "hot_standby": "on",
                            "wal_log_hints": "on",
                            "max_wal_senders": 10,
                            "max_replication_slots": 10,
                            "wal_keep_size": "128MB",
                        },
                    },
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
                "post_bootstrap": str(self.member_dir / "post_bootstrap.sh"),
            },
            "postgresql": {
                "listen": str(self.pg_address),
                "connect_address": str(self.pg_address),
                "data_dir": str(self.pgdata),
                "bin_dir": str(bin_dir),
                "pgpass": str(self.member_dir / "pgpass"),
                # The default spread checkpoint makes a clone wait up to checkpoint_timeout.
                "basebackup": [{"checkpoint": "fast"}],
                "authentication": {
                    "superuser": {
                        "username": creds.superuser,
                        "password": creds.superuser_password,
                    },
                    "replication": {
                        "username": creds.replication_user,
                        "password": creds.replication_password,
                    },
                },
                "pg_hba": hba,
                "parameters": local_parameters,
            },
        }

    def _post_bootstrap_script(self, bin_dir: Path) -> str:
        creds = self.credentials
        # Patroni passes the superuser's connection string as $1 and a pgpass in the env.
        return (
            "#!/bin/sh\n"
            "set -e\n"
            f'"{bin_dir}/psql" "$1" -v ON_ERROR_STOP=1 -q <<SQL\n'
            f"CREATE ROLE {creds.app_user} LOGIN PASSWORD '{creds.app_password}';\n"
            + "".join(
                f"CREATE DATABASE {name} OWNER {creds.app_user};\n"
                for name in (creds.app_database, *creds.tenant_databases)
            )
            + "SQL\n"
        )

    def write_config(self) -> Path:
        """Write ``patroni.yml`` and the bootstrap script (owner-only: they hold passwords)."""
        bin_dir = postgres_bin_dir()
        member_dir = self.member_dir
        user = self._ctx.db_user
        files = {
            member_dir / "patroni.yml": yaml.safe_dump(self.config(bin_dir), sort_keys=False),
            member_dir / "post_bootstrap.sh": self._post_bootstrap_script(bin_dir),
        }
        for path, text in files.items():
            path.write_text(text)
            os.chmod(path, 0o700)
            if os.geteuid() == 0:
                os.chown(path, user.uid, user.gid)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.socket_dir, user.uid, user.gid)
        return member_dir / "patroni.yml"

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self.running():
            return
        _require_patroni()
        self._launch(
            [PATRONI_BINARY, str(self.write_config())],
            ready=self._serving,
            what=f"leader (GET {self.rest_url}/primary 200) or streaming replica",
            timeout_s=START_TIMEOUT_S,
            cwd=self.member_dir,
            user=self._ctx.db_user.name,
            interval_s=0.2,
        )

    def _serving(self) -> bool:
        if _get_status(f"{self.rest_url}/primary") == 200:
            return True
        if _get_status(f"{self.rest_url}/replica") != 200:
            return False
        view = PatroniCluster({self._name: self.rest_url})
        return self._name in view.streaming_replicas()

    def stop(self, grace_s: float = 10.0) -> None:
        if self._process is None:
            return
        # Patroni stops PostgreSQL itself on SIGTERM (a fast shutdown, then its own exit).
        # The postmaster runs in its own session, so whatever outlives the grace period is
        # killed through the member's cgroup leaf rather than its process group.
        super().stop(grace_s)
        cgroups = self._ctx.cgroups
        leaf = f"{self._node}/{self._name}"
        if cgroups is None:
            return
        deadline = time.monotonic() + grace_s
        while cgroups.pids(leaf) and time.monotonic() < deadline:
            time.sleep(0.1)
        cgroups.kill(leaf)

    def healthy(self) -> bool:
        return _get_status(f"{self.rest_url}/health") == 200


def _get_status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=_REST_TIMEOUT_S).status_code
    except httpx.HTTPError:
        return None


def _get_body(url: str) -> object:
    """The JSON a member's REST API answers, or None when it does not answer JSON."""
    try:
        response = httpx.get(url, timeout=_REST_TIMEOUT_S)
    except httpx.HTTPError:
        return None
    with contextlib.suppress(ValueError):
        body: object = response.json()
        return body
    return None


def _get_json(url: str) -> dict[str, object] | None:
    body = _get_body(url)
    return body if isinstance(body, dict) else None


def _get_list(url: str) -> list[object] | None:
    body = _get_body(url)
    return body if isinstance(body, list) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ns(stamp: object) -> int | None:
    """Nanoseconds since the epoch of an ISO 8601 instant with a UTC offset, else None."""
    if not isinstance(stamp, str):
        return None
    try:
        instant = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if instant.tzinfo is None:
        return None
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parse_history(body: object) -> tuple[Promotion, ...]:
    """The promotions in Patroni's ``GET /history`` that carry their instant, oldest first.

    Patroni 3.0 answers ``[[timeline, lsn, reason, timestamp, new_leader], ...]``: each
    line is the timeline that ended at ``lsn``; the next line's timeline (or, for the
    last line, this one's plus 1) is the timeline the promotion started. The timestamp
    is the modification time of the new timeline's history file, which PostgreSQL
    writes as the promoted replica leaves recovery, before it accepts a write. Lines
    Patroni could not date (no timestamp) are left out.
    """
    lines: list[object] = body if isinstance(body, list) else []
    parents: list[int] = []
    for line in lines:
        parent = _int_or_none(line[0]) if isinstance(line, list) and len(line) >= 3 else None
        if parent is None:
            break
        parents.append(parent)
    if not isinstance(body, list) or len(parents) != len(lines):
        raise PlatformError(
            "expected Patroni's GET /history as [[timeline, lsn, reason, timestamp, "
            f"new_leader], ...], saw {str(body)[:300]}; is this Patroni 3.0?"
        )
    promotions: list[Promotion] = []
    for index, line in enumerate(lines):
        assert isinstance(line, list)  # checked while reading the parents
        if len(line) < 4:
            continue
        wall_ns = _epoch_ns(line[3])
        if wall_ns is None:
            raise PlatformError(
                f"expected an ISO 8601 instant with a UTC offset in Patroni's GET /history "
                f"line {line}, saw {line[3]!r}; is this Patroni 3.0?"
            )
        leader = line[4] if len(line) >= 5 and isinstance(line[4], str) else None
        following = parents[index + 1] if index + 1 < len(parents) else parents[index] + 1
        promotions.append(Promotion(parents[index], following, wall_ns, leader))
    return tuple(promotions)


def _role(value: object) -> DbRole:
    try:
        return DbRole(value)
    except ValueError as exc:
        raise PlatformError(
            f"expected a Patroni role ({', '.join(r.value for r in DbRole)}), saw {value!r}; "
            "is this Patroni 3.0?"
        ) from exc


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class FailoverOutcome:
    """What a switchover or failover did, as the REST API and the cluster view saw it."""

    old_leader: str
    new_leader: str
    old_timeline: int | None
    new_timeline: int | None
    seconds: float


class PatroniCluster:
    """The cluster as its members' REST APIs show it (``name -> http://host:port``)."""

    def __init__(self, rest_urls: Mapping[str, str]) -> None:
        if not rest_urls:
            raise ConfigError("PatroniCluster needs at least one member's REST URL, saw none")
        self.rest_urls = dict(rest_urls)

    @staticmethod
    def of(members: Sequence[PatroniMember]) -> PatroniCluster:
        return PatroniCluster({m.name: m.rest_url for m in members})

    # -- reading ----------------------------------------------------------------------
    def _cluster_json(self) -> dict[str, object]:
        # Any member answers for the whole cluster (it reads the DCS); a dead or frozen one
        # is skipped after the short timeout.
        for url in self.rest_urls.values():
            body = _get_json(f"{url}/cluster")
            if body is not None and isinstance(body.get("members"), list):
                return body
        raise PlatformError(
            "expected one of the Patroni REST APIs to answer GET /cluster, none did "
            f"({', '.join(self.rest_urls.values())}); look at the members' logs."
        )

    def members(self) -> list[DbMember]:
        members = self._cluster_json()["members"]
        assert isinstance(members, list)  # checked by _cluster_json
        found: list[DbMember] = []
        for entry in members:
            if not isinstance(entry, dict):
                continue
            lag = entry.get("lag")
            found.append(
                DbMember(
                    name=str(entry.get("name")),
                    role=_role(entry.get("role")),
                    state=str(entry.get("state", "")),
                    address=HostPort(str(entry.get("host")), _int_or_none(entry.get("port")) or 0),
                    lag_bytes=_int_or_none(lag),
                    timeline=_int_or_none(entry.get("timeline")),
                )
            )
        return found

    def leader(self) -> str | None:
        """The member holding the leader lock with PostgreSQL running, else None."""
        for member in self.members():
            if member.role is DbRole.LEADER and member.state == "running":
                return member.name
        return None

    def timeline(self) -> int | None:
        """The leader's timeline (it moves on at every promotion)."""
        leader = self.leader()
        if leader is None:
            return None
        status = _get_json(f"{self._url_of(leader)}/patroni")
        return _int_or_none(status.get("timeline")) if status else None

    def promotions(self) -> tuple[Promotion, ...]:
        """The promotions Patroni has on record (``parse_history``), from any member."""
        # Every member answers from its view of the DCS, where the leader keeps the record.
        for url in self.rest_urls.values():
            body = _get_list(f"{url}/history")
            if body is not None:
                return parse_history(body)
        raise PlatformError(
            "expected one of the Patroni REST APIs to answer GET /history, none did "
            f"({', '.join(self.rest_urls.values())}); look at the members' logs."
        )

    def streaming_replicas(self) -> set[str]:
        """Names the leader's WAL senders stream to, as its ``/patroni`` reports them."""
        leader = self.leader()
        if leader is None:
            return set()
        status = _get_json(f"{self._url_of(leader)}/patroni")
        replication = status.get("replication") if status else None
        if not isinstance(replication, list):
            return set()
        return {
            str(r.get("application_name"))
            for r in replication
            if isinstance(r, dict) and r.get("state") == "streaming"
        }

    def _url_of(self, name: str) -> str:
        if name in self.rest_urls:
            return self.rest_urls[name]
        # A member known only through the DCS (e.g. a view built from one member's URL):
        # its REST URL is in the cluster view.
        members = self._cluster_json()["members"]
        assert isinstance(members, list)
        for entry in members:
            if isinstance(entry, dict) and entry.get("name") == name and "api_url" in entry:
                return str(entry["api_url"]).removesuffix("/patroni")
        raise PlatformError(
            f"expected member {name!r} in the cluster, it is not there "
            f"(members: {', '.join(m.name for m in self.members())})"
        )

    # -- waiting ----------------------------------------------------------------------
    def wait_for_leader(self, timeout_s: float, not_equal: str | None = None) -> str:
        """The leader's name once there is one (other than ``not_equal``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with contextlib.suppress(PlatformError):
                leader = self.leader()
                if leader is not None and leader != not_equal:
                    return leader
            if time.monotonic() > deadline:
                other = f" other than {not_equal}" if not_equal else ""
                raise ComponentFailed(
                    f"expected a running Patroni leader{other} within {timeout_s:.0f} s, saw: "
                    f"{self._describe()}. Look at the members' logs (a member may be frozen, "
                    "or etcd unreachable)."
                )
            time.sleep(0.1)

    def wait_all_streaming(self, timeout_s: float) -> float:
        """Wait until every member other than the leader streams from it; the seconds it took."""
        start = time.monotonic()
        while True:
            with contextlib.suppress(PlatformError):
                leader = self.leader()
                if leader is not None:
                    expected = {n for n in self.rest_urls if n != leader}
                    if expected <= self.streaming_replicas():
                        return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise ComponentFailed(
                    f"expected every replica to stream from the leader within {timeout_s:.0f} s, "
                    f"saw: {self._describe()}; streaming: "
                    f"{', '.join(sorted(self._streaming_or_empty())) or 'none'}. "
                    "Look at the replicas' logs (pg_basebackup or pg_rewind may have failed)."
                )
            time.sleep(0.2)

    def _streaming_or_empty(self) -> set[str]:
        try:
            return self.streaming_replicas()
        except PlatformError:
            return set()

    def _describe(self) -> str:
        try:
            members = self.members()
        except PlatformError as exc:
            return str(exc)
        return ", ".join(
            f"{m.name} {m.role.value} {m.state or '?'} tl={m.timeline} lag={m.lag_bytes}"
            for m in members
        )

    # -- acting -----------------------------------------------------------------------
    def switchover(self, candidate: str | None = None, timeout_s: float = 60.0) -> FailoverOutcome:
        """Planned leader change; returns once the new leader runs and every replica streams."""
        start = time.monotonic()
        old = self.wait_for_leader(timeout_s)
        old_timeline = self.timeline()
        body: dict[str, str] = {"leader": old}
        if candidate is not None:
            body["candidate"] = candidate
        self._post(old, "switchover", body)
        return self._await_new_leader(old, old_timeline, candidate, start, timeout_s)

    def failover(self, candidate: str, timeout_s: float = 60.0) -> FailoverOutcome:
        """Promote ``candidate`` now, whatever the leader's state (POST /failover)."""
        start = time.monotonic()
        old = self.wait_for_leader(timeout_s)
        old_timeline = self.timeline()
        self._post(candidate, "failover", {"candidate": candidate})
        return self._await_new_leader(old, old_timeline, candidate, start, timeout_s)

    def _post(self, member: str, action: str, body: Mapping[str, str]) -> None:
        url = f"{self._url_of(member)}/{action}"
        try:
            # Patroni answers once the action finished or its own wait ran out.
            response = httpx.post(url, json=dict(body), timeout=60.0)
        except httpx.HTTPError as exc:
            raise PlatformError(
                f"expected Patroni to accept POST {url} {dict(body)}, the request failed: {exc}"
            ) from exc
        if response.status_code != 200:
            raise PlatformError(
                f"expected 200 from POST {url} {dict(body)}, saw {response.status_code}: "
                f"{response.text.strip()[:300]}. Cluster: {self._describe()}"
            )

    def _await_new_leader(
        self,
        old: str,
        old_timeline: int | None,
        candidate: str | None,
        start: float,
        timeout_s: float,
    ) -> FailoverOutcome:
        remaining = max(1.0, timeout_s - (time.monotonic() - start))
        new = self.wait_for_leader(remaining, not_equal=old)
        if candidate is not None and new != candidate:
            raise PlatformError(
                f"expected {candidate} to lead after the change, saw {new}; cluster: "
                f"{self._describe()}"
            )
        remaining = max(1.0, timeout_s - (time.monotonic() - start))
        self.wait_all_streaming(remaining)
        return FailoverOutcome(
            old_leader=old,
            new_leader=new,
            old_timeline=old_timeline,
            new_timeline=self.timeline(),
            seconds=time.monotonic() - start,
        )
