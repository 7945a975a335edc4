"""``Daemon``: the plumbing every one-process component shares.

A component names its daemon, its node and how to tell it is ready; this class
starts it inside its node's cgroup leaf, waits for readiness (stopping it again if
it never gets there, so nothing outlives the error), stops it, and reports its pid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness.platform.local.context import StackContext
from harness.platform.local.process import Process, ProcessSpec, spawn, wait_ready


class Daemon:
    """Base of the local components that run as one long-lived process."""

    def __init__(self, ctx: StackContext, node: str, name: str) -> None:
        self._ctx = ctx
        self._node = node
        self._name = name
        self._process: Process | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def node(self) -> str:
        return self._node

    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def _launch(
        self,
        argv: Sequence[str],
        *,
        ready: Callable[[], bool],
        what: str,
        timeout_s: float,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        user: str | None = None,
        interval_s: float = 0.1,
    ) -> None:
        """Spawn ``argv`` in the node's cgroup and wait until ``ready()``; no-op if running."""
        if self.running():
            return
        self._process = spawn(
            ProcessSpec(
                name=self._name,
                argv=argv,
                log_path=self._ctx.log_path(self._name),
                cwd=cwd,
                env=env or {},
                user=user,
                cgroup_procs=self._ctx.cgroup_procs(self._node, self._name),
            )
        )
        try:
            wait_ready(self._process, ready, timeout_s, what, interval_s=interval_s)
        except BaseException:
            # A daemon that never became ready must not outlive the error.
            self.stop(grace_s=2.0)
            raise

    def stop(self, grace_s: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(grace_s)
            self._process = None

    def pid(self) -> int | None:
        if self._process is not None and self._process.alive():
            return self._process.pid
        return None
