"""The one way the harness talks to Odoo: JSON-RPC over one pooled HTTP/1.1 connection pool.

``OdooClient`` speaks both external APIs of Odoo 17/18 (odoo-facts.md §1): the session-less
``/jsonrpc`` (``common.version``/``login``, ``object.execute_kw``) and the cookie-based web
API (``/web/session/authenticate``, ``/web/dataset/call_kw``). It owns the translation of
every answer into a value or one ``OdooError`` (harness/odoo/errors.py) and nothing else:
no retries, no re-login, no fallbacks, because the probes and the write ledger must see every
failure exactly as Odoo or the network produced it.

Thread safety: one client may be shared by threads. ``httpx.Client`` is thread-safe and the
little state the client keeps (uid, session id, request counter) sits behind a lock. Probes
still use a client each, so that one probe's connection trouble never shows in another's.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from types import TracebackType

import httpx

from harness.core.stalls import Exchange
from harness.odoo.errors import (
    ClientNotLoggedIn,
    LoginRefused,
    OdooConnectionError,
    OdooError,
    OdooHTTPError,
    OdooRPCError,
    OdooTimeout,
    UnexpectedAnswer,
)

SESSION_COOKIE = "session_id"
BODY_EXCERPT_CHARS = 300


ExchangeObserver = Callable[[Exchange], None]
"""Called after every exchange of a client, answered or not (``OdooClient.observer``)."""


@dataclass(frozen=True)
class OdooVersion:
    """What ``common.version`` says about the server."""

    server_version: str
    serie: str
    major: int
    protocol_version: int


@dataclass(frozen=True)
class SessionInfo:
    """The parts of ``/web/session/authenticate``'s session info the harness uses."""

    uid: int
    db: str
    server_version: str


