"""The real-Odoo driver: rendering and validation (no Odoo), then real Odoo when ODOO_BIN is set.

The real-Odoo tests skip with the reason below when ``ODOO_BIN`` is unset: they never pass
without running. ``ODOO_PYTHON`` names the interpreter of Odoo's virtualenv (else odoo-bin's
own shebang runs it); the template dump is cached in ``default_template_cache``.
"""

from __future__ import annotations

import configparser
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from harness.errors import ConfigError
from harness.odoo import flows
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooRPCError
from harness.odoo.seed import seed_warehouse
from harness.platform.base import Health
from harness.platform.local.context import RunUser, StackContext
from harness.platform.local.odoo import (
    AdminLogin,
    DatabaseSource,
    DbTarget,
    LibpqTimeouts,
    OdooBin,
    OdooCron,
    OdooDatabase,
    OdooInstance,
    OdooInstanceConfig,
    ReadinessMode,
    admin_password_hash,
    cron_argv,
    default_template_cache,
    init_argv,
    libpq_env,
    limit_time_real_for,
    parse_release,
    render_odoo_conf,
    render_pg_service,
    template_name,
    write_instance_files,
)
from harness.platform.local.platform import LocalPlatform
from harness.platform.local.topology import DEFAULT_TOPOLOGY
from harness.settings import app_spec, load_settings
from tests.support.standalone import StandalonePostgres, free_port, standalone_postgres

NOT_RUN = (
    "ODOO_BIN is not set: real-Odoo flow tests did not run; "
    "set ODOO_BIN=/path/to/odoo-bin to run them"
)

# --- A fake odoo-bin (a shell script), for what needs only the binary's answers ------------


def fake_odoo_bin(tmp_path: Path, version_line: str = "Odoo Server 17.0") -> Path:
    (tmp_path / "addons").mkdir()
    (tmp_path / "odoo" / "addons").mkdir(parents=True)
    script = tmp_path / "odoo-bin"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(0o755)
    return script


def test_odoo_bin_detects_release_and_checkout_addons(tmp_path: Path) -> None:
    odoo = OdooBin(fake_odoo_bin(tmp_path), None, None)
    assert (odoo.release.text, odoo.release.major, odoo.release.minor) == ("17.0", 17, 0)
    assert odoo.addons_path == f"{tmp_path}/addons,{tmp_path}/odoo/addons"
    assert odoo.command("-c", "x.conf") == [str(tmp_path / "odoo-bin"), "-c", "x.conf"]


def test_odoo_bin_runs_through_the_given_python(tmp_path: Path) -> None:
    script = fake_odoo_bin(tmp_path)
    odoo = OdooBin(script, Path("/bin/sh"), str(tmp_path / "addons"))
    assert odoo.command("--version") == ["/bin/sh", str(script), "--version"]
    assert odoo.addons_path == str(tmp_path / "addons")


def test_missing_odoo_bin_is_a_config_error_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"expected an executable odoo-bin, saw .*does not exist"):
        OdooBin(tmp_path / "nope", None, None)
    with pytest.raises(ConfigError, match="is a directory"):
        OdooBin(tmp_path, None, None)


def test_non_executable_odoo_bin_without_python_is_refused(tmp_path: Path) -> None:
    script = fake_odoo_bin(tmp_path)
    script.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod \\+x"):
        OdooBin(script, None, None)


def test_bad_addons_path_and_bad_version_output_are_refused(tmp_path: Path) -> None:
    script = fake_odoo_bin(tmp_path)
    with pytest.raises(ConfigError, match="missing /no/such"):
        OdooBin(script, None, "/no/such")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ConfigError, match=r"Odoo Server <major>\.<minor>"):
        OdooBin(fake_odoo_bin(other, "Python 3.11"), None, None)


def test_parse_release_keeps_the_edition_suffix() -> None:
    assert parse_release("Odoo Server 18.0+e\n") == parse_release("Odoo Server 18.0+e")
    assert parse_release("Odoo Server 18.0+e").text == "18.0+e"
    assert parse_release("Odoo Server 17.0").major == 17


def config(tmp_path: Path) -> OdooInstanceConfig:
    return OdooInstanceConfig(
        name="app-1",
        http_port=18069,
        gevent_port=18072,
        db=DbTarget("127.0.0.1", 15432, "wh", "odoo", "s3cret"),
        data_dir=tmp_path / "data",
        addons_path="/src/addons,/src/odoo/addons",
        limit_time_real_s=30,
        master_password="master-pw",
    )


