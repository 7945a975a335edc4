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
from harness.platform.local.ports import LOOPBACK
from harness.platform.local.process import Process, ProcessSpec, spawn, wait_ready

START_TIMEOUT_S = 60.0


class AppInstance:
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
        self._ctx = ctx
        self._node = node
        self._name = name
        self.port = port
        self._argv = tuple(argv)
        self._env = dict(env)
        self.health_path = health_path
        self._process: Process | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def node(self) -> str:
        return self._node

    @property
    def url(self) -> str:
        """The backend URL Traefik forwards to."""
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        if self._process is not None and self._process.alive():
            return
        spec = ProcessSpec(
            name=self._name,
            argv=self._argv,
            log_path=self._ctx.log_path(self._name),
            cwd=self._ctx.data_dir(self._name),
            env=self._env,
            cgroup_procs=self._ctx.cgroup_procs(self._node, self._name),
        )
        self._process = spawn(spec)
        try:
            wait_ready(
                self._process,
                self.healthy,
                START_TIMEOUT_S,
                f"GET {self.health_path} answering 200",
            )
        except BaseException:
            # A component that never became ready must not outlive the error.
            self.stop()
            raise

    def stop(self, grace_s: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(grace_s)
            self._process = None

    def healthy(self) -> bool:
        try:
            response = httpx.get(self.url + self.health_path, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def pid(self) -> int | None:
        if self._process is not None and self._process.alive():
            return self._process.pid
        return None
