"""Where a running stack can be reached: the one description every platform returns.

Scenarios, load, probes and reports read these; none of them knows which platform
produced them. Secrets (DB password, S3 keys) live here and must never be written
into evidence (reports strip them).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class DatabaseAccess:
    """How the app reaches PostgreSQL: the read-write and read-only routes."""

    rw: HostPort
    ro: HostPort
    dbname: str
    user: str
    password: str

    def conninfo(
        self, *, readonly: bool = False, connect_timeout_s: int = 3, dbname: str | None = None
    ) -> str:
        """libpq conninfo of ``dbname`` (default: the app's own database)."""
        target = self.ro if readonly else self.rw
        return (
            f"host={target.host} port={target.port} dbname={dbname or self.dbname} "
            f"user={self.user} password={self.password} connect_timeout={connect_timeout_s}"
        )


@dataclass(frozen=True)
class S3Access:
    """The object store's S3 API."""

    endpoint: HostPort
    access_key: str
    secret_key: str
    region: str
    attachments_bucket: str
    backups_bucket: str
    ca_file: str  # PEM of the CA that signed the gateway's certificate (HTTPS)

    @property
    def url(self) -> str:
        return f"https://{self.endpoint.host}:{self.endpoint.port}"


@dataclass(frozen=True)
class AppLogin:
    """The Odoo database and the account scenarios, load and probes log in with."""

    db: str
    login: str
    password: str


@dataclass(frozen=True)
class StackEndpoints:
    """Everything a scenario needs to talk to a running stack."""

    platform: str
    run_id: str
    ingress_url: str
    app_login: AppLogin
    db: DatabaseAccess
    redis: HostPort
    s3: S3Access
    toxiproxy_api: str
    traefik_api: str
    traefik_metrics: str
    patroni_rest: dict[str, str] = field(default_factory=dict)
    apps: dict[str, str] = field(default_factory=dict)
    tenants: tuple[AppLogin, ...] = ()
    """Other tenants' databases on the same stack, same app and account (none: one tenant)."""
