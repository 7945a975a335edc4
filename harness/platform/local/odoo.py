"""Real Odoo on the local platform: the binary, each instance's files, the database, readiness.

It owns what running a real ``odoo-bin`` (17 or 18, Community) needs beyond a command line:

- ``OdooBin``: the checked path to ``odoo-bin``, the Python that runs it, its addons path and
  the release it reports (``odoo-bin --version``).
- Per instance, an ``odoo.conf`` (prefork, loopback only, the app role through the app→DB
  proxy, ``limit_time_real`` sized to the RTO target) and a libpq service file: Odoo sets no
  connect timeout or keepalive on its connections (odoo-facts.md §2.1), so they reach libpq
  through ``PGSERVICEFILE``/``PGSERVICE`` and ``PGCONNECT_TIMEOUT``.
- The cron process (``--no-http --workers=-1 --max-cron-threads=1``: prefork, one cron
  worker, no HTTP worker and no gevent process; odoo-facts.md §4 "Cron split").
- ``OdooDatabase``: the database is initialised once per release and module set into a
  template database; a ``pg_dump -Fc`` of it is cached across runs (each run has a fresh
  cluster) and restored on later runs; the run database is ``CREATE DATABASE ... TEMPLATE``
  by the superuser (the app role has no CREATEDB) and gets the run's admin password.
- ``OdooCron``: that cron process as a daemon, ready when its cron worker is alive.
- ``OdooInstance``: an ``AppInstance`` whose readiness sees the database:
  ``/web/health?db_server_status=1`` where the build has it, else an authenticated
  ``common.version`` + ``res.users.search_count`` through ``OdooClient``.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import hashlib
import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from harness.errors import ComponentFailed, ConfigError, PlatformError
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooError
from harness.platform.local.apps import AppInstance
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK
from harness.platform.local.process import run_checked

#: The modules the warehouse flows need (odoo-facts.md §3); their dependencies follow.
WAREHOUSE_MODULES = ("stock", "sale_stock", "purchase_stock")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
ADMIN_LOGIN = "admin"
#: Odoo 17/18 refuse fewer rounds for new hashes (res_users.py MIN_ROUNDS).
PBKDF2_ROUNDS = 600_000
VERSION_TIMEOUT_S = 30.0
INIT_TIMEOUT_S = 900.0
DUMP_TIMEOUT_S = 300.0
#: A worker may need this long for a cold registry or a big validation: never kill sooner.
MIN_LIMIT_TIME_REAL_S = 10
HEALTH_DB_PATH = "/web/health?db_server_status=1"
_VERSION_LINE = re.compile(r"Odoo Server (?P<major>\d+)\.(?P<minor>\d+)(?P<rest>\S*)")


def _config_error(expected: str, seen: str, todo: str) -> ConfigError:
    return ConfigError(f"expected {expected}, saw {seen}; {todo}")


# --- The binary --------------------------------------------------------------------------


@dataclass(frozen=True)
class OdooRelease:
    """What ``odoo-bin --version`` reports, e.g. ``17.0`` or ``18.0+e``."""

    text: str
    major: int
    minor: int


def parse_release(output: str) -> OdooRelease:
    """The release in ``odoo-bin --version`` output (``Odoo Server 17.0``)."""
    found = _VERSION_LINE.search(output)
    if found is None:
        raise _config_error(
            "`odoo-bin --version` to print 'Odoo Server <major>.<minor>'",
            repr(output.strip()[:200]),
            "check that ODOO_BIN is Odoo's odoo-bin and that its Python has Odoo's requirements",
        )
    text = f"{found['major']}.{found['minor']}{found['rest']}"
    return OdooRelease(text=text, major=int(found["major"]), minor=int(found["minor"]))


class OdooBin:
    """A checked ``odoo-bin``: its path, the Python running it, its addons path and release.

    ``python`` None runs ``odoo-bin`` directly (its shebang picks the interpreter).
    ``addons_path`` None means the source checkout's own ``addons`` and ``odoo/addons``.
    """

    def __init__(self, odoo_bin: Path, python: Path | None, addons_path: str | None) -> None:
        odoo_bin = odoo_bin.expanduser().absolute()
        if not odoo_bin.is_file():
            raise _config_error(
                "an executable odoo-bin",
                f"{odoo_bin}, which {'is a directory' if odoo_bin.is_dir() else 'does not exist'}",
                "set ODOO_BIN (or --odoo-bin) to the odoo-bin file of an Odoo 17/18 checkout",
            )
        if python is None and not os.access(odoo_bin, os.X_OK):
            raise _config_error(
                "an executable odoo-bin",
                f"{odoo_bin} without execute permission and no Python given to run it",
                f"run `chmod +x {odoo_bin}` or name the Python of Odoo's virtualenv",
            )
        if python is not None:
            python = python.expanduser().absolute()
            if not (python.is_file() and os.access(python, os.X_OK)):
                raise _config_error(
                    "an executable Python interpreter to run odoo-bin",
                    f"{python}",
                    "name the python of the virtualenv that holds Odoo's requirements",
                )
        self.path = odoo_bin
        self.python = python
        self.addons_path = _checked_addons_path(odoo_bin, addons_path)
        self.release = parse_release(self._version_output())

    def command(self, *args: str) -> list[str]:
        """The argv running ``odoo-bin`` with ``args``."""
        head = [str(self.python), str(self.path)] if self.python is not None else [str(self.path)]
        return [*head, *args]

    def _version_output(self) -> str:
        argv = self.command("--version")
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=VERSION_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise _config_error(
                "`odoo-bin --version` to answer",
                f"{type(exc).__name__}: {exc}",
                "check the odoo-bin path and its Python",
            ) from exc
        if done.returncode != 0:
            raise _config_error(
                "`odoo-bin --version` to exit 0",
                f"status {done.returncode}: {(done.stdout + done.stderr).strip()[-600:]}",
                "install Odoo's requirements into the Python that runs odoo-bin",
            )
        return done.stdout


def _checked_addons_path(odoo_bin: Path, addons_path: str | None) -> str:
    if addons_path is None:
        candidates = [odoo_bin.parent / "addons", odoo_bin.parent / "odoo" / "addons"]
        dirs = [str(d) for d in candidates if d.is_dir()]
        if not dirs:
            raise _config_error(
                "an Odoo source checkout beside odoo-bin (addons/ or odoo/addons/)",
                f"neither under {odoo_bin.parent}",
                "pass the addons path explicitly",
            )
        return ",".join(dirs)
    missing = [p for p in addons_path.split(",") if not Path(p.strip()).is_dir()]
    if missing:
        raise _config_error(
            "an addons path of existing directories",
            f"missing {', '.join(missing)}",
            "fix the addons path (comma-separated directories)",
        )
    return addons_path


# --- Per-instance files ------------------------------------------------------------------


@dataclass(frozen=True)
class DbTarget:
    """Where and as whom a process reaches PostgreSQL (host:port is a proxy or HAProxy)."""

    host: str
    port: int
    name: str
    user: str
    password: str = field(repr=False)

    def conninfo(self, *, dbname: str | None = None, connect_timeout_s: int = 5) -> str:
        return (
            f"host={self.host} port={self.port} dbname={dbname or self.name} user={self.user} "
            f"password={self.password} connect_timeout={connect_timeout_s}"
        )


@dataclass(frozen=True)
class LibpqTimeouts:
    """How fast Odoo's connections notice a dead or unreachable server (odoo-facts §2.3).

    Defaults: a connect gives up after 3 s; an idle connection is probed after 5 s of
    silence, every 2 s, 3 times; unacknowledged data fails the connection after 10 s.
    """

    connect_timeout_s: int = 3
    keepalives_idle_s: int = 5
    keepalives_interval_s: int = 2
    keepalives_count: int = 3
    tcp_user_timeout_ms: int = 10_000


#: The service name Odoo's connections pick up from the service file.
PG_SERVICE = "odoo-resilience"


def render_pg_service(timeouts: LibpqTimeouts) -> str:
    """A libpq service file; values apply to every parameter Odoo leaves unspecified."""
    return (
        f"[{PG_SERVICE}]\n"
        f"connect_timeout={timeouts.connect_timeout_s}\n"
        "keepalives=1\n"
        f"keepalives_idle={timeouts.keepalives_idle_s}\n"
        f"keepalives_interval={timeouts.keepalives_interval_s}\n"
        f"keepalives_count={timeouts.keepalives_count}\n"
        f"tcp_user_timeout={timeouts.tcp_user_timeout_ms}\n"
    )


def libpq_env(service_file: Path, timeouts: LibpqTimeouts, instance: str) -> dict[str, str]:
    """The environment that hands libpq the timeouts and names connections per instance."""
    return {
        "PGSERVICEFILE": str(service_file),
        "PGSERVICE": PG_SERVICE,
        "PGCONNECT_TIMEOUT": str(timeouts.connect_timeout_s),
        # Odoo replaces {pid}; faults and pg_stat_activity can then tell instances apart.
        "ODOO_PGAPPNAME": f"odoo-{instance}-{{pid}}"[:63],
    }


def limit_time_real_for(rto_target_s: float) -> int:
    """``limit_time_real`` for an RTO target: half of it, never below the minimum.

    A worker stuck on a half-open connection is killed (and the client sees a 502) only
    after ``limit_time_real`` (odoo-facts §2.3), so it must fit well inside the RTO.
    """
    if rto_target_s <= 0:
        raise _config_error(
            "a positive RTO target in seconds", repr(rto_target_s), "fix the service levels"
        )
    return max(MIN_LIMIT_TIME_REAL_S, int(rto_target_s // 2))


@dataclass(frozen=True)
class OdooInstanceConfig:
    """Everything one instance's ``odoo.conf`` says."""

    name: str
    http_port: int
    gevent_port: int
    db: DbTarget
    data_dir: Path
    addons_path: str
    limit_time_real_s: int
    master_password: str = field(repr=False)
    workers: int = 2
    max_cron_threads: int = 0
    db_maxconn: int = 16


