"""``LocalPlatform``: the whole stack as real daemons on this host.

It turns a ``StackPlan`` into components, starts them in dependency order
(returning only when each passed its readiness check), and offers the primitive
operations faults are built from: crash/freeze/throttle a node (its cgroup),
kill/stop/start a component, Patroni switchover/failover and its record of
promotions, Traefik weights.

A ``LocalPlatform`` can also be built in another process from the same run
directory (``status`` and ``down`` from the CLI): everything it needs is in the
plan, the cgroups and the daemons' own APIs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

from harness.doctor import Level, local_checks
from harness.errors import ConfigError, HarnessError, PlatformError, PrerequisiteMissing
from harness.platform.base import (
    ComponentStatus,
    DbMemberStatus,
    Health,
    IoLimits,
    PlatformTimings,
    Promotion,
    StackStatus,
)
from harness.platform.endpoints import (
    AppLogin,
    DatabaseAccess,
    HostPort,
    S3Access,
    StackEndpoints,
)
from harness.platform.local import cgroups
from harness.platform.local.apps import AppInstance
from harness.platform.local.cgroups import CgroupTree, block_device_of
from harness.platform.local.component import LocalComponent
from harness.platform.local.context import RunUser, StackContext
from harness.platform.local.etcd import Etcd
from harness.platform.local.fault_proxy import FaultProxy, ProxyRoute
from harness.platform.local.haproxy import HAProxy
from harness.platform.local.odoo import (
    AdminLogin,
    DbTarget,
    LibpqTimeouts,
    OdooBin,
    OdooDatabase,
    OdooInstance,
    instance_config,
)
from harness.platform.local.patroni import (
    DbCredentials,
    PatroniCluster,
    PatroniMember,
    PatroniSettings,
)
from harness.platform.local.pgbackrest import PgBackRest, PgMember
from harness.platform.local.plan import THE_DOUBLE, AppSpec, StackPlan, make_plan
from harness.platform.local.ports import (
    LOOPBACK,
    ensure_port_free,
    pick_free_ports,
    port_is_listening,
)
from harness.platform.local.process import (
    become_subreaper,
    log_window,
    pid_running,
    reap_orphans,
    run_checked,
)
from harness.platform.local.redis import Redis
from harness.platform.local.seaweedfs import S3Credentials, SeaweedFS, SeaweedGrpcPorts
from harness.platform.local.tls import ensure_tls
from harness.platform.local.traefik import ServerState, Traefik

Progress = Callable[[str], None]
REPO_ROOT = Path(__file__).resolve().parents[3]
BLUE, GREEN = "odoo-blue", "odoo-green"
#: Readiness that sees the database (odoo-facts.md 1.5): plain /web/health never does.
APP_READINESS = "/web/health?db_server_status=1"
APP_LIVENESS = "/web/health"
#: What a real Odoo's limit_time_real is sized to (odoo.instance_config).
ODOO_RTO_TARGET_S = 60.0
#: The most of one component's log a scenario keeps (first and last halves).
LOG_WINDOW_BYTES = 32 * 1024


def _quiet(_message: str) -> None:
    return None


class LocalPlatform:
    """The local platform of one run (see the module docstring)."""

    def __init__(self, plan: StackPlan) -> None:
        self.plan = plan
        self.topology = plan.topology
        reason = CgroupTree.available()
        self.cgroups = CgroupTree(plan.run_id) if reason is None else None
        self.cgroups_unavailable = reason
        self.ctx = StackContext(plan.run_id, plan.run_dir, self.cgroups, RunUser.for_db_tier())
        self.db_credentials = DbCredentials(
            superuser="postgres",
            superuser_password=plan.credentials.db_superuser_password,
            replication_user="replicator",
            replication_password=plan.credentials.db_replication_password,
            app_user=plan.db_app_user,
            app_password=plan.credentials.db_app_password,
            app_database=plan.db_name,
            # Real Odoo serves the run's database only (its dbfilter pins it).
            tenant_databases=plan.tenant_db_names if plan.app.odoo_bin is None else (),
        )
        self._components: dict[str, LocalComponent] = {}
        self._seen_pids: set[int] = set()
        self._reap_lock = threading.Lock()
        self._reaper: threading.Thread | None = None
        self._reaper_stop = threading.Event()
        self._build()

    @classmethod
    def create(
        cls, run_root: Path, topology: Path, run_id: str, app: AppSpec = THE_DOUBLE
    ) -> LocalPlatform:
        """Plan a new run under ``run_root`` (its directory, ports, secrets) and build it."""
        run_root.mkdir(parents=True, exist_ok=True)
        run_root.chmod(0o755)
        plan = make_plan(run_id, run_root / run_id, topology.read_text(), str(topology), app)
        plan.run_dir.mkdir()
        plan.save()
        return cls(plan)

    # -- assembly ---------------------------------------------------------------------
    def _node(self, component: str) -> str:
        return self.topology.node_of(component)

    def _hp(self, component: str, role: str) -> HostPort:
        return HostPort(LOOPBACK, self.plan.port(component, role))

    def _proxy(self, link: str) -> HostPort:
        return HostPort(LOOPBACK, self.plan.proxy_ports[link])

    def _build(self) -> None:
        plan, topo, ctx = self.plan, self.topology, self.ctx
        self.etcd = Etcd(
            ctx, self._node("etcd"), plan.port("etcd", "client"), plan.port("etcd", "peer")
        )
        self.s3 = SeaweedFS(
            ctx,
            self._node("s3"),
            s3_port=plan.port("s3", "s3"),
            master_port=plan.port("s3", "master"),
            volume_port=plan.port("s3", "volume"),
            filer_port=plan.port("s3", "filer"),
            credentials=S3Credentials(
                plan.credentials.s3_access_key, plan.credentials.s3_secret_key
            ),
            grpc_ports=SeaweedGrpcPorts(
                master=plan.port("s3", "master_grpc"),
                volume=plan.port("s3", "volume_grpc"),
                filer=plan.port("s3", "filer_grpc"),
                s3=plan.port("s3", "s3_grpc"),
            ),
            name="s3",
        )
        settings = PatroniSettings(
            ttl=topo.patroni.ttl,
            loop_wait=topo.patroni.loop_wait,
            retry_timeout=topo.patroni.retry_timeout,
        )
        self.members: list[PatroniMember] = []
        for name in topo.db_members:
            self.members.append(
                PatroniMember(
                    ctx,
                    self._node(name),
                    name=name,
                    scope=plan.scope,
                    pg_port=plan.port(name, "pg"),
                    rest_port=plan.port(name, "rest"),
                    etcd_url=self.etcd.url,
                    settings=settings,
                    credentials=self.db_credentials,
                    archive_command=None,
                )
            )
        self.pgbackrest = PgBackRest(
            ctx,
            plan.scope,
            self.s3_access(),
            [PgMember(m.name, m.pgdata, m.pg_port, m.socket_dir) for m in self.members],
        )
        for member in self.members:
            member.archive_command = self.pgbackrest.archive_command
        self.cluster = PatroniCluster.of(self.members)
        self.haproxy = HAProxy(
            ctx,
            self._node("haproxy"),
            rw_port=plan.port("haproxy", "rw"),
            ro_port=plan.port("haproxy", "ro"),
            stats_port=plan.port("haproxy", "stats"),
            members=[(m.name, m.pg_address, m.rest_address) for m in self.members],
            credentials=self.db_credentials,
            check_interval_ms=topo.haproxy.check_interval_ms,
            fall=topo.haproxy.fall,
            rise=topo.haproxy.rise,
        )
        self.redis = Redis(ctx, self._node("redis"), plan.port("redis", "redis"))
        routes = [
            ProxyRoute("db", self._proxy("db"), self._hp("haproxy", "rw")),
            ProxyRoute("db-ro", self._proxy("db-ro"), self._hp("haproxy", "ro")),
            ProxyRoute("redis", self._proxy("redis"), self._hp("redis", "redis")),
            ProxyRoute("s3", self._proxy("s3"), self._hp("s3", "s3")),
            *(
                ProxyRoute(f"ingress-{a}", self._proxy(f"ingress-{a}"), self._hp(a, "http"))
                for a in topo.app_instances
            ),
        ]
        self.fault_proxy = FaultProxy(
            ctx, self._node("toxiproxy"), self._hp("toxiproxy", "api"), routes
        )
        self.odoo = (
            OdooBin(
                Path(plan.app.odoo_bin),
                Path(plan.app.odoo_python) if plan.app.odoo_python else None,
                plan.app.addons_path,
            )
            if plan.app.odoo_bin
            else None
        )
        self.odoo_timeouts = LibpqTimeouts()
        self.apps = [
            self._odoo_instance(name, self.odoo)
            if self.odoo is not None
            else self._app(name, self._node(name), plan.port(name, "http"), "good")
            for name in topo.app_instances
        ]
        self.green: list[AppInstance] = []
        self.traefik = Traefik(
            ctx,
            self._node("traefik"),
            web_port=plan.port("traefik", "web"),
            api_port=plan.port("traefik", "api"),
            metrics_port=plan.port("traefik", "metrics"),
            services={
                BLUE: [f"http://{self._proxy(f'ingress-{a}')}" for a in topo.app_instances],
            },
            # Traefik cannot log in: on a real Odoo without db_server_status it sees
            # liveness only, and the platform's own readiness checks the database.
            health_path=APP_LIVENESS if self.odoo is not None else APP_READINESS,
            health_interval_ms=topo.traefik.health_interval_ms,
            health_timeout_ms=topo.traefik.health_timeout_ms,
        )
        ordered: list[LocalComponent] = [
            self.etcd,
            self.s3,
            *self.members,
            self.haproxy,
            self.redis,
            self.fault_proxy,
            *self.apps,
            self.traefik,
        ]
        self._components = {c.name: c for c in ordered}

    def _app_db(self, via: HostPort, dbname: str, superuser: bool = False) -> DbTarget:
        creds = self.plan.credentials
        if superuser:
            return DbTarget(via.host, via.port, dbname, "postgres", creds.db_superuser_password)
        return DbTarget(via.host, via.port, dbname, self.plan.db_app_user, creds.db_app_password)

    def _odoo_instance(self, name: str, odoo: OdooBin) -> AppInstance:
        """A real odoo-bin instance: prefork workers, libpq timeouts, DB-aware readiness."""
        config = instance_config(
            odoo,
            name,
            http_port=self.plan.port(name, "http"),
            gevent_port=self.plan.port(name, "gevent"),
            db=self._app_db(self._proxy("db"), self.plan.db_name),
            data_dir=self.ctx.data_dir(name) / "odoo-data",
            rto_target_s=ODOO_RTO_TARGET_S,
        )
        login = AdminLogin(self.plan.db_name, "admin", self.plan.credentials.app_admin_password)
        return OdooInstance(
            self.ctx, self._node(name), odoo, config, admin=login, timeouts=self.odoo_timeouts
        )

    def _prepare_odoo_database(self, odoo: OdooBin, progress: Progress) -> None:
        rw = self._hp("haproxy", "rw")
        cache = self.plan.app.template_cache
        prepared = OdooDatabase(
            odoo,
            superuser=self._app_db(rw, "postgres", superuser=True),
            app=self._app_db(rw, self.plan.db_name),
            cache_dir=Path(cache) if cache else self.ctx.data_dir("odoo-templates"),
            work_dir=self.ctx.data_dir("odoo-init"),
            timeouts=self.odoo_timeouts,
        ).prepare(self.plan.credentials.app_admin_password)
        progress(
            f"odoo database {prepared.database} from {prepared.source.value} "
            f"template {prepared.template}"
        )

    def _app(
        self, name: str, node: str, port: int, release: str, health_path: str = APP_READINESS
    ) -> AppInstance:
        return AppInstance(
            self.ctx,
            node,
            name,
            port=port,
            argv=self._app_argv(name, port, release),
            env=self._app_env(),
            health_path=health_path,
        )

    def _app_argv(self, name: str, port: int, release: str) -> list[str]:
        """The Odoo double as instance ``name``; every link goes through its proxy."""
        s3 = self.s3_access(via_proxy=True)
        return [
            sys.executable,
            "-m",
            "fixtures.odoo_double",
            "--name",
            name,
            "--port",
            str(port),
            "--db-name",
            ",".join((self.plan.db_name, *self.db_credentials.tenant_databases)),
            "--redis",
            str(self._proxy("redis")),
            "--s3-endpoint",
            s3.url,
            "--s3-bucket",
            s3.attachments_bucket,
            "--s3-ca",
            s3.ca_file,
            "--release",
            release,
        ]

    def _app_env(self) -> dict[str, str]:
        """Secrets reach the app through its environment, never its command line."""
        db, creds = self._proxy("db"), self.plan.credentials
        return {
            "PYTHONPATH": str(REPO_ROOT),
            "ODOO_DOUBLE_DB_DSN": (
                f"host={db.host} port={db.port} dbname={self.plan.db_name} "
                f"user={self.plan.db_app_user}"
            ),
            "PGPASSWORD": creds.db_app_password,
            "ODOO_DOUBLE_S3_ACCESS_KEY": creds.s3_access_key,
            "ODOO_DOUBLE_S3_SECRET_KEY": creds.s3_secret_key,
            "ODOO_DOUBLE_ADMIN_PASSWORD": creds.app_admin_password,
            "ODOO_DOUBLE_ADMIN_TOKEN": creds.app_control_token,
        }

    # -- Platform ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        return "local"

    def component(self, name: str) -> LocalComponent:
        try:
            return self._components[name]
        except KeyError:
            raise ConfigError(
                f"no component named {name!r}; components: {', '.join(self._components)}"
            ) from None

    def nodes(self) -> Mapping[str, tuple[str, ...]]:
        return dict(self.topology.nodes)

    def up(self, progress: Progress = _quiet) -> StackEndpoints:
        """Start everything in order; on any failure stop what started and re-raise."""
        become_subreaper()
        started = time.monotonic()
        try:
            self._preflight()
            self._start_reaper()
            ensure_tls(self.ctx)
            self._start(self.etcd, progress)
            self._start(self.s3, progress)
            leader, *replicas = self.members
            self._start(leader, progress)
            # Replicas bootstrap from the leader independently: start them together.
            self._start_together(replicas, progress)
            self._start(self.haproxy, progress)
            self.pgbackrest.stanza_create()
            progress("pgbackrest: stanza created; WAL archiving to the backups bucket")
            if self.odoo is not None:
                self._prepare_odoo_database(self.odoo, progress)
            self._start(self.redis, progress)
            self._start(self.fault_proxy, progress)
            self._start_together(self.apps, progress)
            self._start(self.traefik, progress)
        except BaseException:
            progress("up failed: stopping what was started")
            self.down(keep=True, progress=progress)
            raise
        endpoints = self.endpoints()
        self._write_json("endpoints.json", asdict(endpoints), secret=True)
        progress(f"stack ready in {time.monotonic() - started:.1f} s")
        return endpoints

    def _preflight(self) -> None:
        """Refuse to start anything when a prerequisite is missing or a port is taken."""
        missing = [c for c in local_checks() if c.level is Level.MISSING]
        if missing:
            lines = "\n".join(f"  {c.what}: {c.detail}; fix: {c.fix}" for c in missing)
            raise PrerequisiteMissing(f"the local platform cannot start here:\n{lines}")
        for component, roles in self.plan.ports.items():
            for role, port in roles.items():
                ensure_port_free(port, f"{component} ({role})")
        for link, port in self.plan.proxy_ports.items():
            ensure_port_free(port, f"the {link} proxy")
        self._check_reachable_by_db_user()
        if self.cgroups is not None:
            self.cgroups.create("")

    def _check_reachable_by_db_user(self) -> None:
        user = self.ctx.db_user
        if os.geteuid() != 0 or user.uid == 0:
            return
        for directory in [self.plan.run_dir, *self.plan.run_dir.parents]:
            st = directory.stat()
            if st.st_uid != user.uid and not st.st_mode & 0o001:
                raise PlatformError(
                    f"expected the run directory {self.plan.run_dir} to be reachable by the "
                    f"{user.name} user (PostgreSQL and Patroni run as it), but {directory} is "
                    f"mode {st.st_mode & 0o777:o}; set ODOO_RESILIENCE_RUN_ROOT to a directory "
                    "every user can traverse, e.g. /var/tmp/odoo-resilience"
                )

    def _start(self, component: LocalComponent, progress: Progress) -> None:
        t0 = time.monotonic()
        progress(f"{component.name} ({component.node}): starting")
        component.start()
        progress(f"{component.name} ({component.node}): ready in {time.monotonic() - t0:.1f} s")

    def _start_together(self, components: Sequence[LocalComponent], progress: Progress) -> None:
        with ThreadPoolExecutor(max_workers=max(1, len(components))) as pool:
            futures = [pool.submit(self._start, c, progress) for c in components]
            for future in futures:
                future.result()

    def _write_json(self, name: str, data: object, *, secret: bool = False) -> None:
        path = self.plan.run_dir / name
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=2, default=str)
        os.replace(tmp, path)

    def timings(self) -> PlatformTimings:
        topo = self.topology
        return PlatformTimings(
            leader_ttl_s=topo.patroni.ttl,
            ha_loop_s=topo.patroni.loop_wait,
            router_check_s=topo.haproxy.check_interval_ms / 1000,
            router_fall=topo.haproxy.fall,
            router_rise=topo.haproxy.rise,
            ingress_check_s=topo.traefik.health_interval_ms / 1000,
        )

    def endpoints(self) -> StackEndpoints:
        return StackEndpoints(
            platform="local",
            run_id=self.plan.run_id,
            ingress_url=f"http://{LOOPBACK}:{self.plan.port('traefik', 'web')}",
            app_login=AppLogin(
                self.plan.db_name, "admin", self.plan.credentials.app_admin_password
            ),
            tenants=tuple(
                AppLogin(name, "admin", self.plan.credentials.app_admin_password)
                for name in self.db_credentials.tenant_databases
            ),
            db=DatabaseAccess(
                rw=self._proxy("db"),
                ro=self._proxy("db-ro"),
                dbname=self.plan.db_name,
                user=self.plan.db_app_user,
                password=self.plan.credentials.db_app_password,
            ),
            redis=self._proxy("redis"),
            s3=self.s3_access(via_proxy=True),
            toxiproxy_api=self.fault_proxy.api_url,
            traefik_api=f"http://{LOOPBACK}:{self.plan.port('traefik', 'api')}",
            traefik_metrics=f"http://{LOOPBACK}:{self.plan.port('traefik', 'metrics')}/metrics",
            patroni_rest={m.name: m.rest_url for m in self.members},
            apps={a: f"http://{self._hp(a, 'http')}" for a in self.topology.app_instances},
        )

    def s3_access(self, *, via_proxy: bool = False) -> S3Access:
        """The S3 gateway; the app's route goes through the ``s3`` proxy, backups do not."""
        return S3Access(
            endpoint=self._proxy("s3") if via_proxy else self._hp("s3", "s3"),
            access_key=self.plan.credentials.s3_access_key,
            secret_key=self.plan.credentials.s3_secret_key,
            region="us-east-1",
            attachments_bucket="attachments",
            backups_bucket="backups",
            ca_file=str(ensure_tls(self.ctx).ca_cert),
        )

    def down(self, keep: bool = False, progress: Progress = _quiet) -> None:
        """Stop in reverse order, kill stragglers, remove cgroups (and data unless ``keep``).

        Components of one tier (the app instances, the DB members) stop together.
        """
        tiers: list[Sequence[LocalComponent]] = [
            [self.traefik],
            [*self.green, *self.apps],
            [self.fault_proxy, self.redis],
            [self.haproxy],
            self.members,
            [self.s3],
            [self.etcd],
        ]
        for tier in tiers:
            with ThreadPoolExecutor(max_workers=len(tier)) as pool:
                for _ in pool.map(self._stop_quietly, tier):
                    pass
        if self.cgroups is not None:
            self.cgroups.kill()
            deadline = time.monotonic() + 10
            while self.cgroups.pids() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.reap()
            self.cgroups.remove()
        self._stop_reaper()
        progress("all components stopped")
        if not keep:
            shutil.rmtree(self.plan.run_dir, ignore_errors=True)

    def _stop_quietly(self, component: LocalComponent) -> None:
        with contextlib.suppress(HarnessError, OSError):
            component.stop(grace_s=5.0)
        self._stop_leaf(component)

    def _stop_leaf(self, component: LocalComponent) -> None:
        """Stop processes another process started (attached mode): SIGTERM, then SIGKILL."""
        self._stop_pids(f"{component.node}/{component.name}")

    def _stop_pids(self, leaf: str) -> None:
        if self.cgroups is None:
            return
        node = leaf.split("/", maxsplit=1)[0]
        pids = self.cgroups.pids(leaf)
        if not pids:
            return
        if self.cgroups.is_frozen(node):
            self.cgroups.thaw(node)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while any(pid_running(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.cgroups.kill(leaf)

    def log_offsets(self) -> dict[str, int]:
        """Each component log's size in bytes now: where a log window opens."""
        offsets = {}
        for name, path in self.ctx.log_paths().items():
            with contextlib.suppress(FileNotFoundError):
                offsets[name] = path.stat().st_size
        return offsets

    def component_logs(
        self, since: Mapping[str, int], max_bytes: int = LOG_WINDOW_BYTES
    ) -> dict[str, str]:
        """What each component logged after ``since`` (from ``log_offsets``), bounded to
        ``max_bytes`` per component with a marker where bytes were left out; the log of a
        component absent from ``since`` (started later) is read from its beginning."""
        return {
            name: log_window(path, since.get(name, 0), max_bytes)
            for name, path in self.ctx.log_paths().items()
        }

    def reap(self) -> None:
        """Reap orphans of the stack (e.g. a postmaster whose Patroni died).

        Patroni waits for a stopped postmaster's pid to vanish, so an unreaped
        zombie would hang every demotion. Only pids seen in the run's cgroups are
        candidates; children ``Process`` owns are left to it.
        """
        if self.cgroups is None:
            return
        with self._reap_lock:
            self._seen_pids.update(self.cgroups.pids())
            owned = {p for p in (c.pid() for c in self._components.values()) if p is not None}
            reaped = reap_orphans(self._seen_pids - owned)
            self._seen_pids.difference_update(reaped)

    def _reap_loop(self) -> None:
        while not self._reaper_stop.wait(0.1):
            with contextlib.suppress(OSError, HarnessError):
                self.reap()

    def _start_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper_stop.clear()
            self._reaper = threading.Thread(target=self._reap_loop, name="reaper", daemon=True)
            self._reaper.start()

    def _stop_reaper(self) -> None:
        self._reaper_stop.set()
        if self._reaper is not None:
            self._reaper.join(timeout=5)
            self._reaper = None

    # -- node and component primitives -----------------------------------------------
    def _require_cgroups(self, what: str) -> CgroupTree:
        if self.cgroups is None:
            raise PlatformError(f"{what} is unavailable here: needs {self.cgroups_unavailable}")
        return self.cgroups

    def _check_node(self, node: str) -> None:
        if node not in self.topology.nodes:
            raise ConfigError(f"no node named {node!r}; nodes: {', '.join(self.topology.nodes)}")

    def crash_node(self, node: str) -> None:
        self._check_node(node)
        self._require_cgroups("crash_node").kill(node)
        self.reap()

    def freeze_node(self, node: str) -> None:
        self._check_node(node)
        self._require_cgroups("freeze_node").freeze(node)

    def thaw_node(self, node: str) -> None:
        self._check_node(node)
        self._require_cgroups("thaw_node").thaw(node)

    def node_pids(self, node: str) -> tuple[int, ...]:
        self._check_node(node)
        return tuple(cgroups.node_pids(self.plan.run_id, node))

    def node_freezer_states(self, node: str) -> Mapping[str, str]:
        self._check_node(node)
        return cgroups.node_freezer_states(self.plan.run_id, node)

    def _storage_target(self, target: str) -> str:
        if target in self.topology.nodes:
            return target
        if target in self.topology.db_members:
            return f"{self._node(target)}/{target}"
        raise ConfigError(
            f"storage throttling targets a node or a DB member; saw {target!r} "
            f"(nodes: {', '.join(self.topology.nodes)}; "
            f"members: {', '.join(self.topology.db_members)})"
        )

    def throttle_storage(self, target: str, limits: IoLimits) -> None:
        cg = self._require_cgroups("throttle_storage")
        cg.throttle(self._storage_target(target), block_device_of(self.plan.run_dir), limits)

    def unthrottle_storage(self, target: str) -> None:
        cg = self._require_cgroups("unthrottle_storage")
        cg.unthrottle(self._storage_target(target), block_device_of(self.plan.run_dir))

    def kill_component(self, name: str) -> None:
        component = self.component(name)
        self._require_cgroups("kill_component").kill(f"{component.node}/{name}")
        self.reap()

    def stop_component(self, name: str) -> None:
        component = self.component(name)
        component.stop()
        self._stop_leaf(component)

    def start_component(self, name: str) -> None:
        self.component(name).start()

    def leader(self) -> str | None:
        return self.cluster.leader()

    def db_promotions(self) -> tuple[Promotion, ...]:
        return self.cluster.promotions()

    def switchover(self, candidate: str | None = None) -> str:
        return self.cluster.switchover(candidate).new_leader

    def failover(self, candidate: str) -> str:
        return self.cluster.failover(candidate).new_leader

    def set_app_weights(self, weights: Mapping[str, int]) -> None:
        self.traefik.set_weights(dict(weights))

    def deploy_release(self, release: str, instances: int = 1) -> tuple[str, ...]:
        """Start ``instances`` of ``release`` as the green service, with no traffic yet.

        Raises ComponentFailed (with the log tail) when the release cannot start.
        """
        if self.odoo is not None:
            raise PlatformError(
                f"deploying release {release!r} needs the Odoo double's release switch; with "
                "a real odoo-bin, roll out your own build and run the other families"
            )
        if self.green:
            raise PlatformError(
                f"a release is already deployed ({', '.join(a.name for a in self.green)}); "
                "retire it first"
            )
        nodes = [self._node(a) for a in self.topology.app_instances]
        for index, port in enumerate(pick_free_ports(instances)):
            # Started once alive; whether it is ready is the ingress's gate to decide.
            node = nodes[index % len(nodes)]
            instance = self._app(f"green-{index + 1}", node, port, release, APP_LIVENESS)
            self.green.append(instance)
            self._components[instance.name] = instance
            instance.start()
        self.traefik.set_servers(GREEN, [a.url for a in self.green])
        return tuple(a.name for a in self.green)

    def release_ready(self) -> bool:
        """Every green instance passes the ingress's health check."""
        states = self.traefik.server_status().get(GREEN, {})
        return bool(states) and all(state is ServerState.UP for state in states.values())

    def retire_release(self) -> None:
        """All traffic back to blue, the green service removed, its instances stopped.

        Works from another process too (the reaper): Traefik's routes are rewritten
        with blue alone and every ``green-*`` cgroup leaf is stopped.
        """
        if GREEN in self.traefik.services():
            self.traefik.set_weights({BLUE: 100, GREEN: 0})
            self.traefik.remove_service(GREEN)
        else:
            self.traefik.set_weights({BLUE: 100})
        for instance in self.green:
            instance.stop(grace_s=5.0)
            self._components.pop(instance.name, None)
        self.green = []
        if self.cgroups is not None:
            for node in self.topology.nodes:
                for leaf in self.cgroups.children(node):
                    if leaf.startswith("green-"):
                        self._stop_pids(f"{node}/{leaf}")

    def rollback_schema(self) -> bool:
        """Undo a release's schema migration; True when something was migrated back."""
        env = {**self._app_env(), "PGCONNECT_TIMEOUT": "5"}
        out = run_checked(
            [sys.executable, "-m", "fixtures.odoo_double", "migrate-back"],
            "rolling the schema back",
            env=env,
        )
        return out.startswith("migrated back")

    # -- status -----------------------------------------------------------------------
    def status(self) -> StackStatus:
        components = []
        for component in self._components.values():
            pid = component.pid()
            if pid is None and self.cgroups is not None:
                pids = self.cgroups.pids(f"{component.node}/{component.name}")
                pid = pids[0] if pids else None
            frozen = (
                self.cgroups is not None
                and self.cgroups.exists()
                and self.cgroups.is_frozen(component.node)
            )
            if frozen:
                health = Health.FROZEN
            elif pid is None:
                health = Health.STOPPED
            else:
                health = Health.UP if component.healthy() else Health.DOWN
            components.append(
                ComponentStatus(
                    component.name, component.node, pid, self._address(component.name), health
                )
            )
        members = []
        with contextlib.suppress(HarnessError):
            members = [
                DbMemberStatus(m.name, m.role.value, m.state, m.timeline, m.lag_bytes)
                for m in self.cluster.members()
            ]
        return StackStatus(
            "local", self.plan.run_id, tuple(components), self.cluster.leader(), tuple(members)
        )

    def _address(self, name: str) -> str:
        ports = self.plan.ports.get(name, {})
        return ", ".join(f"{role}={port}" for role, port in ports.items())

    def leftovers(self) -> list[str]:
        """What a finished ``down`` must not leave: processes, listening ports, cgroups."""
        found = []
        if self.cgroups is not None and self.cgroups.exists():
            found.append(f"cgroup tree of run {self.plan.run_id} still exists")
        for component, roles in self.plan.ports.items():
            for role, port in roles.items():
                if port_is_listening(port):
                    found.append(f"port {port} ({component} {role}) still listening")
        for link, port in self.plan.proxy_ports.items():
            if port_is_listening(port):
                found.append(f"port {port} (proxy {link}) still listening")
        return found


def render_status(status: StackStatus) -> str:
    lines = [
        f"run {status.run_id} on the {status.platform} platform; leader: {status.leader or 'none'}"
    ]
    lines.append(f"{'component':<12} {'node':<8} {'pid':>7}  {'health':<7} ports")
    for c in status.components:
        lines.append(f"{c.name:<12} {c.node:<8} {c.pid or '-':>7}  {c.health.value:<7} {c.address}")
    if status.db_members:
        lines.append(
            f"{'member':<12} {'role':<8} {'state':<10} {'timeline':>8} {'lag (bytes)':>12}"
        )
        for m in status.db_members:
            lag = "-" if m.lag_bytes is None else str(m.lag_bytes)
            lines.append(f"{m.name:<12} {m.role:<8} {m.state:<10} {m.timeline or '-':>8} {lag:>12}")
    return "\n".join(lines)


def status_as_json(status: StackStatus) -> str:
    data = asdict(status)
    for component in data["components"]:
        component["health"] = component["health"].value
    return json.dumps(data, indent=2)
