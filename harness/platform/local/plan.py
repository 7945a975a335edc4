"""A run's plan: every port and secret of the stack, fixed before anything starts.

Choosing all ports up front lets each component's configuration name its peers
before they run, and lets ``status``/``down`` (other processes, later) find the
stack from ``state.json`` alone. The plan holds secrets, so its file is 0600.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.errors import PlatformError
from harness.platform.local.ports import pick_free_ports
from harness.platform.local.topology import Topology, parse_topology

#: Named ports each component needs; app instances and DB members repeat per name.
PORT_ROLES: dict[str, tuple[str, ...]] = {
    "etcd": ("client", "peer"),
    "pg": ("pg", "rest"),
    "haproxy": ("rw", "ro", "stats"),
    "redis": ("redis",),
    "s3": (
        "s3",
        "s3_grpc",
        "master",
        "master_grpc",
        "volume",
        "volume_grpc",
        "filer",
        "filer_grpc",
    ),
    "toxiproxy": ("api",),
    "traefik": ("web", "api", "metrics"),
    "app": ("http", "gevent"),
}


def proxy_names(topology: Topology) -> list[str]:
    """The Toxiproxy links: app→DB (rw and ro), app→Redis, app→S3, ingress→each app."""
    return ["db", "db-ro", "redis", "s3", *(f"ingress-{a}" for a in topology.app_instances)]


@dataclass(frozen=True)
class Credentials:
    db_superuser_password: str
    db_replication_password: str
    db_app_password: str
    s3_access_key: str
    s3_secret_key: str
    app_admin_password: str
    app_control_token: str

    @staticmethod
    def generate() -> Credentials:
        return Credentials(
            db_superuser_password=secrets.token_urlsafe(18),
            db_replication_password=secrets.token_urlsafe(18),
            db_app_password=secrets.token_urlsafe(18),
            s3_access_key="AK" + secrets.token_hex(8).upper(),
            s3_secret_key=secrets.token_urlsafe(30),
            app_admin_password=secrets.token_urlsafe(18),
            app_control_token=secrets.token_urlsafe(18),
        )

    def all_secrets(self) -> list[str]:
        return [
            self.db_superuser_password,
            self.db_replication_password,
            self.db_app_password,
            self.s3_access_key,
            self.s3_secret_key,
            self.app_admin_password,
            self.app_control_token,
        ]


@dataclass(frozen=True)
class AppSpec:
    """What the app instances run: the Odoo double, or a real ``odoo-bin`` when given."""

    odoo_bin: str | None = None
    odoo_python: str | None = None
    addons_path: str | None = None
    template_cache: str | None = None
    """Where initialised Odoo databases are kept as dumps between runs."""


#: The default app: the Odoo double.
THE_DOUBLE = AppSpec()


@dataclass(frozen=True)
class StackPlan:
    run_id: str
    run_dir: Path
    topology_text: str
    topology_source: str
    ports: dict[str, dict[str, int]]
    proxy_ports: dict[str, int]
    credentials: Credentials
    app: AppSpec = THE_DOUBLE
    db_name: str = "odoo"
    tenant_db_names: tuple[str, ...] = ("odoo_tenant2",)
    """Further tenant databases on the same stack (the app serves them all)."""
    db_app_user: str = "odoo"
    scope: str = "odoo-resilience"

    @property
    def topology(self) -> Topology:
        return parse_topology(self.topology_text, self.topology_source)

    def port(self, component: str, role: str) -> int:
        try:
            return self.ports[component][role]
        except KeyError as exc:
            raise PlatformError(f"the plan has no {role!r} port for {component!r}") from exc

    def save(self) -> Path:
        path = self.run_dir / "plan.json"
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2)
        os.replace(tmp, path)
        return path

    @staticmethod
    def load(run_dir: Path) -> StackPlan:
        path = run_dir / "plan.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PlatformError(
                f"{run_dir} holds no plan.json: it is not a run directory of the local platform "
                "(or `up` failed before planning). Pass the directory `up` printed to --run-dir."
            ) from exc
        return StackPlan(
            run_id=data["run_id"],
            run_dir=Path(data["run_dir"]),
            topology_text=data["topology_text"],
            topology_source=data["topology_source"],
            ports={k: dict(v) for k, v in data["ports"].items()},
            proxy_ports=dict(data["proxy_ports"]),
            credentials=Credentials(**data["credentials"]),
            app=AppSpec(**data.get("app", {})),
            db_name=data["db_name"],
            tenant_db_names=tuple(data.get("tenant_db_names", ())),
            db_app_user=data["db_app_user"],
            scope=data["scope"],
        )


def make_plan(
    run_id: str,
    run_dir: Path,
    topology_text: str,
    topology_source: str,
    app: AppSpec = THE_DOUBLE,
) -> StackPlan:
    """Pick every port at once (no two alike) and generate the run's secrets."""
    topology = parse_topology(topology_text, topology_source)
    wanted: list[tuple[str, str]] = []
    for node_members in topology.nodes.values():
        for component in node_members:
            kind = component.split("-")[0] if component.startswith(("pg-", "app-")) else component
            wanted.extend((component, role) for role in PORT_ROLES[kind])
    proxies = proxy_names(topology)
    free = pick_free_ports(len(wanted) + len(proxies))
    ports: dict[str, dict[str, int]] = {}
    for (component, role), port in zip(wanted, free, strict=False):
        ports.setdefault(component, {})[role] = port
    proxy_ports = dict(zip(proxies, free[len(wanted) :], strict=True))
    return StackPlan(
        run_id=run_id,
        run_dir=run_dir,
        topology_text=topology_text,
        topology_source=topology_source,
        ports=ports,
        proxy_ports=proxy_ports,
        credentials=Credentials.generate(),
        app=app,
    )