def instance_config(
    odoo: OdooBin,
    name: str,
    *,
    http_port: int,
    gevent_port: int,
    db: DbTarget,
    data_dir: Path,
    rto_target_s: float,
) -> OdooInstanceConfig:
    """A web instance (no cron threads) with a random master password nobody needs."""
    return OdooInstanceConfig(
        name=name,
        http_port=http_port,
        gevent_port=gevent_port,
        db=db,
        data_dir=data_dir,
        addons_path=odoo.addons_path,
        limit_time_real_s=limit_time_real_for(rto_target_s),
        master_password=secrets.token_urlsafe(32),
    )


def render_odoo_conf(config: OdooInstanceConfig) -> str:
    """``odoo.conf`` for one instance (odoo-facts.md §2.4 and §4)."""
    db = config.db
    options = {
        "db_host": db.host,
        "db_port": str(db.port),
        "db_user": db.user,
        "db_password": db.password,
        "db_name": db.name,
        "db_sslmode": "disable",
        "db_maxconn": str(config.db_maxconn),
        "dbfilter": f"^{re.escape(db.name)}$",
        "list_db": "False",
        "admin_passwd": config.master_password,
        "proxy_mode": "True",
        "http_interface": LOOPBACK,
        "http_port": str(config.http_port),
        "gevent_port": str(config.gevent_port),
        "workers": str(config.workers),
        "max_cron_threads": str(config.max_cron_threads),
        "limit_time_real": str(config.limit_time_real_s),
        "limit_time_cpu": str(config.limit_time_real_s),
        "data_dir": str(config.data_dir),
        "addons_path": config.addons_path,
        "without_demo": "all",
        # False (not empty) is Odoo's "no log file": everything goes to stdout.
        "logfile": "False",
        "log_level": "info",
    }
    bad = [k for k, v in options.items() if "\n" in v or "%" in v]
    if bad:
        raise _config_error(
            "odoo.conf values without newlines or '%' (configparser would alter them)",
            f"such characters in {', '.join(bad)}",
            "choose other passwords or paths",
        )
    return "[options]\n" + "".join(f"{k} = {v}\n" for k, v in options.items())


