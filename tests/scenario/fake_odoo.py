"""A fake Odoo for the workloads' unit tests: a local HTTP server speaking the few
JSON-RPC shapes the upload and session workloads use, with Odoo's envelopes.

- ``/jsonrpc``: ``common.login``; ``object.execute_kw`` on ``ir.attachment``
  (``create``, ``search_read`` by name);
- ``/web/session/authenticate`` (sets the ``session_id`` cookie) and
  ``/web/dataset/call_kw/res.users.<read|search>`` through that session; an unknown
  session answers Odoo's ``SessionExpiredException`` (code 100).

What a test breaks is state on the object: upload serials the object store refuses,
attachments lost or altered after they were acknowledged, sessions flushed (a Redis
restarted without persistence), web logins refused by the proxy. The Odoo double
(``fixtures/odoo_double``) is the real thing; it needs PostgreSQL, this needs nothing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UID = 2
STORE_DOWN = "builtins.ConnectionRefusedError"
SESSION_EXPIRED = "odoo.http.SessionExpiredException"

Json = object


class FakeOdoo:
    """The state behind the server; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.attachments: dict[str, bytes] = {}
        self.refused_serials: set[int] = set()
        """Uploads (by the number ending their name) the object store refuses."""
        self.refused = 0
        self.sessions: set[str] = set()
        self.web_login_down = False
        self.url = ""

    def flush_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    # -- answers ------------------------------------------------------------------------
    def jsonrpc(self, params: dict[str, Json]) -> Json:
        service, method, args = params["service"], params["method"], params["args"]
        assert isinstance(args, list)
        if (service, method) == ("common", "login"):
            return UID
        assert (service, method) == ("object", "execute_kw"), (service, method)
        _, uid, _, model, call, call_args, kwargs = args
        assert (uid, model) == (UID, "ir.attachment"), (uid, model)
        assert isinstance(call_args, list)
        assert isinstance(kwargs, dict)
        if call == "create":
            (values,) = call_args
            name, datas = values["name"], values["datas"]
            with self.lock:
                if int(name.rsplit("-", 1)[1]) in self.refused_serials:
                    self.refused += 1
                    raise ConnectionRefusedError("object store unreachable")
                self.attachments[name] = base64.b64decode(datas)
                return len(self.attachments)
        assert call == "search_read", call
        assert kwargs == {"fields": ["name", "datas"]}, kwargs
        ((field, op, names),) = call_args[0]
        assert (field, op) == ("name", "in"), (field, op)
        with self.lock:
            return [
                {"id": i, "name": n, "datas": base64.b64encode(self.attachments[n]).decode()}
                for i, n in enumerate(names, 1)
                if n in self.attachments
            ]

    def call_kw(self, session: str | None, model: str, method: str) -> Json:
        with self.lock:
            if session not in self.sessions:
                raise SessionExpiredError("Session expired")
        assert model == "res.users", model
        if method == "read":
            return [{"id": UID, "login": "admin"}]
        assert method == "search", method
        return [UID]


class SessionExpiredError(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle holds the body back.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read the answers, not a log."""

    def do_POST(self) -> None:
        fake = self.server.fake
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        params = request["params"]
        headers: dict[str, str] = {}
        try:
            if self.path == "/jsonrpc":
                result = fake.jsonrpc(params)
            elif self.path == "/web/session/authenticate":
                if fake.web_login_down:
                    self._send(502, b"Bad Gateway", "text/plain", {})
                    return
                new_session = uuid.uuid4().hex
                with fake.lock:
                    fake.sessions.add(new_session)
                headers["Set-Cookie"] = f"session_id={new_session}; Path=/; HttpOnly"
                result = {"uid": UID, "db": params["db"], "server_version": "18.0"}
            else:
                route = self.path.removeprefix("/web/dataset/call_kw/")
                model, _, method = route.rpartition(".")
                cookie = self.headers.get("Cookie", "")
                session = cookie.removeprefix("session_id=") if cookie else None
                result = fake.call_kw(session, model, method)
        except (ConnectionRefusedError, SessionExpiredError) as exc:
            expired = isinstance(exc, SessionExpiredError)
            name = SESSION_EXPIRED if expired else STORE_DOWN
            error = {
                "code": 100 if expired else 200,
                "message": "Odoo Session Expired" if expired else "Odoo Server Error",
                "data": {"name": name, "message": str(exc), "debug": "", "arguments": []},
            }
            self._json({"jsonrpc": "2.0", "id": request["id"], "error": error}, headers)
            return
        self._json({"jsonrpc": "2.0", "id": request["id"], "result": result}, headers)

    def _json(self, body: Json, headers: dict[str, str]) -> None:
        self._send(200, json.dumps(body).encode(), "application/json", headers)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeOdoo) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


@contextlib.contextmanager
def serve() -> Iterator[FakeOdoo]:
    """A fake Odoo on a free 127.0.0.1 port, at ``.url`` while the block runs."""
    fake = FakeOdoo()
    server = _Server(fake)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="fake-odoo", daemon=True
    )
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
