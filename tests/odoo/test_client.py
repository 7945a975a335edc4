"""OdooClient: requests it sends and the translation of every answer Odoo or the network gives.

Envelope parsing is tested with ``httpx.MockTransport`` (it tests parsing, not Odoo);
connection failures and keep-alive with real sockets on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from harness.errors import HarnessError
from harness.odoo.client import OdooClient, OdooVersion
from harness.odoo.errors import (
    ClientNotLoggedIn,
    ErrorKind,
    LoginRefused,
    OdooConnectionError,
    OdooError,
    OdooHTTPError,
    OdooRPCError,
    OdooTimeout,
    UnexpectedAnswer,
)

Handler = Callable[[httpx.Request], httpx.Response]


def make_client(handler: Handler, timeout_s: float = 5.0) -> OdooClient:
    return OdooClient(
        "http://odoo.test",
        "wh",
        "admin",
        "secret",
        timeout_s,
        transport=httpx.MockTransport(handler),
    )


def ok(
    result: object, *, omit_result: bool = False, headers: dict[str, str] | None = None
) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        body: dict[str, object] = {"jsonrpc": "2.0", "id": json.loads(request.content)["id"]}
        if not omit_result:
            body["result"] = result
        return httpx.Response(200, json=body, headers=headers)

    return handler


def envelope(code: int, message: str, name: str, data_message: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "jsonrpc": "2.0",
                "id": json.loads(request.content)["id"],
                "error": {
                    "code": code,
                    "message": message,
                    "data": {
                        "name": name,
                        "debug": "Traceback (most recent call last): ...",
                        "message": data_message,
                        "arguments": [data_message],
                        "context": {},
                    },
                },
            },
        )

    return handler


def logged_in(handler: Handler) -> OdooClient:
    """A client whose uid is 2, answering everything after login with ``handler``."""
    calls = {"n": 0}

    def first_login_then(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return ok(2)(request) if calls["n"] == 1 else handler(request)

    client = make_client(first_login_then)
    client.login()
    return client


def test_execute_kw_sends_odoo_envelope_with_credentials_and_context() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok(7 if len(seen) == 1 else [11])(request)

    with make_client(handler) as client:
        assert client.login() == 7
        assert client.execute_kw(
            "stock.picking", "action_confirm", [[5]], {"context": {"lang": "en_US"}}
        ) == [11]
    login_body = json.loads(seen[0].content)
    assert seen[0].url.path == "/jsonrpc"
    assert login_body["method"] == "call"
    assert login_body["jsonrpc"] == "2.0"
    assert login_body["params"] == {
        "service": "common",
        "method": "login",
        "args": ["wh", "admin", "secret"],
    }
    body = json.loads(seen[1].content)
    assert body["params"] == {
        "service": "object",
        "method": "execute_kw",
        "args": [
            "wh",
            7,
            "secret",
            "stock.picking",
            "action_confirm",
            [[5]],
            {"context": {"lang": "en_US"}},
        ],
    }
    assert body["id"] != login_body["id"]
    assert seen[1].headers["content-type"] == "application/json"


def test_missing_result_key_means_none() -> None:
    client = logged_in(ok(None, omit_result=True))
    assert client.execute_kw("stock.quant", "action_apply_inventory", [[3]]) is None


def test_version_parses_server_series() -> None:
    answer = {
        "server_version": "17.0",
        "server_version_info": [17, 0, 0, "final", 0, ""],
        "server_serie": "17.0",
        "protocol_version": 1,
    }
    with make_client(ok(answer)) as client:
        assert client.version() == OdooVersion(
            server_version="17.0", serie="17.0", major=17, protocol_version=1
        )


def test_version_with_unknown_shape_is_unexpected_answer() -> None:
    with make_client(ok({"server_version": "18.0"})) as client, pytest.raises(UnexpectedAnswer):
        client.version()


def test_login_false_raises_login_refused_and_keeps_no_uid() -> None:
    with make_client(ok(False)) as client:
        with pytest.raises(LoginRefused) as raised:
            client.login()
        assert client.uid is None
    assert raised.value.outcome_unknown is False
    assert "'admin'" in str(raised.value)
    assert "'wh'" in str(raised.value)


def test_calls_before_login_are_refused_without_sending() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return ok(1)(request)

    with make_client(handler) as client:
        with pytest.raises(ClientNotLoggedIn, match=r"login\(\)"):
            client.execute_kw("res.partner", "search", [[]])
        with pytest.raises(ClientNotLoggedIn, match=r"authenticate_session\(\)"):
            client.call_kw("res.partner", "search", [[]])
    assert sent == []


INFRA_NAMES = [
    ("psycopg2.OperationalError", "connection to server failed: Connection refused"),
    ("psycopg2.errors.AdminShutdown", "terminating connection due to administrator command"),
    ("psycopg2.InterfaceError", "connection already closed"),
    ("psycopg2.pool.PoolError", "The Connection Pool Is Full"),
    ("psycopg2.errors.ReadOnlySqlTransaction", "cannot execute UPDATE in a read-only transaction"),
    ("psycopg2.errors.SerializationFailure", "could not serialize access"),
    ("psycopg2.errors.LockNotAvailable", "could not obtain lock"),
    ("psycopg2.errors.DeadlockDetected", "deadlock detected"),
    ("psycopg2.errors.UndefinedColumn", 'column "x" does not exist'),
    ("psycopg2.errors.UndefinedTable", 'relation "x" does not exist'),
    ("psycopg.OperationalError", "connection failed"),
]
BUSINESS_NAMES = [
    ("odoo.exceptions.AccessDenied", "Access Denied"),
    ("odoo.exceptions.AccessError", "Private methods (such as _x) cannot be called remotely."),
    ("odoo.exceptions.UserError", "Object x doesn't exist"),
    ("odoo.exceptions.ValidationError", "duplicate key value violates unique constraint"),
    ("odoo.exceptions.MissingError", "Record does not exist or has been deleted."),
]


@pytest.mark.parametrize(("name", "message"), INFRA_NAMES)
def test_database_errors_are_infra_and_may_have_landed(name: str, message: str) -> None:
    client = logged_in(envelope(200, "Odoo Server Error", name, message))
    with pytest.raises(OdooRPCError) as raised:
        client.execute_kw("stock.picking", "button_validate", [[1]])
    error = raised.value
    assert (error.kind, error.name, error.message, error.code) == (
        ErrorKind.INFRA,
        name,
        message,
        200,
    )
    assert error.http_status == 200
    assert error.outcome_unknown is True
    assert error.debug.startswith("Traceback")
    assert "stock.picking.button_validate" in str(error)


@pytest.mark.parametrize(("name", "message"), BUSINESS_NAMES)
def test_odoo_exceptions_are_business_and_did_not_land(name: str, message: str) -> None:
    client = logged_in(envelope(200, "Odoo Server Error", name, message))
    with pytest.raises(OdooRPCError) as raised:
        client.execute_kw("x", "_private", [])
    assert raised.value.kind is ErrorKind.BUSINESS
    assert raised.value.outcome_unknown is False
    assert message in str(raised.value)


def test_session_expired_code_100_is_session_kind() -> None:
    handler = envelope(
        100, "Odoo Session Expired", "odoo.http.SessionExpiredException", "Session expired"
    )
    client = logged_in(handler)
    with pytest.raises(OdooRPCError) as raised:
        client.execute_kw("res.partner", "search", [[]])
    assert (raised.value.kind, raised.value.code) == (ErrorKind.SESSION, 100)
    assert raised.value.outcome_unknown is False


@pytest.mark.parametrize(
    ("code", "name"),
    [(404, "werkzeug.exceptions.NotFound"), (200, "builtins.ValueError"), (200, "")],
)
def test_other_envelopes_are_other_kind(code: int, name: str) -> None:
    client = logged_in(envelope(code, "404: Not Found", name, "Cannot convert field"))
    with pytest.raises(OdooRPCError) as raised:
        client.execute_kw("stock.move.line", "read_group", [[], [], []])
    assert raised.value.kind is ErrorKind.OTHER
    assert raised.value.code == code


def test_envelope_without_data_keeps_the_top_level_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"jsonrpc": "2.0", "id": 1, "error": {"code": 404, "message": "404: Not Found"}},
        )

    client = logged_in(handler)
    with pytest.raises(OdooRPCError) as raised:
        client.execute_kw("res.partner", "read", [[1]])
    assert (raised.value.name, raised.value.message, raised.value.code) == (
        "",
        "404: Not Found",
        404,
    )


@pytest.mark.parametrize(
    ("status", "content_type", "body", "unknown"),
    [
        (400, "text/plain", "Invalid JSON data", False),
        (404, "text/html", "<!DOCTYPE html><title>404: Not Found</title>", False),
        (502, "text/plain", "Bad Gateway", True),
        (503, "text/plain", "Service Unavailable", False),
        (504, "text/plain", "Gateway Timeout", True),
        (500, "text/html", "<h1>Internal Server Error</h1>", True),
        (200, "text/html", "<html>login page</html>", False),
        (200, "application/json", '{"status": "pass"}', False),
    ],
)
def test_non_jsonrpc_answers_are_http_errors(
    status: int, content_type: str, body: str, unknown: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=body, headers={"content-type": content_type})

    client = logged_in(handler)
    with pytest.raises(OdooHTTPError) as raised:
        client.execute_kw("res.partner", "search", [[]])
    assert raised.value.status == status
    assert raised.value.body_excerpt == body
    assert raised.value.outcome_unknown is unknown
    assert f"HTTP {status}" in str(raised.value)


def test_long_bodies_are_cut_to_an_excerpt() -> None:
    client = logged_in(lambda request: httpx.Response(502, text="x" * 5000))
    with pytest.raises(OdooHTTPError) as raised:
        client.execute_kw("res.partner", "search", [[]])
    assert len(raised.value.body_excerpt) == 300


@pytest.mark.parametrize(
    ("exc", "error_type", "unknown"),
    [
        (httpx.ConnectError("Connection refused"), OdooConnectionError, False),
        (httpx.ReadError("Connection reset by peer"), OdooConnectionError, True),
        (httpx.WriteError("Broken pipe"), OdooConnectionError, True),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            OdooConnectionError,
            True,
        ),
        (httpx.ConnectTimeout("timed out"), OdooTimeout, False),
        (httpx.PoolTimeout("timed out"), OdooTimeout, False),
        (httpx.WriteTimeout("timed out"), OdooTimeout, True),
        (httpx.ReadTimeout("timed out"), OdooTimeout, True),
    ],
)
def test_transport_failures_record_whether_the_request_went_out(
    exc: httpx.RequestError, error_type: type[OdooError], unknown: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    client = logged_in(handler)
    with pytest.raises(error_type) as raised:
        client.execute_kw("sale.order", "create", [{}])
    assert raised.value.outcome_unknown is unknown
    assert isinstance(raised.value, HarnessError)
    assert raised.value.endpoint == "/jsonrpc object.execute_kw sale.order.create"


def test_session_cookie_goes_to_call_kw_only_and_follows_rotation() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/web/session/authenticate":
            info = {"uid": 2, "db": "wh", "server_version": "18.0", "user_context": {}}
            cookie = "session_id=abc123; Expires=Sat, 01 Jan 2099 00:00:00 GMT; HttpOnly; Path=/"
            return ok(info, headers={"set-cookie": cookie})(request)
        if request.url.path == "/web/dataset/call_kw/res.partner.search_read":
            return ok([], headers={"set-cookie": "session_id=rotated9; HttpOnly; Path=/"})(request)
        return ok(2)(request)

    with make_client(handler) as client:
        info = client.authenticate_session()
        assert (info.uid, info.db, info.server_version) == (2, "wh", "18.0")
        assert client.call_kw("res.partner", "search_read", [[]], {"fields": ["name"]}) == []
        client.call_kw("res.partner", "search_read", [[]])
        client.login()
    auth, first, second, login = seen
    assert json.loads(auth.content)["params"] == {
        "db": "wh",
        "login": "admin",
        "password": "secret",
    }
    assert "cookie" not in auth.headers
    assert first.headers["cookie"] == "session_id=abc123"
    assert json.loads(first.content)["params"] == {
        "model": "res.partner",
        "method": "search_read",
        "args": [[]],
        "kwargs": {"fields": ["name"]},
    }
    assert second.headers["cookie"] == "session_id=rotated9"
    # A cookie on /jsonrpc would make Odoo read the session store on calls that must not.
    assert "cookie" not in login.headers


def test_authenticate_without_cookie_is_unexpected() -> None:
    with make_client(ok({"uid": 2})) as client, pytest.raises(UnexpectedAnswer, match="Set-Cookie"):
        client.authenticate_session()


def test_authenticate_wrong_password_is_access_denied() -> None:
    handler = envelope(200, "Odoo Server Error", "odoo.exceptions.AccessDenied", "Access Denied")
    with make_client(handler) as client, pytest.raises(OdooRPCError) as raised:
        client.authenticate_session()
    assert raised.value.kind is ErrorKind.BUSINESS
    assert not client.has_session


def test_call_kw_session_expired() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/web/session/authenticate":
            return ok({"uid": 2}, headers={"set-cookie": "session_id=s1; Path=/"})(request)
        return envelope(
            100, "Odoo Session Expired", "odoo.http.SessionExpiredException", "Session expired"
        )(request)

    with make_client(handler) as client:
        client.authenticate_session()
        with pytest.raises(OdooRPCError) as raised:
            client.call_kw("stock.quant", "read_group", [[], [], []])
    assert raised.value.kind is ErrorKind.SESSION
    assert raised.value.endpoint == "/web/dataset/call_kw/stock.quant.read_group"


# --- real sockets ----------------------------------------------------------------------


@contextlib.contextmanager
def raw_server(behaviour: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """A one-connection TCP server on 127.0.0.1 doing ``behaviour``, then closing; the event
    is set when the test is over."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                behaviour(conn, done)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        listener.close()
        thread.join(5)