@dataclass(frozen=True)
class InstanceFiles:
    """The files one instance reads, both owner-only (they hold passwords)."""

    conf: Path
    service_file: Path


def write_instance_files(
    config: OdooInstanceConfig, timeouts: LibpqTimeouts, directory: Path
) -> InstanceFiles:
    directory.mkdir(parents=True, exist_ok=True)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    files = InstanceFiles(conf=directory / "odoo.conf", service_file=directory / "pg_service.conf")
    _write_private(files.conf, render_odoo_conf(config))
    _write_private(files.service_file, render_pg_service(timeouts))
    return files


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def server_argv(odoo: OdooBin, conf: Path) -> list[str]:
    return odoo.command("-c", str(conf))


def cron_argv(odoo: OdooBin, conf: Path) -> list[str]:
    """The cron-only process: prefork master with one cron worker, no HTTP, no gevent."""
    return odoo.command("-c", str(conf), "--no-http", "--workers=-1", "--max-cron-threads=1")


def init_argv(odoo: OdooBin, conf: Path, database: str, modules: Sequence[str]) -> list[str]:
    return odoo.command(
        "-c",
        str(conf),
        "-d",
        database,
        "-i",
        ",".join(modules),
        "--without-demo=all",
        "--stop-after-init",
        "--workers=0",
        "--max-cron-threads=0",
    )


