"""The platform seam: what scenarios and faults may ask of wherever the stack runs.

Three platforms implement ``Platform`` (DESIGN.md): ``local`` (real daemons as
processes on this host), ``docker`` and ``kind``. Scenarios and faults only use
these primitives and never branch on the platform.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from harness.platform.endpoints import StackEndpoints


@dataclass(frozen=True)
class IoLimits:
    """Block-I/O limits for a throttled node or DB member; ``None`` leaves that axis free."""

    read_iops: int | None = None
    write_iops: int | None = None
    read_bps: int | None = None
    write_bps: int | None = None

    def __post_init__(self) -> None:
        values = (self.read_iops, self.write_iops, self.read_bps, self.write_bps)
        if all(v is None for v in values):
            raise ValueError(
                "IoLimits needs at least one of read_iops, write_iops, read_bps, write_bps"
            )
        for value in values:
            if value is not None and value <= 0:
                raise ValueError(f"IoLimits values must be positive integers, saw {value}")


@dataclass(frozen=True)
class PlatformTimings:
    """The settings that bound how fast the stack can recover (for the RTO floor)."""

    leader_ttl_s: float
    """How long a dead leader keeps its lock (Patroni ``ttl``)."""
    ha_loop_s: float
    """How often the HA manager looks (Patroni ``loop_wait``)."""
    router_check_s: float
    """How often the DB router checks who is primary (HAProxy ``inter``)."""
    router_fall: int
    router_rise: int
    ingress_check_s: float
    """How often the ingress health-checks each app instance (Traefik interval)."""


class Health(Enum):
    UP = "up"
    DOWN = "down"
    FROZEN = "frozen"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    node: str
    pid: int | None
    address: str
    health: Health


@dataclass(frozen=True)
class DbMemberStatus:
    name: str
    role: str
    state: str
    timeline: int | None
    lag_bytes: int | None


@dataclass(frozen=True)
class Promotion:
    """One promotion of a DB replica to leader, as the cluster's own record holds it.

    ``wall_ns`` is when the promotion happened (wall clock, ns since the epoch) by the HA
    manager's record of it (Patroni: the new timeline's history file, written as the
    replica ends recovery; CloudNativePG: the cluster's status), never when a client
    first noticed.
    """

    previous_timeline: int
    timeline: int
    """The timeline the promotion started."""
    wall_ns: int
    new_leader: str | None
    """The member promoted; None when the record does not name it."""


@dataclass(frozen=True)
class StackStatus:
    platform: str
    run_id: str
    components: tuple[ComponentStatus, ...]
    leader: str | None
    db_members: tuple[DbMemberStatus, ...]


class Platform(Protocol):
    """Primitive operations on a running stack. Faults are built from these."""

    @property
    def name(self) -> str: ...

    def up(self) -> StackEndpoints:
        """Bring the whole stack up; return once every component passed its readiness check."""
        ...

    def down(self, keep: bool = False) -> None:
        """Stop everything; leave no process, port or cgroup (data and logs too unless ``keep``)."""
        ...

    def endpoints(self) -> StackEndpoints: ...

    def timings(self) -> PlatformTimings: ...

    def status(self) -> StackStatus: ...

    def nodes(self) -> Mapping[str, tuple[str, ...]]:
        """Node name → the components it runs."""
        ...

    def crash_node(self, node: str) -> None:
        """Kill every process of ``node`` at once (SIGKILL)."""
        ...

    def freeze_node(self, node: str) -> None: ...

    def node_pids(self, node: str) -> tuple[int, ...]:
        """The host pids of ``node``'s processes as the kernel sees them (for landed
        checks, which read each pid's state from ``/proc`` themselves)."""
        ...

    def node_freezer_states(self, node: str) -> Mapping[str, str]:
        """The kernel's freezer state of ``node`` (FROZEN, THAWED ...) per state file read."""
        ...

    def thaw_node(self, node: str) -> None: ...

    def throttle_storage(self, target: str, limits: IoLimits) -> None:
        """Throttle block I/O of a node or of one DB member (``pg-N``)."""
        ...

    def unthrottle_storage(self, target: str) -> None: ...

    def kill_component(self, name: str) -> None: ...

    def stop_component(self, name: str) -> None: ...

    def start_component(self, name: str) -> None: ...

    def leader(self) -> str | None: ...

    def db_promotions(self) -> tuple[Promotion, ...]:
        """The DB promotions on the cluster's own record that carry their instant, oldest
        first; PlatformError when no member can say."""
        ...

    def switchover(self, candidate: str | None = None) -> str:
        """Planned leader change; returns the new leader."""
        ...

    def failover(self, candidate: str) -> str:
        """Forced leader change to ``candidate``; returns the new leader."""
        ...

    def set_app_weights(self, weights: Mapping[str, int]) -> None:
        """Ingress weights of the blue/green app services."""
        ...

    def deploy_release(self, release: str, instances: int = 1) -> tuple[str, ...]:
        """Start a new app release as the green service, with no traffic yet."""
        ...

    def release_ready(self) -> bool:
        """Every instance of the green release passes the ingress health check."""
        ...

    def retire_release(self) -> None:
        """All traffic to blue; the green release removed and stopped (idempotent)."""
        ...

    def rollback_schema(self) -> bool:
        """Undo a release's schema migration; True when something was migrated back."""
        ...

    def log_offsets(self) -> Mapping[str, int]:
        """Each component log's position now (bytes): where a log window opens."""
        ...

    def component_logs(self, since: Mapping[str, int]) -> Mapping[str, str]:
        """What each component logged after ``since`` (from ``log_offsets``), bounded in
        size with a marker where lines were left out; a component absent from ``since``
        (started later) is read from the start of its log."""
        ...
