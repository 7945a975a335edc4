"""The HTTP API of the built-in Toxiproxy server: the proxy registry and its routes.

Routes, JSON shapes and status codes follow Shopify's ``toxiproxy-server`` 2.x (read
from its ``api.go``): ``/proxies``, ``/proxies/{proxy}``, ``/populate``, ``/reset``,
``/proxies/{proxy}/toxics``, ``/proxies/{proxy}/toxics/{toxic}`` and ``/version``;
201 on proxy create and populate, 200 on toxic create, 204 on delete and reset, 409 on
a duplicate, 404 on a missing proxy or toxic, 400 on bad input, errors as
``{"error": "...", "status": N}``. Everything runs on one asyncio loop together with
the forwarding in ``harness.toxiproxy.proxy``; API calls are serialised by one lock,
as the real server serialises them per collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import random
import re
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from harness.toxiproxy.errors import (
    ToxiproxyApiError,
    bad_body,
    missing_field,
    not_found_proxy,
)
from harness.toxiproxy.proxy import Proxy, split_host_port
from harness.toxiproxy.toxics import parse_new_toxic, parse_toxic_update

VERSION = "2.12.0-odoo-resilience"
"""What ``GET /version`` reports: the Toxiproxy API level followed, and that it is ours."""

_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Response:
    status: int
    body: object = None
    """JSON-encodable payload; None sends no body (204)."""


@dataclass(frozen=True)
class _ProxyInput:
    name: str
    listen: str
    upstream: str
    enabled: bool


def _normalise_listen(listen: str) -> str:
    """``listen`` as Toxiproxy resolves it to compare with a running proxy's address."""
    host, port = split_host_port(listen)
    if host:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            try:
                host = socket.gethostbyname(host)
            except OSError:
                raise ToxiproxyApiError(
                    400, f"invalid listen address: cannot resolve {host!r}; use an IP address"
                ) from None
            ip = ipaddress.ip_address(host)
        host = f"[{ip}]" if ip.version == 6 else str(ip)
    return f"{host}:{port}"


def _string_field(raw: Mapping[str, object], key: str, default: str) -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_body(f"field {key!r} must be a string, got {value!r}")
    return value