# --- The database ------------------------------------------------------------------------


def template_name(release: OdooRelease, modules: Sequence[str]) -> str:
    """``odoo_tpl_<major>_<minor>_<hash of release and modules>``: one per content."""
    digest = hashlib.sha256(f"{release.text}|{','.join(sorted(modules))}".encode()).hexdigest()
    return f"odoo_tpl_{release.major}_{release.minor}_{digest[:12]}"


def default_template_cache(home: Path, xdg_cache_home: str | None) -> Path:
    """``$XDG_CACHE_HOME/odoo-resilience/templates`` (``~/.cache`` when unset)."""
    base = Path(xdg_cache_home) if xdg_cache_home else home / ".cache"
    return base / "odoo-resilience" / "templates"


def admin_password_hash(password: str, *, salt: bytes | None = None) -> str:
    """The passlib ``pbkdf2_sha512`` hash Odoo stores in ``res_users.password``."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS)
    return f"$pbkdf2-sha512${PBKDF2_ROUNDS}${_ab64(salt)}${_ab64(digest)}"


def _ab64(raw: bytes) -> str:
    """passlib's "adapted base64": '.' for '+', no padding."""
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


class DatabaseSource(enum.Enum):
    """Where the run database's content came from."""

    EXISTING = "existing"  # the run database was already initialised: left as it was
    TEMPLATE = "template"  # the template database was already in the cluster
    RESTORED = "restored"  # the cached dump was restored into the template
    INITIALISED = "initialised"  # odoo-bin -i built the template (and the dump was cached)


@dataclass(frozen=True)
class PreparedDatabase:
    """What ``OdooDatabase.prepare`` did, with its timings (seconds)."""

    database: str
    template: str
    source: DatabaseSource
    template_s: float
    clone_s: float
    dump: Path