def test_odoo_conf_has_every_option_the_platform_relies_on(tmp_path: Path) -> None:
    parser = configparser.ConfigParser()
    parser.read_string(render_odoo_conf(config(tmp_path)))
    options = dict(parser["options"])
    assert options == {
        "db_host": "127.0.0.1",
        "db_port": "15432",
        "db_user": "odoo",
        "db_password": "s3cret",
        "db_name": "wh",
        "db_sslmode": "disable",
        "db_maxconn": "16",
        "dbfilter": "^wh$",
        "list_db": "False",
        "admin_passwd": "master-pw",
        "proxy_mode": "True",
        "http_interface": "127.0.0.1",
        "http_port": "18069",
        "gevent_port": "18072",
        "workers": "2",
        "max_cron_threads": "0",
        "limit_time_real": "30",
        "limit_time_cpu": "30",
        "data_dir": str(tmp_path / "data"),
        "addons_path": "/src/addons,/src/odoo/addons",
        "without_demo": "all",
        "logfile": "False",
        "log_level": "info",
    }


def test_odoo_conf_refuses_values_configparser_would_mangle(tmp_path: Path) -> None:
    bad = replace(config(tmp_path), master_password="50%off")
    with pytest.raises(ConfigError, match="admin_passwd"):
        render_odoo_conf(bad)


def test_instance_files_are_private(tmp_path: Path) -> None:
    files = write_instance_files(config(tmp_path), LibpqTimeouts(), tmp_path / "etc")
    assert files.conf.stat().st_mode & 0o777 == 0o600
    assert files.service_file.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "data").is_dir()


def test_libpq_gets_timeouts_through_service_file_and_env(tmp_path: Path) -> None:
    timeouts = LibpqTimeouts(
        connect_timeout_s=4,
        keepalives_idle_s=6,
        keepalives_interval_s=2,
        keepalives_count=3,
        tcp_user_timeout_ms=9000,
    )
    parser = configparser.ConfigParser()
    parser.read_string(render_pg_service(timeouts))
    assert dict(parser["odoo-resilience"]) == {
        "connect_timeout": "4",
        "keepalives": "1",
        "keepalives_idle": "6",
        "keepalives_interval": "2",
        "keepalives_count": "3",
        "tcp_user_timeout": "9000",
    }
    env = libpq_env(tmp_path / "svc.conf", timeouts, "app-2")
    assert env == {
        "PGSERVICEFILE": str(tmp_path / "svc.conf"),
        "PGSERVICE": "odoo-resilience",
        "PGCONNECT_TIMEOUT": "4",
        "ODOO_PGAPPNAME": "odoo-app-2-{pid}",
    }


def test_limit_time_real_is_half_the_rto_with_a_floor() -> None:
    assert limit_time_real_for(60) == 30
    assert limit_time_real_for(61) == 30
    assert limit_time_real_for(8) == 10
    with pytest.raises(ConfigError, match="positive RTO"):
        limit_time_real_for(0)


def test_cron_and_init_argv(tmp_path: Path) -> None:
    odoo = OdooBin(fake_odoo_bin(tmp_path), Path("/bin/sh"), None)
    conf = tmp_path / "odoo.conf"
    head = ["/bin/sh", str(tmp_path / "odoo-bin"), "-c", str(conf)]
    assert cron_argv(odoo, conf) == [
        *head,
        "--no-http",
        "--workers=-1",
        "--max-cron-threads=1",
    ]
    assert init_argv(odoo, conf, "tpl", ("stock", "sale_stock")) == [
        *head,
        "-d",
        "tpl",
        "-i",
        "stock,sale_stock",
        "--without-demo=all",
        "--stop-after-init",
        "--workers=0",
        "--max-cron-threads=0",
    ]


def test_template_name_depends_on_release_and_module_set_only() -> None:
    r17, r18 = parse_release("Odoo Server 17.0"), parse_release("Odoo Server 18.0")
    name = template_name(r17, ("stock", "sale_stock"))
    assert name.startswith("odoo_tpl_17_0_")
    assert len(name) <= 63
    assert name == template_name(r17, ("sale_stock", "stock"))
    assert name != template_name(r18, ("stock", "sale_stock"))
    assert name != template_name(r17, ("stock",))


def test_template_cache_follows_xdg() -> None:
    assert default_template_cache(Path("/home/u"), None) == Path(
        "/home/u/.cache/odoo-resilience/templates"
    )
    assert default_template_cache(Path("/home/u"), "/x") == Path("/x/odoo-resilience/templates")


