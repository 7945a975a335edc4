"""The DB router of the local platform: HAProxy in front of the Patroni members.

This is what the Kubernetes ``-rw``/``-ro`` Services are on kind: the app connects to
one address and HAProxy forwards to whichever member Patroni says is primary (``rw``)
or a healthy replica (``ro``). The health check asks each member's Patroni REST port
(``GET /primary`` or ``/replica``) while traffic goes to its PostgreSQL port, and
``on-marked-down shutdown-sessions`` cuts the sessions to a demoted or dead member so
clients reconnect to the new primary instead of hanging on the old one.

HAProxy runs as root in the foreground (``-db``): it binds only unprivileged loopback
ports and reads no DB data, so it needs nothing of the DB user, and keeping it out of
the DB user's processes keeps a DB-node fault from touching the router by accident.
The stats page (CSV at ``/;csv``) is what status and readiness read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
import psycopg

from harness.errors import ConfigError, PlatformError
from harness.platform.endpoints import HostPort
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.patroni import DbCredentials
from harness.platform.local.ports import LOOPBACK
from harness.platform.local.process import require_binary

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RoutedMember:
    """A DB member as HAProxy sees it: where traffic goes and where its health is asked."""

    name: str
    pg: HostPort
    rest: HostPort


@dataclass(frozen=True)
class ServerStatus:
    """One server line of the stats page: ``status`` is HAProxy's (UP, DOWN, ...)."""

    proxy: str
    server: str
    status: str


class HAProxy(Daemon):
    """HAProxy routing ``rw`` to the primary and ``ro`` to replicas; a ``LocalComponent``.

    ``members`` are ``(name, PostgreSQL address, Patroni REST address)``; ``credentials``
    let the readiness check prove that ``rw`` reaches a primary.
    """

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        *,
        rw_port: int,
        ro_port: int,
        stats_port: int,
        members: Sequence[tuple[str, HostPort, HostPort]],
        credentials: DbCredentials,
        check_interval_ms: int = 1000,
        fall: int = 2,
        rise: int = 1,
        name: str = "haproxy",
    ) -> None:
        if not members:
            raise ConfigError("HAProxy needs at least one DB member to route to, saw none")
        if check_interval_ms <= 0 or fall <= 0 or rise <= 0:
            raise ConfigError(
                "HAProxy check_interval_ms, fall and rise must be positive, saw "
                f"{check_interval_ms}, {fall}, {rise}"
            )
        super().__init__(ctx, node, name)
        self.rw_port = rw_port
        self.ro_port = ro_port
        self.stats_port = stats_port
        self.members = tuple(RoutedMember(name, pg, rest) for name, pg, rest in members)
        self.credentials = credentials
        self.check_interval_ms = check_interval_ms
        self.fall = fall
        self.rise = rise

    @property
    def rw(self) -> HostPort:
        return HostPort(LOOPBACK, self.rw_port)

    @property
    def ro(self) -> HostPort:
        return HostPort(LOOPBACK, self.ro_port)

    @property
    def stats_url(self) -> str:
        return f"http://{LOOPBACK}:{self.stats_port}/"

    def config(self) -> str:
        """The whole haproxy.cfg."""
        default_server = (
            f"    default-server inter {self.check_interval_ms}ms fall {self.fall} "
            f"rise {self.rise} on-marked-down shutdown-sessions\n"
        )
        servers = "".join(
            f"    server {m.name} {m.pg} check addr {m.rest.host} port {m.rest.port}\n"
            for m in self.members
        )
        sections = [
            "global\n    maxconn 512\n",
            # Long client/server timeouts: idle app connections to PostgreSQL are normal.
            "defaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30m\n"
            "    timeout server 30m\n    timeout check 2s\n",
            f"listen stats\n    mode http\n    bind {LOOPBACK}:{self.stats_port}\n"
            "    stats enable\n    stats uri /\n    stats refresh 5s\n",
        ]
        for proxy, port, check in (
            ("rw", self.rw_port, "/primary"),
            ("ro", self.ro_port, "/replica"),
        ):
            sections.append(
                f"listen {proxy}\n    bind {LOOPBACK}:{port}\n    balance roundrobin\n"
                f"    option httpchk GET {check}\n    http-check expect status 200\n"
                f"{default_server}{servers}"
            )
        return "\n".join(sections)

    def start(self) -> None:
        if self.running():
            return
        binary = require_binary("haproxy", "install Debian's haproxy (`apt-get install haproxy`)")
        config_path = self._ctx.data_dir(self._name) / "haproxy.cfg"
        config_path.write_text(self.config())
        self._launch(
            [binary, "-db", "-f", str(config_path)],
            ready=self.healthy,
            what=f"exactly one rw server UP on {self.stats_url} and a primary behind {self.rw}",
            timeout_s=START_TIMEOUT_S,
            interval_s=0.2,
        )

    def servers(self) -> list[ServerStatus]:
        """The rw and ro servers with their check status, from the stats CSV."""
        try:
            response = httpx.get(f"{self.stats_url};csv", timeout=2.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise PlatformError(
                f"expected HAProxy's stats page at {self.stats_url}, could not read it: {exc}. "
                "Is the haproxy component running?"
            ) from exc
        rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
        return [
            ServerStatus(row["pxname"], row["svname"], row["status"])
            for row in rows
            if row["pxname"] in ("rw", "ro") and row["svname"] not in ("FRONTEND", "BACKEND")
        ]

    def rw_servers_up(self) -> list[str]:
        return [s.server for s in self.servers() if s.proxy == "rw" and s.status == "UP"]

    def reaches_primary(self) -> bool:
        """A connection through ``rw`` lands on a PostgreSQL that is not in recovery."""
        creds = self.credentials
        conninfo = (
            f"host={LOOPBACK} port={self.rw_port} dbname={creds.app_database} "
            f"user={creds.app_user} password={creds.app_password} connect_timeout=2"
        )
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except psycopg.Error:
            return False
        return row is not None and row[0] is False

    def healthy(self) -> bool:
        try:
            return len(self.rw_servers_up()) == 1 and self.reaches_primary()
        except PlatformError:
            return False