def read_request(conn: socket.socket, done: threading.Event) -> None:
    del done
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)


def read_request_then_stall(conn: socket.socket, done: threading.Event) -> None:
    read_request(conn, done)
    done.wait(5)


def real_client(port: int, timeout_s: float = 5.0) -> OdooClient:
    return OdooClient(f"http://127.0.0.1:{port}", "wh", "admin", "secret", timeout_s)


def test_connection_refused_did_not_reach_odoo() -> None:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with real_client(port) as client, pytest.raises(OdooConnectionError) as raised:
        client.version()
    assert raised.value.outcome_unknown is False


def test_close_after_request_may_have_reached_odoo() -> None:
    with (
        raw_server(read_request) as port,
        real_client(port) as client,
        pytest.raises(OdooConnectionError) as raised,
    ):
        client.version()
    assert raised.value.outcome_unknown is True


def test_no_answer_within_timeout_is_read_timeout() -> None:
    with (
        raw_server(read_request_then_stall) as port,
        real_client(port, timeout_s=0.3) as client,
        pytest.raises(OdooTimeout) as raised,
    ):
        client.version()
    assert (raised.value.phase, raised.value.outcome_unknown) == ("read", True)
    assert "0.3 s" in str(raised.value)


def test_calls_reuse_one_keep_alive_connection_across_threads() -> None:
    peers: set[tuple[str, int]] = set()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            request = json.loads(self.rfile.read(length))
            with lock:
                peers.add(self.client_address)
            body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": 2}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    try:
        with real_client(server.server_address[1]) as client:
            for _ in range(5):
                assert client.login() == 2

            def call_twice() -> None:
                client.execute_kw("res.partner", "search", [[]])
                client.execute_kw("res.partner", "search", [[]])

            # Sequential calls reuse one connection; concurrent ones may open a second.
            assert len(peers) == 1
            workers = [threading.Thread(target=call_twice) for _ in range(3)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            assert len(peers) <= 3
    finally:
        server.shutdown()
        server.server_close()
        serving.join()