def test_admin_password_hash_is_passlib_pbkdf2_sha512() -> None:
    # Vector computed with passlib 1.7.4 (Odoo's hasher): pbkdf2_sha512.using(rounds=600000,
    # salt=b"0123456789abcdef").hash("admin").
    digest = admin_password_hash("admin", salt=b"0123456789abcdef")
    assert digest == (
        "$pbkdf2-sha512$600000$MDEyMzQ1Njc4OWFiY2RlZg$K2ny/LUfga/mB/towFBfrZB30XOxTc9I1aS4OK7vR/9F"
        "iXJSM0GSngInRQBqQGg6xag5mDu41orb5dPzS3Wu2Q"
    )


# --- Real Odoo ---------------------------------------------------------------------------


@dataclass
class RealOdoo:
    odoo: OdooBin
    postgres: StandalonePostgres
    app: DbTarget
    admin: AdminLogin
    instance: OdooInstance
    ctx: StackContext
    prepared_first: DatabaseSource
    prepared_again: DatabaseSource
    start_s: float

    def client(self) -> OdooClient:
        return OdooClient(
            self.instance.url, self.admin.db, self.admin.login, self.admin.password, 30.0
        )


def _odoo_bin() -> OdooBin:
    settings = load_settings()
    if settings.odoo_bin is None:
        pytest.skip(NOT_RUN)
    return OdooBin(settings.odoo_bin, settings.odoo_python, settings.odoo_addons_path)


@pytest.fixture(scope="module")
def real_odoo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealOdoo]:
    odoo = _odoo_bin()
    timeouts = LibpqTimeouts()
    with standalone_postgres() as pg:
        app_password = secrets.token_urlsafe(12)
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            # As Patroni's bootstrap leaves it: an app role without CREATEDB owning an empty DB.
            conn.execute(f"CREATE ROLE odoo LOGIN NOCREATEDB PASSWORD '{app_password}'")
            conn.execute("CREATE DATABASE wh OWNER odoo")
        superuser = DbTarget("127.0.0.1", pg.port, "postgres", "postgres", "unused-trust")
        app = DbTarget("127.0.0.1", pg.port, "wh", "odoo", app_password)
        run_dir = tmp_path_factory.mktemp("odoo-real")
        ctx = StackContext("real", run_dir, None, RunUser.for_db_tier())
        database = OdooDatabase(
            odoo,
            superuser=superuser,
            app=app,
            cache_dir=default_template_cache(Path.home(), os.environ.get("XDG_CACHE_HOME")),
            work_dir=run_dir / "work",
            timeouts=timeouts,
        )
        admin = AdminLogin("wh", "admin", secrets.token_urlsafe(12))
        first = database.prepare(admin.password)
        print(
            f"\ntemplate from {first.source.value} in {first.template_s:.1f} s, "
            f"clone {first.clone_s:.2f} s"
        )
        again = database.prepare(admin.password)
        cfg = OdooInstanceConfig(
            name="app-1",
            http_port=free_port(),
            gevent_port=free_port(),
            db=app,
            data_dir=ctx.data_dir("app-1") / "filestore",
            addons_path=odoo.addons_path,
            limit_time_real_s=limit_time_real_for(60),
            master_password=secrets.token_urlsafe(16),
        )
        instance = OdooInstance(ctx, "node-a", odoo, cfg, admin=admin, timeouts=timeouts)
        t0 = time.monotonic()
        instance.start()
        start_s = time.monotonic() - t0
        try:
            yield RealOdoo(odoo, pg, app, admin, instance, ctx, first.source, again.source, start_s)
        finally:
            instance.stop()
        assert instance.pid() is None


def test_database_is_prepared_once_and_reused(real_odoo: RealOdoo) -> None:
    assert real_odoo.prepared_first in {DatabaseSource.RESTORED, DatabaseSource.INITIALISED}
    assert real_odoo.prepared_again is DatabaseSource.EXISTING
    with psycopg.connect(real_odoo.postgres.dsn("wh")) as conn:
        owner = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    assert owner == [("odoo",)]


def test_readiness_saw_the_database(real_odoo: RealOdoo) -> None:
    assert real_odoo.instance.readiness.mode in set(ReadinessMode)
    assert real_odoo.instance.healthy()
    print(f"\nstart to ready {real_odoo.start_s:.1f} s, mode {real_odoo.instance.readiness.mode}")


def test_admin_logs_in_with_the_run_password(real_odoo: RealOdoo) -> None:
    with real_odoo.client() as client:
        assert client.version().major == real_odoo.odoo.release.major
        assert client.login() == 2