def _bool_field(raw: Mapping[str, object], key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_body(f"field {key!r} must be true or false, got {value!r}")
    return value


def _proxy_input(raw: object, defaults: _ProxyInput, where: str = "") -> _ProxyInput:
    if not isinstance(raw, Mapping):
        raise bad_body(f"expected a JSON object describing a proxy{where}, got {raw!r}")
    result = _ProxyInput(
        name=_string_field(raw, "name", defaults.name),
        listen=_string_field(raw, "listen", defaults.listen) or "127.0.0.1:0",
        upstream=_string_field(raw, "upstream", defaults.upstream),
        enabled=_bool_field(raw, "enabled", defaults.enabled),
    )
    if not result.name:
        raise missing_field(f"name{where}")
    if not result.upstream:
        raise missing_field(f"upstream{where}")
    split_host_port(result.upstream)
    return result


_Handler = Callable[[list[str], object], Awaitable[Response]]
_NEW_PROXY = _ProxyInput(name="", listen="", upstream="", enabled=True)


class ToxiproxyApi:
    """The registry of proxies and the handler of every API route."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.rng = rng or random.Random()
        self._lock = asyncio.Lock()

    def _proxy(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise not_found_proxy(name)
        return proxy

    async def handle(self, method: str, path: str, body: object) -> Response:
        """Route one request; ``body`` is the decoded JSON (None when there was none)."""
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        async with self._lock:
            try:
                return await self._route(method, parts, body)
            except ToxiproxyApiError as exc:
                return Response(exc.status, exc.body())

    async def _route(self, method: str, parts: list[str], body: object) -> Response:
        allowed: dict[str, _Handler]
        match parts:
            case ["version"]:
                allowed = {"GET": self._version}
            case ["reset"]:
                allowed = {"POST": self._reset}
            case ["populate"]:
                allowed = {"POST": self._populate}
            case ["proxies"]:
                allowed = {"GET": self._proxy_index, "POST": self._proxy_create}
            case ["proxies", _]:
                allowed = {
                    "GET": self._proxy_show,
                    "POST": self._proxy_update,
                    "PATCH": self._proxy_update,
                    "DELETE": self._proxy_delete,
                }
            case ["proxies", _, "toxics"]:
                allowed = {"GET": self._toxic_index, "POST": self._toxic_create}
            case ["proxies", _, "toxics", _]:
                allowed = {
                    "GET": self._toxic_show,
                    "POST": self._toxic_update,
                    "PATCH": self._toxic_update,
                    "DELETE": self._toxic_delete,
                }
            case _:
                raise ToxiproxyApiError(
                    404, f"not found: no API route /{'/'.join(parts)}; see docs/toxiproxy.md"
                )
        handler = allowed.get(method)
        if handler is None:
            raise ToxiproxyApiError(
                405,
                f"method not allowed: {method} /{'/'.join(parts)}; "
                f"allowed: {', '.join(sorted(allowed))}",
            )
        return await handler(parts, body)

    # -- handlers (each takes the path parts and the decoded body) ----------------------

    async def _version(self, _parts: list[str], _body: object) -> Response:
        return Response(200, {"version": VERSION})

    async def _reset(self, _parts: list[str], _body: object) -> Response:
        for proxy in list(self.proxies.values()):
            await proxy.start()
            proxy.remove_all_toxics()
        return Response(204)

    async def _proxy_index(self, _parts: list[str], _body: object) -> Response:
        return Response(200, {name: p.to_json() for name, p in self.proxies.items()})

    async def _proxy_create(self, _parts: list[str], body: object) -> Response:
        wanted = _proxy_input(body, _NEW_PROXY)
        if wanted.name in self.proxies:
            raise ToxiproxyApiError(
                409,
                f"proxy already exists: {wanted.name!r} is taken; "
                "delete it or use POST /populate to replace it",
            )
        proxy = Proxy(wanted.name, wanted.listen, wanted.upstream, self.rng)
        if wanted.enabled:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return Response(201, proxy.to_json())

    async def _populate(self, _parts: list[str], body: object) -> Response:
        if not isinstance(body, list):
            raise bad_body(f"expected a JSON array of proxies, got {body!r}")
        wanted = [_proxy_input(raw, _NEW_PROXY, f" at proxy {i}") for i, raw in enumerate(body, 1)]
        done: list[Proxy] = []
        try:
            for item in wanted:
                done.append(await self._add_or_replace(item))
        except ToxiproxyApiError as exc:
            payload = exc.body() | {"proxies": [p.to_json() for p in done]}
            return Response(exc.status, payload)
        return Response(201, {"proxies": [p.to_json() for p in done]})

    async def _add_or_replace(self, wanted: _ProxyInput) -> Proxy:
        existing = self.proxies.get(wanted.name)
        if existing is not None:
            if not self._differs(existing, wanted.listen, wanted.upstream):
                return existing
            existing.stop()
        proxy = Proxy(wanted.name, wanted.listen, wanted.upstream, self.rng)
        if wanted.enabled:
            await proxy.start()
        self.proxies[proxy.name] = proxy
        return proxy

    @staticmethod
    def _differs(proxy: Proxy, listen: str, upstream: str) -> bool:
        return _normalise_listen(listen) != proxy.listen or upstream != proxy.upstream

    async def _proxy_show(self, parts: list[str], _body: object) -> Response:
        return Response(200, self._proxy(parts[1]).to_json())

    async def _proxy_update(self, parts: list[str], body: object) -> Response:
        proxy = self._proxy(parts[1])
        current = _ProxyInput(proxy.name, proxy.listen, proxy.upstream, proxy.enabled)
        wanted = _proxy_input(body, current)
        if self._differs(proxy, wanted.listen, wanted.upstream):
            proxy.stop()
            proxy.listen = wanted.listen
            proxy.upstream = wanted.upstream
        if wanted.enabled and not proxy.enabled:
            await proxy.start()
        elif not wanted.enabled:
            proxy.stop()
        return Response(200, proxy.to_json())

    async def _proxy_delete(self, parts: list[str], _body: object) -> Response:
        proxy = self._proxy(parts[1])
        proxy.stop()
        del self.proxies[proxy.name]
        return Response(204)

    async def _toxic_index(self, parts: list[str], _body: object) -> Response:
        return Response(200, [t.to_json() for t in self._proxy(parts[1]).toxic_chain()])

    async def _toxic_create(self, parts: list[str], body: object) -> Response:
        proxy = self._proxy(parts[1])
        spec = parse_new_toxic(body)
        proxy.add_toxic(spec)
        return Response(200, spec.to_json())

    async def _toxic_show(self, parts: list[str], _body: object) -> Response:
        return Response(200, self._proxy(parts[1]).get_toxic(parts[3]).to_json())

    async def _toxic_update(self, parts: list[str], body: object) -> Response:
        proxy = self._proxy(parts[1])
        spec = parse_toxic_update(proxy.get_toxic(parts[3]), body)
        proxy.update_toxic(spec)
        return Response(200, spec.to_json())

    async def _toxic_delete(self, parts: list[str], _body: object) -> Response:
        self._proxy(parts[1]).remove_toxic(parts[3])
        return Response(204)

    def close(self) -> None:
        """Stop every proxy: listeners and live connections."""
        for proxy in self.proxies.values():
            proxy.stop()


_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/(1\.[01])\r?\n$")


async def _read_request(
    reader: asyncio.StreamReader,
) -> tuple[str, str, dict[str, str], bytes, bool] | None:
    """One HTTP/1.x request: method, path, headers, body and whether to keep the connection."""
    line = await reader.readline()
    if not line:
        return None
    match = _REQUEST_LINE.match(line)
    if match is None:
        raise ToxiproxyApiError(400, f"bad request: malformed request line {line[:80]!r}")
    headers: dict[str, str] = {}
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        key, _, value = header.decode("latin-1").partition(":")
        headers[key.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ToxiproxyApiError(411, "length required: send the body with Content-Length")
    length = int(headers.get("content-length", "0") or "0")
    if length > _MAX_BODY:
        raise ToxiproxyApiError(413, f"request body too large: {length} bytes > {_MAX_BODY}")
    body = await reader.readexactly(length) if length else b""
    version = match.group(3).decode()
    connection = headers.get("connection", "").lower()
    keep = connection != "close" and (version == "1.1" or connection == "keep-alive")
    return match.group(1).decode(), urlsplit(match.group(2).decode()).path, headers, body, keep


def _encode(response: Response, keep: bool) -> bytes:
    payload = b"" if response.body is None else json.dumps(response.body).encode() + b"\n"
    reason = HTTPStatus(response.status).phrase
    head = [f"HTTP/1.1 {response.status} {reason}", f"Content-Length: {len(payload)}"]
    if response.body is not None:
        head.append("Content-Type: application/json")
    head.append("Connection: keep-alive" if keep else "Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


class ApiServer:
    """Serves a ``ToxiproxyApi`` over HTTP/1.1 on one address."""

    def __init__(self, api: ToxiproxyApi) -> None:
        self.api = api
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, host, port, reuse_address=True)
        sockname = self._server.sockets[0].getsockname()
        return str(sockname[0]), int(sockname[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        # Idle keep-alive clients: closing their sockets lets each handler return
        # normally instead of being cancelled when the loop ends.
        for writer in list(self._clients):
            writer.close()
        deadline = asyncio.get_running_loop().time() + 2
        while self._clients and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        self.api.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except ToxiproxyApiError as exc:
                    writer.write(_encode(Response(exc.status, exc.body()), keep=False))
                    break
                if request is None:
                    break
                method, path, headers, raw, keep = request
                response = await self._respond(method, path, headers, raw)
                writer.write(_encode(response, keep))
                await writer.drain()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._clients.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(
        self, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> Response:
        if headers.get("user-agent", "").startswith("Mozilla/"):
            # Toxiproxy refuses browsers so a web page cannot drive it (CSRF).
            return Response(
                403, {"error": "User agent not allowed: use an API client", "status": 403}
            )
        body: object = None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as exc:
                return Response(400, bad_body(str(exc)).body())
        return await self.api.handle(method, path, body)
