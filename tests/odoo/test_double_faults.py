"""Database failures and bad releases as the double reproduces them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.standalone import (
    JsonRpc,
    StandalonePostgres,
    odoo_double,
    standalone_postgres,
    start_double,
)

TOKEN = "test-admin-token"
SCAN = [[["barcode", "=", "0001"]], ["id", "display_name", "qty_available"]]


@pytest.fixture(scope="module")
def pg() -> Iterator[StandalonePostgres]:
    with standalone_postgres() as server:
        yield server


@pytest.fixture
def dsn(pg: StandalonePostgres, request: pytest.FixtureRequest) -> str:
    name = "odoo_" + request.node.name.replace("test_", "")[:40]
    dsn = pg.create_database(name)
    # Create the schema and one product with a good instance, as a running stack has.
    with odoo_double(dsn) as app:
        rpc = JsonRpc(app.url)
        rpc.authenticate()
        rpc.ok("product.product", "create", [{"name": "Scan", "barcode": "0001"}])
        rpc.close()
    return dsn


def _name(body: dict[str, Any]) -> str:
    assert "error" in body, body
    name: str = body["error"]["data"]["name"]
    return name


def test_postgres_restart_fails_in_flight_call_then_recovers(
    pg: StandalonePostgres, dsn: str
) -> None:
    with odoo_double(dsn) as app:
        rpc = JsonRpc(app.url)
        rpc.authenticate()
        assert rpc.ok("product.product", "search_read", SCAN)[0]["display_name"] == "Scan"
        in_flight: list[dict[str, Any]] = []
        blocker = psycopg.connect(dsn)
        # Hold a lock so the next scan is waiting inside PostgreSQL when it goes down.
        blocker.execute("LOCK TABLE product_product IN ACCESS EXCLUSIVE MODE")
        other = JsonRpc(app.url)
        caller = threading.Thread(
            target=lambda: in_flight.append(
                other.call(
                    "object",
                    "execute_kw",
                    "odoo",
                    rpc.uid,
                    "admin",
                    "product.product",
                    "search_read",
                    SCAN,
                    {},
                )
            )
        )
        caller.start()
        time.sleep(0.5)
        pg.stop("fast")
        during = rpc.execute_kw("product.product", "search_read", SCAN)
        pg.start()
        caller.join(timeout=30)
        other.close()
        blocker.close()
        assert _name(in_flight[0]) in (
            "psycopg2.errors.AdminShutdown",
            "psycopg2.OperationalError",
            "psycopg2.InterfaceError",
        )
        assert _name(during) == "psycopg2.OperationalError"
        assert "refused" in during["error"]["data"]["message"]
        assert rpc.ok("product.product", "search_read", SCAN)[0]["display_name"] == "Scan"
        health = httpx.get(f"{app.url}/web/health", params={"db_server_status": 1})
        assert health.json() == {"status": "pass", "db_server_status": True}
        rpc.close()


def test_crash_at_start_exits_with_traceback(dsn: str) -> None:
    app = start_double(dsn, release="crash-at-start")
    assert app.proc.wait(timeout=30) != 0
    log = app.log.read_text()
    assert "Traceback (most recent call last)" in log
    assert "ImportError" in log


def test_readiness_fails_while_health_stays_green(dsn: str) -> None:
    with odoo_double(dsn, release="readiness-fails") as app:
        assert httpx.get(f"{app.url}/web/health").status_code == 200
        ready = httpx.get(f"{app.url}/web/health", params={"db_server_status": "1"})
        assert ready.status_code == 500
        assert ready.json() == {"status": "fail", "db_server_status": False}


def test_flow_500_breaks_one_business_flow(dsn: str) -> None:
    with odoo_double(dsn, release="flow-500") as app:
        rpc = JsonRpc(app.url)
        rpc.authenticate()
        assert rpc.ok("product.product", "search_read", SCAN)
        body = rpc.execute_kw("stock.picking", "button_validate", [[1]])
        assert _name(body) == "builtins.TypeError"
        assert httpx.get(f"{app.url}/web/health").status_code == 200
        rpc.close()


def test_schema_skew_fails_one_models_reads(dsn: str) -> None:
    with odoo_double(dsn, release="schema-skew") as app:
        rpc = JsonRpc(app.url)
        rpc.authenticate()
        body = rpc.execute_kw("product.product", "search_read", SCAN)
        assert _name(body) == "psycopg2.errors.UndefinedColumn"
        assert "packaging_barcode" in body["error"]["data"]["message"]
        assert rpc.ok("res.partner", "search_count", [[]]) >= 1
        status = httpx.get(f"{app.url}/__double__/status").json()
        assert status["missing_columns"] == ["product_product.packaging_barcode"]
        rpc.close()


def test_slow_release_adds_latency(dsn: str) -> None:
    with odoo_double(dsn, release="slow", extra_args=("--slow-ms", "250")) as app:
        rpc = JsonRpc(app.url)
        rpc.authenticate()
        start = time.monotonic()
        rpc.ok("product.product", "search_read", SCAN)
        assert time.monotonic() - start >= 0.25
        rpc.close()


def _wait_for_migration_lock(dsn: str) -> None:
    deadline = time.monotonic() + 30
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            held = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE relation = 'product_product'::regclass "
                "AND mode = 'AccessExclusiveLock' AND granted"
            ).fetchone()
            if held == (1,):
                return
            time.sleep(0.05)
    raise AssertionError("the migrate-breaking instance should take its lock within 30s")


def test_migrate_breaking_stalls_then_breaks_good_instance_and_reverts(dsn: str) -> None:
    env = {"ODOO_DOUBLE_ADMIN_TOKEN": TOKEN}
    with odoo_double(dsn, name="blue", env=env) as blue:
        rpc = JsonRpc(blue.url)
        rpc.authenticate()
        assert rpc.ok("product.product", "search_read", SCAN)
        green = start_double(
            dsn,
            name="green",
            release="migrate-breaking",
            extra_args=("--migrate-lock-seconds", "2"),
        )
        try:
            _wait_for_migration_lock(dsn)
            start = time.monotonic()
            stalled = rpc.execute_kw("product.product", "search_read", SCAN)
            assert time.monotonic() - start >= 0.5
            assert _name(stalled) == "psycopg2.errors.UndefinedColumn"
            green.wait_ready()
            new = JsonRpc(green.url)
            new.authenticate()
            assert new.ok("product.product", "search_read", SCAN)[0]["display_name"] == "Scan"
            report = httpx.get(f"{blue.url}/__double__/status").json()
            assert report["schema_ok"] is False
            assert report["missing_columns"] == ["product_product.barcode"]
            denied = httpx.post(f"{blue.url}/__double__/migrate-back")
            assert denied.status_code == 403
            back = httpx.post(
                f"{blue.url}/__double__/migrate-back", headers={"X-Double-Token": TOKEN}
            )
            assert back.json() == {"migrated_back": True}
            assert rpc.ok("product.product", "search_read", SCAN)[0]["display_name"] == "Scan"
            assert httpx.get(f"{blue.url}/__double__/status").json()["schema_ok"] is True
            new.close()
        finally:
            green.stop()
        rpc.close()


def test_release_switch_at_runtime(dsn: str) -> None:
    with odoo_double(dsn, env={"ODOO_DOUBLE_ADMIN_TOKEN": TOKEN}) as app:
        rpc = JsonRpc(app.url)
        rpc.authenticate()
        headers = {"X-Double-Token": TOKEN}
        flipped = httpx.post(
            f"{app.url}/__double__/release", json={"release": "flow-500"}, headers=headers
        )
        assert flipped.json()["release"] == "flow-500"
        assert (
            _name(rpc.execute_kw("stock.picking", "button_validate", [[1]])) == "builtins.TypeError"
        )
        refused = httpx.post(
            f"{app.url}/__double__/release", json={"release": "crash-at-start"}, headers=headers
        )
        assert refused.status_code == 400
        httpx.post(f"{app.url}/__double__/release", json={"release": "good"}, headers=headers)
        assert (
            _name(rpc.execute_kw("stock.picking", "button_validate", [[1]]))
            == "odoo.exceptions.MissingError"
        )
        rpc.close()