class OdooDatabase:
    """The run database: built from a template, itself from a cached dump or ``odoo-bin -i``.

    ``superuser`` and ``app`` reach the same cluster (HAProxy's rw port on the local
    platform); the superuser creates databases, the app role owns them and everything in
    them, so Odoo can later update modules.
    """

    def __init__(
        self,
        odoo: OdooBin,
        *,
        superuser: DbTarget,
        app: DbTarget,
        cache_dir: Path,
        work_dir: Path,
        timeouts: LibpqTimeouts,
        modules: Sequence[str] = WAREHOUSE_MODULES,
    ) -> None:
        self.odoo = odoo
        self.superuser = superuser
        self.app = app
        self.cache_dir = cache_dir
        self.work_dir = work_dir
        self.timeouts = timeouts
        self.modules = tuple(modules)
        self.template = template_name(odoo.release, self.modules)

    @property
    def dump_path(self) -> Path:
        return self.cache_dir / f"{self.template}.dump"

    def prepare(self, admin_password: str) -> PreparedDatabase:
        """Make the run database hold the initialised modules and ``admin_password``."""
        if self._initialised(self.app.name):
            self._set_admin_password(admin_password)
            return PreparedDatabase(
                self.app.name, self.template, DatabaseSource.EXISTING, 0.0, 0.0, self.dump_path
            )
        t0 = time.monotonic()
        if self._initialised(self.template):
            source = DatabaseSource.TEMPLATE
        elif self.dump_path.is_file():
            self._restore_template()
            source = DatabaseSource.RESTORED
        else:
            self._init_template()
            self._dump_template()
            source = DatabaseSource.INITIALISED
        t1 = time.monotonic()
        self._clone_template()
        self._set_admin_password(admin_password)
        return PreparedDatabase(
            self.app.name, self.template, source, t1 - t0, time.monotonic() - t1, self.dump_path
        )

    # -- steps ------------------------------------------------------------------------
    def _super(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(self.superuser.conninfo(dbname=dbname), autocommit=True)
        except psycopg.Error as exc:
            raise PlatformError(
                f"expected to reach PostgreSQL as {self.superuser.user} at "
                f"{self.superuser.host}:{self.superuser.port}/{dbname}, saw: {exc}; "
                "check that the DB tier is up"
            ) from exc

    def _exists(self, database: str) -> bool:
        with self._super() as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
            return row.fetchone() is not None

    def _initialised(self, database: str) -> bool:
        """True when ``database`` holds Odoo with every wanted module installed."""
        if not self._exists(database):
            return False
        with self._super(database) as conn:
            if conn.execute("SELECT to_regclass('ir_module_module')").fetchone() in (None, (None,)):
                return False
            row = conn.execute(
                "SELECT count(*) FROM ir_module_module "
                "WHERE state = 'installed' AND name = ANY(%s)",
                (list(self.modules),),
            ).fetchone()
        return row is not None and row[0] == len(self.modules)

    def _create_empty(self, database: str, template: str = "template0") -> None:
        with self._super() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
            # Odoo creates its databases with C collation from template0 (service/db.py).
            collate = sql.SQL("LC_COLLATE 'C'" if template == "template0" else "")
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' {} TEMPLATE {}").format(
                    sql.Identifier(database),
                    sql.Identifier(self.app.user),
                    collate,
                    sql.Identifier(template),
                )
            )

    def _init_template(self) -> None:
        self._create_empty(self.template)
        with self._super(self.template) as conn:
            # What Odoo's own database creation adds; the app role may not create it.
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        init_dir = self.work_dir / "init"
        config = OdooInstanceConfig(
            name="init",
            http_port=0,
            gevent_port=0,
            db=DbTarget(
                self.app.host, self.app.port, self.template, self.app.user, self.app.password
            ),
            data_dir=init_dir / "data",
            addons_path=self.odoo.addons_path,
            limit_time_real_s=int(INIT_TIMEOUT_S),
            master_password=secrets.token_urlsafe(32),
            workers=0,
        )
        files = write_instance_files(config, self.timeouts, init_dir)
        log = init_dir / "init.log"
        argv = init_argv(self.odoo, files.conf, self.template, self.modules)
        env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            **libpq_env(files.service_file, self.timeouts, "init"),
        }
        with log.open("ab") as out:
            try:
                done = subprocess.run(
                    argv,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    cwd=init_dir,
                    timeout=INIT_TIMEOUT_S,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise ComponentFailed(
                    f"expected `odoo-bin -i {','.join(self.modules)}` to finish within "
                    f"{INIT_TIMEOUT_S:.0f} s, it did not; see {log}"
                ) from exc
        if done.returncode != 0 or not self._initialised(self.template):
            raise ComponentFailed(
                f"expected `odoo-bin -i {','.join(self.modules)}` to install the modules into "
                f"{self.template}, saw exit status {done.returncode}; its log {log} ends with:\n"
                f"{_tail(log)}\nFix the cause (often a missing Python requirement), then rerun."
            )

    def _pg_env(self, target: DbTarget) -> dict[str, str]:
        return {"PGPASSWORD": target.password, "PGCONNECT_TIMEOUT": "10"}

    def _conn_args(self, target: DbTarget) -> list[str]:
        return ["-h", target.host, "-p", str(target.port), "-U", target.user]

    def _dump_template(self) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dump_path.with_suffix(f".{os.getpid()}.tmp")
        run_checked(
            [
                str(PG_BIN / "pg_dump"),
                *self._conn_args(self.superuser),
                "-Fc",
                "--no-owner",
                "--no-acl",
                "-f",
                str(tmp),
                self.template,
            ],
            f"dump of the Odoo template {self.template} to the cache",
            timeout_s=DUMP_TIMEOUT_S,
            env=self._pg_env(self.superuser),
        )
        os.replace(tmp, self.dump_path)

    def _restore_template(self) -> None:
        self._create_empty(self.template)
        try:
            run_checked(
                [
                    str(PG_BIN / "pg_restore"),
                    *self._conn_args(self.superuser),
                    "--no-owner",
                    "--no-acl",
                    # Objects belong to the app role, as if Odoo had created them itself.
                    "--role",
                    self.app.user,
                    "--exit-on-error",
                    "-d",
                    self.template,
                    str(self.dump_path),
                ],
                f"restore of the cached Odoo template {self.dump_path}",
                timeout_s=DUMP_TIMEOUT_S,
                env=self._pg_env(self.superuser),
            )
        except ComponentFailed as exc:
            raise ComponentFailed(
                f"{exc}\nThe cached dump may be damaged: delete {self.dump_path} to rebuild it."
            ) from exc

    def _clone_template(self) -> None:
        self._create_empty(self.app.name, template=self.template)

    def _set_admin_password(self, password: str) -> None:
        """Store the hash directly: no server has to run with a known default password."""
        with self._super(self.app.name) as conn:
            updated = conn.execute(
                "UPDATE res_users SET password = %s WHERE login = %s",
                (admin_password_hash(password), ADMIN_LOGIN),
            ).rowcount
        if updated != 1:
            raise ComponentFailed(
                f"expected one res_users row with login {ADMIN_LOGIN!r} in {self.app.name}, "
                f"saw {updated}; the database was not initialised by odoo-bin: delete "
                f"{self.dump_path} and the database, then rerun"
            )


def _tail(log: Path, lines: int = 25) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return f"(no log at {log})"


# --- Readiness -----------------------------------------------------------------------------


class ReadinessMode(enum.Enum):
    HEALTH_DB = "/web/health?db_server_status=1"
    RPC = "authenticated common.version + res.users.search_count"


@dataclass(frozen=True)
class AdminLogin:
    db: str
    login: str
    password: str = field(repr=False)


class DbAwareReadiness:
    """Ready means Odoo answers *and* reaches its database (plain /web/health never does).

    The first check asks ``/web/health?db_server_status=1``; builds without that parameter
    ignore it and answer ``{"status": "pass"}`` alone, and from then on the check logs in
    once and asks ``res.users.search_count`` on every call.
    """

    def __init__(self, url: str, login: AdminLogin, timeout_s: float = 2.0) -> None:
        self.url = url
        self.login = login
        self.timeout_s = timeout_s
        self.mode: ReadinessMode | None = None
        self._client: OdooClient | None = None

    def __call__(self) -> bool:
        try:
            if self.mode is None:
                self.mode = self._detect()
            if self.mode is ReadinessMode.HEALTH_DB:
                return self._health_db()
            return self._rpc()
        except (httpx.HTTPError, OdooError, ValueError):
            return False

    def _detect(self) -> ReadinessMode:
        response = httpx.get(self.url + HEALTH_DB_PATH, timeout=self.timeout_s)
        body = json.loads(response.content) if response.content else {}
        if isinstance(body, dict) and "db_server_status" in body:
            return ReadinessMode.HEALTH_DB
        if response.status_code != 200:
            raise ValueError(f"/web/health answered {response.status_code}")
        return ReadinessMode.RPC

    def _health_db(self) -> bool:
        response = httpx.get(self.url + HEALTH_DB_PATH, timeout=self.timeout_s)
        return response.status_code == 200

    def _rpc(self) -> bool:
        if self._client is None:
            self._client = OdooClient(
                self.url, self.login.db, self.login.login, self.login.password, self.timeout_s
            )
        client = self._client
        try:
            client.version()
            if client.uid is None:
                client.login()
            count = client.execute_kw("res.users", "search_count", [[]])
        except OdooError:
            # A fresh client next time: the next login re-proves the credentials.
            self.close()
            raise
        return isinstance(count, int) and count > 0

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class OdooInstance(AppInstance):
    """A real ``odoo-bin`` web instance; ready when ``DbAwareReadiness`` says so."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        odoo: OdooBin,
        config: OdooInstanceConfig,
        *,
        admin: AdminLogin,
        timeouts: LibpqTimeouts,
    ) -> None:
        files = write_instance_files(config, timeouts, ctx.data_dir(config.name) / "etc")
        super().__init__(
            ctx,
            node,
            config.name,
            port=config.http_port,
            argv=server_argv(odoo, files.conf),
            env=libpq_env(files.service_file, timeouts, config.name),
            # What Traefik asks: it cannot log in, so on builds without db_server_status
            # it sees liveness only; the platform's own readiness below sees the database.
            health_path="/web/health",
        )
        self.config = config
        self.files = files
        self.readiness = DbAwareReadiness(self.url, admin)

    def healthy(self) -> bool:
        return self.readiness()

    def stop(self, grace_s: float = 10.0) -> None:
        self.readiness.close()
        super().stop(grace_s)


#: What a prefork worker logs once it runs (odoo/service/server.py ``Worker.start``).
CRON_ALIVE = re.compile(r"Worker WorkerCron \(\d+\) alive")
CRON_START_TIMEOUT_S = 60.0


class OdooCron(Daemon):
    """The cron-only process of ``cron_argv``; it has no HTTP, so readiness reads its log."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        odoo: OdooBin,
        config: OdooInstanceConfig,
        *,
        timeouts: LibpqTimeouts,
    ) -> None:
        super().__init__(ctx, node, config.name)
        self.files = write_instance_files(config, timeouts, ctx.data_dir(config.name) / "etc")
        self._argv = cron_argv(odoo, self.files.conf)
        self._env = libpq_env(self.files.service_file, timeouts, config.name)

    def start(self) -> None:
        log = self._ctx.log_path(self.name)
        offset = log.stat().st_size if log.exists() else 0

        def worker_alive() -> bool:
            with log.open("rb") as fh:
                fh.seek(offset)
                return CRON_ALIVE.search(fh.read().decode("utf-8", "replace")) is not None

        self._launch(
            self._argv,
            ready=worker_alive,
            what="its log saying 'Worker WorkerCron (<pid>) alive'",
            timeout_s=CRON_START_TIMEOUT_S,
            cwd=self._ctx.data_dir(self.name),
            env=self._env,
        )

    def healthy(self) -> bool:
        return self.running()
