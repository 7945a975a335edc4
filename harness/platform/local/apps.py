"""App instances of the local platform: any HTTP app command, ready when its health path is.

Runs the Odoo double, real ``odoo-bin`` or the ``fixtures/health_app.py`` stand-in the
same way: the caller gives the full command line (the port is already in it) and the
environment; readiness is ``GET <health_path>`` answering 200, which is also what
Traefik's health check asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from harness.platform.local.context import StackContext
from harness.platform.local.daemon import Daemon
from harness.platform.local.ports import LOOPBACK

START_TIMEOUT_S = 60.0


class AppInstance(Daemon):
    """One app process listening on 127.0.0.1:``port``."""

    def __init__(
        self,
        ctx: StackContext,
        node: str,
        name: str,
        *,
        port: int,
        argv: Sequence[str],
        env: Mapping[str, str],
        health_path: str = "/web/health",
    ) -> None:
        super().__init__(ctx, node, name)
        self.port = port
        self._argv = tuple(argv)
        self._env = dict(env)
        self.health_path = health_path

    @property
    def url(self) -> str:
        """The backend URL Traefik forwards to."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        self._launch(
            self._argv,
            ready=self.healthy,
            what=f"GET {self.health_path} answering 200",
            timeout_s=START_TIMEOUT_S,
            cwd=self._ctx.data_dir(self._name),
            env=self._env,
        )

    def healthy(self) -> bool:
        try:
            response = httpx.get(self.url + self.health_path, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
