"""The Toxiproxy server of the local platform and the links it proxies.

Every link a network fault can act on passes through one proxy: app→DB (in front
of HAProxy's read-write and read-only ports), app→Redis, app→S3 and
ingress→each app instance. The real ``toxiproxy-server`` runs when it is on PATH;
otherwise the built-in server (``python -m harness.toxiproxy``) that speaks the
same HTTP API. Either way the proxies are created through the Toxiproxy HTTP API
(``/populate``) and driven by faults through ``toxiproxy-python``.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

import httpx

from harness.errors import ComponentFailed
from harness.platform.endpoints import HostPort
from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.toxiproxy import is_ready, toxiproxy_command


@dataclass(frozen=True)
class ProxyRoute:
    """One proxied link: clients connect to ``listen``, the proxy dials ``upstream``."""

    name: str
    listen: HostPort
    upstream: HostPort


def toxiproxy_argv(api: HostPort) -> list[str]:
    """The real server when installed, else the built-in one."""
    real = shutil.which("toxiproxy-server")
    if real is not None:
        return [real, "-host", api.host, "-port", str(api.port)]
    return toxiproxy_command(api.host, api.port)


class FaultProxy(Daemon):
    """The Toxiproxy server component, with its proxies created at start."""

    def __init__(
        self, ctx: StackContext, node: str, api: HostPort, routes: list[ProxyRoute]
    ) -> None:
        super().__init__(ctx, node, "toxiproxy")
        self.api = api
        self.routes = list(routes)

    @property
    def api_url(self) -> str:
        return f"http://{self.api.host}:{self.api.port}"

    def route(self, name: str) -> ProxyRoute:
        for route in self.routes:
            if route.name == name:
                return route
        known = ", ".join(r.name for r in self.routes)
        raise KeyError(f"no proxied link named {name!r}; links: {known}")

    def start(self) -> None:
        if self.running():
            return
        self._launch(
            toxiproxy_argv(self.api),
            ready=self.healthy,
            what=f"GET {self.api_url}/version",
            timeout_s=30,
        )
        self._populate()

    def _populate(self) -> None:
        # Creating the proxies through the same HTTP API toxiproxy-python drives.
        payload = [
            {"name": r.name, "listen": str(r.listen), "upstream": str(r.upstream), "enabled": True}
            for r in self.routes
        ]
        response = httpx.post(f"{self.api_url}/populate", json=payload, timeout=10)
        if response.status_code not in (200, 201):
            raise ComponentFailed(
                f"toxiproxy refused the proxies (HTTP {response.status_code}): "
                f"{response.text[:500]}"
            )

    def healthy(self) -> bool:
        return is_ready(self.api.host, self.api.port)
