"""The double answers the contract's calls with Odoo's shapes and error envelopes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.standalone import (
    DoubleProcess,
    JsonRpc,
    StandaloneRedis,
    odoo_double,
    standalone_postgres,
    standalone_redis,
)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[StandaloneRedis]:
    with standalone_redis() as server:
        yield server


@pytest.fixture(scope="module")
def double(redis_server: StandaloneRedis) -> Iterator[DoubleProcess]:
    with (
        standalone_postgres() as pg,
        odoo_double(pg.create_database("odoo"), redis=redis_server.address) as app,
    ):
        yield app


@pytest.fixture(scope="module")
def rpc(double: DoubleProcess) -> Iterator[JsonRpc]:
    client = JsonRpc(double.url)
    client.authenticate()
    yield client
    client.close()


def _error(body: dict[str, Any]) -> dict[str, Any]:
    assert "result" not in body, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "data"}
    assert set(error["data"]) == {"name", "debug", "message", "arguments", "context"}
    assert "Traceback (most recent call last)" in error["data"]["debug"]
    return error


def test_common_version_and_login(rpc: JsonRpc) -> None:
    body = rpc.call("common", "version")
    assert body["jsonrpc"] == "2.0"
    assert body["result"]["server_version_info"] == [18, 0, 0, "final", 0, ""]
    assert body["result"]["server_serie"] == "18.0"
    assert body["result"]["protocol_version"] == 1
    assert rpc.call("common", "login", "odoo", "admin", "admin")["result"] == 2
    assert rpc.call("common", "authenticate", "odoo", "admin", "admin", {})["result"] == 2
    assert rpc.call("common", "login", "odoo", "admin", "wrong")["result"] is False


def test_error_envelopes(rpc: JsonRpc) -> None:
    denied = _error(
        rpc.call("object", "execute_kw", "odoo", 2, "wrong", "res.partner", "search", [[]], {})
    )
    assert denied["code"] == 200
    assert denied["message"] == "Odoo Server Error"
    assert denied["data"]["name"] == "odoo.exceptions.AccessDenied"
    assert denied["data"]["message"] == "Access Denied"

    private = _error(rpc.execute_kw("res.partner", "_read_group", [[]]))
    assert private["data"]["name"] == "odoo.exceptions.AccessError"
    assert private["data"]["message"] == (
        "Private methods (such as _read_group) cannot be called remotely."
    )

    unknown = _error(rpc.execute_kw("no.such.model", "search", [[]]))
    assert unknown["data"]["name"] == "odoo.exceptions.UserError"
    assert unknown["data"]["message"] == "Object no.such.model doesn't exist"
    assert unknown["data"]["arguments"] == ["Object no.such.model doesn't exist"]

    bad_field = _error(rpc.execute_kw("res.partner", "search", [[["nope", "=", 1]]]))
    assert bad_field["data"]["name"] == "builtins.ValueError"


def test_malformed_json_is_plain_400(double: DoubleProcess) -> None:
    response = httpx.post(
        f"{double.url}/jsonrpc", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "Invalid JSON data"


def test_none_result_key_is_omitted(rpc: JsonRpc) -> None:
    product = rpc.ok(
        "product.product",
        "create",
        [{"name": "Omit", "barcode": "omit-1", "type": "consu", "is_storable": True}],
    )
    stock = rpc.ok("stock.warehouse", "search_read", [[], ["lot_stock_id"]])[0]["lot_stock_id"]
    quant = rpc.ok(
        "stock.quant",
        "create",
        [{"product_id": product, "location_id": stock[0], "inventory_quantity": 4}],
        {"context": {"inventory_mode": True}},
    )
    body = rpc.execute_kw("stock.quant", "action_apply_inventory", [[quant]])
    assert "error" not in body
    assert "result" not in body
    assert rpc.ok("stock.quant", "read", [[quant], ["quantity"]])[0]["quantity"] == 4.0


def test_setup_reads_have_odoo_shapes(rpc: JsonRpc) -> None:
    warehouse = rpc.ok(
        "stock.warehouse",
        "search_read",
        [[], ["name", "code", "lot_stock_id", "in_type_id", "out_type_id"]],
    )
    assert warehouse == [
        {
            "id": 1,
            "name": "YourCompany",
            "code": "WH",
            "lot_stock_id": [warehouse[0]["lot_stock_id"][0], "WH/Stock"],
            "in_type_id": [warehouse[0]["in_type_id"][0], "Receipts"],
            "out_type_id": [warehouse[0]["out_type_id"][0], "Delivery Orders"],
        }
    ]
    for usage, complete in (
        ("supplier", "Partners/Vendors"),
        ("customer", "Partners/Customers"),
        ("internal", "WH/Stock"),
    ):
        rows = rpc.ok(
            "stock.location",
            "search_read",
            [[["usage", "=", usage]], ["id", "name", "complete_name", "usage", "location_id"]],
        )
        assert rows[0]["complete_name"] == complete
        assert isinstance(rows[0]["location_id"], list)
    types = rpc.ok(
        "stock.picking.type",
        "search_read",
        [
            [["code", "=", "incoming"]],
            ["id", "warehouse_id", "default_location_src_id", "default_location_dest_id"],
        ],
    )
    assert types[0]["warehouse_id"] == [1, "YourCompany"]
    assert types[0]["default_location_dest_id"][1] == "WH/Stock"


def test_generic_methods_and_domains(rpc: JsonRpc) -> None:
    ids = rpc.ok(
        "res.partner",
        "create",
        [
            [
                {"name": "Acme Vendor", "ref": "seed-v1", "supplier_rank": 1},
                {"name": "Bolt Customer", "ref": "seed-c1", "customer_rank": 1},
            ]
        ],
    )
    assert len(ids) == 2
    assert rpc.ok("res.partner", "search_count", [[["ref", "in", ["seed-v1", "seed-c1"]]]]) == 2
    assert (
        rpc.ok("res.partner", "search", [["|", ["ref", "=", "seed-v1"], ["name", "ilike", "bolt"]]])
        == ids
    )
    assert rpc.ok(
        "res.partner", "search", [["!", ["ref", "=", "seed-v1"], ["ref", "like", "seed-"]]]
    ) == [ids[1]]
    assert rpc.ok("res.partner", "write", [[ids[0]], {"phone": "+1 555"}]) is True
    rows = rpc.ok(
        "res.partner",
        "search_read",
        [[["id", "in", ids]], ["name", "phone", "email"]],
        {"order": "name desc", "limit": 1, "offset": 0},
    )
    assert rows == [{"id": ids[1], "name": "Bolt Customer", "phone": False, "email": False}]
    stock = rpc.ok("stock.location", "search", [[["complete_name", "=", "WH/Stock"]]])[0]
    bin_id = rpc.ok(
        "stock.location", "create", [{"name": "A-01", "location_id": stock, "usage": "internal"}]
    )
    assert (
        rpc.ok("stock.location", "read", [[bin_id], ["complete_name"]])[0]["complete_name"]
        == "WH/Stock/A-01"
    )
    assert bin_id in rpc.ok("stock.location", "search", [[["id", "child_of", stock]]])
    assert rpc.ok(
        "stock.location", "search", [[["location_id.complete_name", "=", "WH/Stock"]]]
    ) == [bin_id]
    assert rpc.ok("res.partner", "unlink", [[ids[1]]]) is True
    missing = _error(rpc.execute_kw("res.partner", "read", [[ids[1]], ["name"]]))
    assert missing["data"]["name"] == "odoo.exceptions.MissingError"


def test_session_authenticate_and_call_kw(double: DoubleProcess) -> None:
    with httpx.Client(base_url=double.url) as http:
        response = http.post(
            "/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "id": 1,
                "params": {"db": "odoo", "login": "admin", "password": "admin"},
            },
        )
        info = response.json()["result"]
        assert info["uid"] == 2
        assert info["db"] == "odoo"
        assert info["server_version_info"][0] == 18
        assert info["user_context"]["uid"] == 2
        assert "HttpOnly" in response.headers["set-cookie"]
        assert "session_id" in http.cookies
        body = http.post(
            "/web/dataset/call_kw/res.users/read",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "id": 2,
                "params": {
                    "model": "res.users",
                    "method": "read",
                    "args": [[2], ["login"]],
                    "kwargs": {},
                },
            },
        ).json()
        assert body["result"] == [{"id": 2, "login": "admin"}]
        wrong = http.post(
            "/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "id": 3,
                "params": {"db": "odoo", "login": "admin", "password": "nope"},
            },
        ).json()
        assert _error(wrong)["data"]["name"] == "odoo.exceptions.AccessDenied"
    anonymous = httpx.post(
        f"{double.url}/web/dataset/call_kw",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": 4,
            "params": {"model": "res.users", "method": "read", "args": [[2]], "kwargs": {}},
        },
    ).json()
    expired = _error(anonymous)
    assert expired["code"] == 100
    assert expired["message"] == "Odoo Session Expired"
    assert expired["data"]["name"] == "odoo.http.SessionExpiredException"


def test_health_never_touches_db_and_readiness_does(double: DoubleProcess) -> None:
    health = httpx.get(f"{double.url}/web/health")
    assert health.status_code == 200
    assert health.json() == {"status": "pass"}
    assert health.headers["cache-control"] == "no-store"
    ready = httpx.get(f"{double.url}/web/health", params={"db_server_status": "1"})
    assert ready.status_code == 200
    assert ready.json() == {"status": "pass", "db_server_status": True}


def _login_cookie(double: DoubleProcess, db: str = "odoo") -> httpx.Client:
    http = httpx.Client(base_url=double.url)
    http.post(
        "/web/session/authenticate",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {"db": db, "login": "admin", "password": "admin"},
        },
    ).raise_for_status()
    assert "session_id" in http.cookies
    return http


def _call_kw(http: httpx.Client, domain: list[Any] | None = None) -> httpx.Response:
    """``res.partner.search_count`` over ``domain`` (all partners by default)."""
    return http.post(
        "/web/dataset/call_kw",
        json={
            "jsonrpc": "2.0",
            "method": "call",
            "id": 9,
            "params": {
                "model": "res.partner",
                "method": "search_count",
                "args": [domain or []],
                "kwargs": {},
            },
        },
    )


def test_redis_down_fails_cookie_requests_only(
    double: DoubleProcess, rpc: JsonRpc, redis_server: StandaloneRedis
) -> None:
    http = _login_cookie(double)
    try:
        assert "result" in _call_kw(http).json()
        redis_server.stop()
        try:
            down = _call_kw(http)
            assert down.status_code == 500
            assert down.headers["content-type"].startswith("text/html")
            assert rpc.ok("res.partner", "search_count", [[]]) >= 1
        finally:
            redis_server.start()
        # The restart lost every key: the old cookie is now an expired session.
        expired = _error(_call_kw(http).json())
        assert expired["code"] == 100
        http.cookies.clear()
        again = _login_cookie(double)
        assert "result" in _call_kw(again).json()
        again.close()
    finally:
        http.close()


def test_one_instance_serves_each_tenant_database_apart(redis_server: StandaloneRedis) -> None:
    with standalone_postgres() as pg:
        own = pg.create_database("odoo")
        pg.create_database("tenant2")
        with odoo_double(
            own, redis=redis_server.address, extra_args=("--db-name", "odoo,tenant2")
        ) as app:
            first, second = JsonRpc(app.url, db="odoo"), JsonRpc(app.url, db="tenant2")
            assert first.authenticate() == second.authenticate() == 2
            created = second.execute_kw("res.partner", "create", [{"name": "Tenant Two Ltd"}])
            assert isinstance(created["result"], int)
            domain = [[["name", "=", "Tenant Two Ltd"]]]
            assert second.execute_kw("res.partner", "search_count", domain)["result"] == 1
            assert first.execute_kw("res.partner", "search_count", domain)["result"] == 0
            # A web session is bound to the database it authenticated against.
            http = _login_cookie(app, "tenant2")
            try:
                body = _call_kw(http, domain[0]).json()
            finally:
                http.close()
            assert body["result"] == 1
            unknown = first.call("common", "login", "tenant3", "admin", "admin")
            assert _error(unknown)["data"]["name"] == "psycopg2.OperationalError"
            assert 'database "tenant3" does not exist' in _error(unknown)["data"]["message"]
            first.close()
            second.close()
