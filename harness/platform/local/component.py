"""The contract between the local platform and each of its daemons.

A component is constructed with everything it needs to know (its ports, its
peers' addresses, its settings), so configuration can be written before anything
runs. ``start`` is re-runnable after ``stop`` (a restarted component comes back on
the same ports with the same data), which is what ``stop_component`` /
``start_component`` faults rely on.
"""

from __future__ import annotations

from typing import Protocol


class LocalComponent(Protocol):
    """One daemon (or a small group, e.g. a Patroni member with its PostgreSQL)."""

    @property
    def name(self) -> str:
        """Unique in the run: ``etcd``, ``pg-1``, ``haproxy``, ``app-2`` ..."""
        ...

    @property
    def node(self) -> str:
        """The node (cgroup) holding its processes."""
        ...

    def start(self) -> None:
        """Write its configuration, start it and return once its own readiness check passes.

        Raises ComponentFailed (with the log tail) when it exits or is not ready in time.
        """
        ...

    def stop(self, grace_s: float = 10.0) -> None:
        """Stop it gracefully, SIGKILL after ``grace_s``; a no-op when it is not running."""
        ...

    def healthy(self) -> bool:
        """Its own readiness check, now (never raises)."""
        ...

    def pid(self) -> int | None:
        """The main process's pid while it runs, else None."""
        ...