class OdooClient:
    """A client for one Odoo database and user; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        db: str,
        login: str,
        password: str,
        timeout_s: float,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self.db = db
        self.login_name = login
        self.timeout_s = timeout_s
        self._password = password
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._uid: int | None = None
        self._session_id: str | None = None
        self.observer: ExchangeObserver | None = None
        """Told of every exchange once it ended (the probes time stalls with it)."""
        self._http = httpx.Client(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s),
            # httpx's default transport retries nothing either; made explicit because a
            # hidden retry would turn one outage sample into two requests.
            transport=transport if transport is not None else httpx.HTTPTransport(retries=0),
            # The session cookie is sent by hand on the web API only: a cookie on /jsonrpc
            # would make Odoo touch the session store (Redis) on calls that must not.
            cookies=http.cookiejar.CookieJar(
                http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
            ),
            follow_redirects=False,
            trust_env=False,
        )

    def __enter__(self) -> OdooClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    @property
    def uid(self) -> int | None:
        with self._lock:
            return self._uid

    @property
    def has_session(self) -> bool:
        with self._lock:
            return self._session_id is not None

    def version(self) -> OdooVersion:
        endpoint = "/jsonrpc common.version"
        result = self._jsonrpc("common", "version", [], endpoint)
        if not isinstance(result, dict):
            raise UnexpectedAnswer(endpoint=endpoint, expected="a version dict", seen=result)
        info = result.get("server_version_info")
        serie = result.get("server_serie")
        server_version = result.get("server_version")
        protocol = result.get("protocol_version", 1)
        if (
            not isinstance(info, list)
            or not info
            or not isinstance(info[0], int)
            or not isinstance(serie, str)
            or not isinstance(server_version, str)
            or not isinstance(protocol, int)
        ):
            raise UnexpectedAnswer(
                endpoint=endpoint,
                expected="server_version, server_version_info [major, ...] and server_serie",
                seen=result,
            )
        return OdooVersion(
            server_version=server_version, serie=serie, major=info[0], protocol_version=protocol
        )

    def login(self) -> int:
        """``common.login``: remembers and returns the uid; ``LoginRefused`` on ``false``."""
        endpoint = "/jsonrpc common.login"
        result = self._jsonrpc(
            "common", "login", [self.db, self.login_name, self._password], endpoint
        )
        if result is False:
            raise LoginRefused(endpoint=endpoint, db=self.db, login=self.login_name)
        if not isinstance(result, int) or isinstance(result, bool):
            raise UnexpectedAnswer(endpoint=endpoint, expected="a uid or false", seen=result)
        with self._lock:
            self._uid = result
        return result

    def execute_kw(
        self,
        model: str,
        method: str,
        args: Sequence[object],
        kwargs: Mapping[str, object] | None = None,
    ) -> object:
        """``object.execute_kw``; context goes in ``kwargs["context"]``. Needs ``login()``."""
        uid = self.uid
        endpoint = f"/jsonrpc object.execute_kw {model}.{method}"
        if uid is None:
            raise ClientNotLoggedIn(
                f"expected login() before {endpoint}, saw no uid; call client.login() first"
            )
        call_args: list[object] = [
            self.db,
            uid,
            self._password,
            model,
            method,
            list(args),
            dict(kwargs or {}),
        ]
        return self._jsonrpc("object", "execute_kw", call_args, endpoint)

    def authenticate_session(self) -> SessionInfo:
        """``/web/session/authenticate``: keeps the session cookie for ``call_kw``."""
        endpoint = "/web/session/authenticate"
        params = {"db": self.db, "login": self.login_name, "password": self._password}
        result, session_id = self._post(endpoint, params, session_id=None)
        uid = result.get("uid") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not isinstance(uid, int) or isinstance(uid, bool):
            raise UnexpectedAnswer(
                endpoint=endpoint, expected="session info with a uid", seen=result
            )
        if session_id is None:
            raise UnexpectedAnswer(
                endpoint=endpoint,
                expected=f"a Set-Cookie header carrying {SESSION_COOKIE}",
                seen=result,
            )
        db = result.get("db")
        server_version = result.get("server_version")
        with self._lock:
            self._session_id = session_id
        return SessionInfo(
            uid=uid,
            db=db if isinstance(db, str) else self.db,
            server_version=server_version if isinstance(server_version, str) else "",
        )

    def call_kw(
        self,
        model: str,
        method: str,
        args: Sequence[object],
        kwargs: Mapping[str, object] | None = None,
    ) -> object:
        """``/web/dataset/call_kw/<model>.<method>`` with the session cookie."""
        endpoint = f"/web/dataset/call_kw/{model}.{method}"
        with self._lock:
            session_id = self._session_id
        if session_id is None:
            raise ClientNotLoggedIn(
                f"expected authenticate_session() before {endpoint}, saw no session; "
                f"call client.authenticate_session() first"
            )
        params = {
            "model": model,
            "method": method,
            "args": list(args),
            "kwargs": dict(kwargs or {}),
        }
        result, rotated = self._post(endpoint, params, session_id=session_id)
        if rotated is not None:
            with self._lock:
                self._session_id = rotated
        return result

    def _jsonrpc(self, service: str, method: str, args: list[object], endpoint: str) -> object:
        params = {"service": service, "method": method, "args": args}
        result, _ = self._post("/jsonrpc", params, session_id=None, endpoint=endpoint)
        return result

    def _post(
        self,
        path: str,
        params: Mapping[str, object],
        *,
        session_id: str | None,
        endpoint: str | None = None,
    ) -> tuple[object, str | None]:
        """One JSON-RPC POST; returns the result (None when absent) and a new session id."""
        where = endpoint or path
        with self._lock:
            request_id = next(self._ids)
        body = {"jsonrpc": "2.0", "method": "call", "params": params, "id": request_id}
        headers = {"Cookie": f"{SESSION_COOKIE}={session_id}"} if session_id else None
        sent = time.monotonic_ns()
        try:
            response = self._http.post(path, json=body, headers=headers)
        except httpx.RequestError as exc:
            self._observed(where, sent)
            raise _transport_error(exc, where, self.timeout_s) from exc
        self._observed(where, sent)
        return _parse_answer(response, where), _session_cookie(response)

    def _observed(self, endpoint: str, sent_ns: int) -> None:
        if self.observer is not None:
            self.observer(Exchange(endpoint, sent_ns, time.monotonic_ns()))


def _transport_error(exc: httpx.RequestError, endpoint: str, timeout_s: float) -> OdooError:
    """Translates httpx's failures, deciding whether the request may have reached Odoo."""
    if isinstance(exc, httpx.TimeoutException):
        phase, sent = {
            httpx.ConnectTimeout: ("connect", False),
            httpx.PoolTimeout: ("pool", False),
            httpx.WriteTimeout: ("write", True),
        }.get(type(exc), ("read", True))
        return OdooTimeout(endpoint=endpoint, phase=phase, timeout_s=timeout_s, sent=sent)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    # ConnectError is the only failure that proves nothing was sent (refused, unreachable);
    # a reset, an early close or a broken response happen after the request went out.
    sent = not isinstance(exc, httpx.ConnectError | httpx.LocalProtocolError)
    return OdooConnectionError(endpoint=endpoint, detail=detail, sent=sent)


def _parse_answer(response: httpx.Response, endpoint: str) -> object:
    try:
        payload = json.loads(response.content)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            raise _rpc_error(error, endpoint, response.status_code)
        if response.status_code == 200 and "jsonrpc" in payload:
            return payload.get("result")
    raise OdooHTTPError(
        endpoint=endpoint,
        status=response.status_code,
        body_excerpt=response.text[:BODY_EXCERPT_CHARS],
    )


def _rpc_error(error: Mapping[str, object], endpoint: str, http_status: int) -> OdooRPCError:
    data = error.get("data")
    data = data if isinstance(data, dict) else {}
    code = error.get("code")
    name = data.get("name")
    message = data.get("message") or error.get("message")
    debug = data.get("debug")
    return OdooRPCError(
        endpoint=endpoint,
        name=name if isinstance(name, str) else "",
        message=message if isinstance(message, str) else "",
        code=code if isinstance(code, int) else 0,
        http_status=http_status,
        debug=debug if isinstance(debug, str) else "",
    )


def _session_cookie(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("set-cookie"):
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(header)
        except CookieError:
            continue
        morsel = cookie.get(SESSION_COOKIE)
        if morsel is not None and morsel.value:
            return morsel.value
    return None