def test_libpq_of_odoos_python_honours_the_service_file(real_odoo: RealOdoo) -> None:
    python = real_odoo.odoo.python
    if python is None:
        pytest.skip("ODOO_PYTHON is not set: cannot run Odoo's psycopg2 to read its libpq")
    files = real_odoo.instance.files
    code = (
        "import psycopg2,sys;c=psycopg2.connect(host='127.0.0.1',port=int(sys.argv[1]),"
        "dbname='wh',user='odoo',password=sys.argv[2]);p=c.get_dsn_parameters();"
        "print(p.get('keepalives_idle'),p.get('keepalives_count'),p.get('tcp_user_timeout'),"
        "p.get('connect_timeout'))"
    )
    env = {"PATH": "/usr/bin:/bin", **libpq_env(files.service_file, LibpqTimeouts(), "t")}
    done = subprocess.run(
        [str(python), "-c", code, str(real_odoo.app.port), real_odoo.app.password],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert done.stdout.split() == ["5", "3", "10000", "3"]


def test_every_flow_and_the_seed_against_real_odoo(real_odoo: RealOdoo) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    with real_odoo.client() as client:
        client.login()
        catalog = seed_warehouse(client, products=6, seed=7, bins=2, customers=2, vendors=1)
        assert catalog.created.products == 6
        assert catalog.created.quants == 6
        again = seed_warehouse(client, products=6, seed=7, bins=2, customers=2, vendors=1)
        assert (again.created.products, again.created.quants) == (0, 0)
        ctx = catalog.warehouse
        product = catalog.products[0]
        scan = flows.scan_barcode(client, ctx, product.barcode)
        assert scan.product is not None
        assert scan.product.qty_available == product.initial_qty
        assert [(q.location_id, q.quantity) for q in scan.quants] == [
            (product.bin_id, product.initial_qty)
        ]
        origin = f"rcv-{uuid.uuid4()}"
        receipt = flows.receive(
            client, ctx, product.product_id, 5, origin, partner_id=catalog.vendor_ids[0]
        )
        assert receipt.state == "done"
        assert receipt.name.startswith(f"{ctx.warehouse_code}/IN/")
        assert [p.state for p in flows.find_pickings(client, origin)] == ["done"]
        ref = f"so-{uuid.uuid4()}"
        lines = [flows.OrderLine(product_id=product.product_id, quantity=2)]
        delivery = flows.deliver_sale_order(client, catalog.customer_ids[0], ref, lines)
        assert [p.state for p in delivery.pickings] == ["done"]
        assert delivery.lines == (
            flows.DeliveredLine(product_id=product.product_id, ordered=2, delivered=2),
        )
        assert flows.import_order(client, catalog.customer_ids[0], ref, lines).created is False
        adjusted = flows.adjust_inventory(
            client, catalog.products[1].product_id, ctx.lot_stock_id, 9
        )
        assert adjusted.quantity == 9
        after = flows.scan_barcode(client, ctx, product.barcode)
        assert after.product is not None
        assert after.product.qty_available == product.initial_qty + 5 - 2
        report = flows.stock_report(client)
        assert any(r.product_id == product.product_id for r in report)
        if real_odoo.odoo.release.major < 18:
            # Odoo 17 cannot group by the non-stored related picking_code (flows.py says so).
            with pytest.raises(OdooRPCError, match="picking_code to SQL"):
                flows.throughput_report(client, since)
        else:
            codes = {r.picking_code for r in flows.throughput_report(client, since)}
            assert {"incoming", "outgoing"} <= codes


def test_cron_process_starts_its_worker_and_stops(real_odoo: RealOdoo) -> None:
    instance = real_odoo.instance
    cron_cfg = replace(instance.config, name="cron", max_cron_threads=1)
    cron = OdooCron(real_odoo.ctx, "node-a", real_odoo.odoo, cron_cfg, timeouts=LibpqTimeouts())
    cron.start()
    try:
        assert cron.healthy()
    finally:
        cron.stop()
    assert cron.pid() is None


def test_the_local_platform_serves_real_odoo_through_its_ingress(run_root: Path) -> None:
    """The whole stack with odoo-bin instances instead of the double (``--odoo-bin``)."""
    settings = load_settings()
    if settings.odoo_bin is None:
        pytest.skip(NOT_RUN)
    stack = LocalPlatform.create(
        run_root, DEFAULT_TOPOLOGY, "odoo-" + secrets.token_hex(3), app_spec(settings)
    )
    stack.up()
    try:
        assert {c.health for c in stack.status().components} == {Health.UP}
        endpoints = stack.endpoints()
        login = endpoints.app_login
        with OdooClient(
            endpoints.ingress_url, login.db, login.login, login.password, 120
        ) as client:
            client.login()
            catalog = seed_warehouse(client, products=20, seed=5, bins=2, customers=2, vendors=1)
            context = flows.warehouse_context(client)
            scanned = flows.scan_barcode(client, context, catalog.products[0].barcode)
        assert scanned.product is not None
    finally:
        stack.down()
    assert stack.leftovers() == []
