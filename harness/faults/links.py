"""The one adapter around ``toxiproxy-python``: toxics and enable/disable of a link.

``toxiproxy-python`` keeps the API's host and port as class attributes of
``APIConsumer`` shared by every caller in the process; each call here sets them
under a lock and restores them, so two stacks (or threads) never talk to each
other's server. Its exceptions (and those of ``requests``, all OSErrors) are
translated to ``FaultError``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

import toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound

from harness.errors import FaultError
from harness.platform.endpoints import HostPort

_LOCK = threading.Lock()


class ToxicKind(StrEnum):
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    RESET_PEER = "reset_peer"


class Direction(StrEnum):
    """``upstream`` is client to server, ``downstream`` server to client (Toxiproxy's words)."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


@dataclass(frozen=True)
class Toxic:
    name: str
    kind: ToxicKind
    direction: Direction
    attributes: Mapping[str, int]
    toxicity: float = 1.0


@dataclass(frozen=True)
class LinkState:
    name: str
    listen: HostPort
    enabled: bool
    toxics: tuple[str, ...]


@contextmanager
def _server(api_url: str) -> Iterator[toxiproxy.Toxiproxy]:
    parts = urlsplit(api_url)
    if parts.hostname is None or parts.port is None:
        raise FaultError(
            f"expected a Toxiproxy API URL like http://127.0.0.1:8474, saw {api_url!r}"
        )
    with _LOCK:
        saved = (APIConsumer.host, APIConsumer.port)
        APIConsumer.host, APIConsumer.port = parts.hostname, parts.port
        try:
            yield toxiproxy.Toxiproxy()
        except OSError as exc:  # requests' errors are OSErrors
            raise FaultError(
                f"expected the Toxiproxy API at {api_url} to answer, it did not: {exc}. "
                "Check that the stack's toxiproxy component is up (`odoo-resilience status`)."
            ) from exc
        finally:
            APIConsumer.host, APIConsumer.port = saved


def _proxy(server: toxiproxy.Toxiproxy, api_url: str, link: str) -> toxiproxy.Proxy:
    proxy = server.get_proxy(link)
    if proxy is None:
        known = ", ".join(sorted(server.proxies()))
        raise FaultError(
            f"expected a link named {link!r} on the Toxiproxy at {api_url}, saw only: {known}"
        )
    return proxy


def _host_port(listen: str) -> HostPort:
    host, _, port = listen.rpartition(":")
    return HostPort(host or "127.0.0.1", int(port))


def state(api_url: str, link: str) -> LinkState:
    with _server(api_url) as server:
        proxy = _proxy(server, api_url, link)
        names = tuple(sorted(proxy.toxics()))
        return LinkState(link, _host_port(str(proxy.listen)), bool(proxy.enabled), names)


def all_states(api_url: str) -> tuple[LinkState, ...]:
    with _server(api_url) as server:
        return tuple(
            LinkState(name, _host_port(str(p.listen)), bool(p.enabled), tuple(sorted(p.toxics())))
            for name, p in sorted(server.proxies().items())
        )


def add_toxic(api_url: str, link: str, toxic: Toxic) -> None:
    with _server(api_url) as server:
        proxy = _proxy(server, api_url, link)
        try:
            proxy.add_toxic(
                name=toxic.name,
                type=toxic.kind.value,
                stream=toxic.direction.value,
                toxicity=toxic.toxicity,
                attributes=dict(toxic.attributes),
            )
        except InvalidToxic as exc:
            raise FaultError(
                f"expected Toxiproxy to accept the {toxic.kind.value} toxic {toxic.name!r} on "
                f"{link}, it refused: {exc}; check its attributes {dict(toxic.attributes)}"
            ) from exc


def remove_toxic(api_url: str, link: str, name: str) -> bool:
    """Remove toxic ``name``; False when it was not there (already removed)."""
    with _server(api_url) as server:
        proxy = _proxy(server, api_url, link)
        try:
            proxy.destroy_toxic(name)
        except NotFound:
            return False
        return True


def set_enabled(api_url: str, link: str, enabled: bool) -> None:
    with _server(api_url) as server:
        proxy = _proxy(server, api_url, link)
        if enabled:
            proxy.enable()
        else:
            proxy.disable()
