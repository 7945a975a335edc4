"""A fake platform: the ``Platform`` seam with in-memory state, for unit tests of what
sits on top of it (the fault lifecycle, the rollout controller, the workloads).

It runs nothing: components, nodes, the DB leader, the ingress's blue/green weights
and versions and a release's state are fields that the primitives change, and every
primitive call is logged in ``calls`` (e.g. ``"freeze_node(node-b)"``) so a test can
check what was asked and in which order. A test makes a primitive fail with
``fail_on`` or have no effect with ``inert``. Everything that reads the kernel
(``node_pids``) finds nothing here: landed checks that read ``/proc`` need the local
platform.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from harness.errors import ComponentFailed, PlatformError
from harness.platform.base import (
    ComponentStatus,
    DbMemberStatus,
    Health,
    IoLimits,
    Platform,
    PlatformTimings,
    Promotion,
    StackStatus,
)
from harness.platform.endpoints import AppLogin, DatabaseAccess, HostPort, S3Access, StackEndpoints

BLUE, GREEN = "odoo-blue", "odoo-green"
STABLE = "stable"
DEFAULT_NODES: Mapping[str, tuple[str, ...]] = {
    "node-a": ("pg-1", "app-1"),
    "node-b": ("pg-2", "app-2"),
    "node-c": ("pg-3", "redis", "traefik"),
}


@dataclass(frozen=True)
class FakeRelease:
    """How a release behaves once deployed on the fake."""

    crashes_at_start: bool = False
    ready_after_polls: int | None = 0
    """``release_ready`` says False this many times, then True; None: never ready."""
    migrates: bool = False
    """Its deploy migrates the schema, so ``rollback_schema`` has something to undo."""


@dataclass(frozen=True)
class WeightChange:
    t_ns: int
    weights: Mapping[str, int]


class FakePlatform:
    """See the module docstring."""

    def __init__(
        self,
        nodes: Mapping[str, tuple[str, ...]] = DEFAULT_NODES,
        *,
        releases: Mapping[str, FakeRelease] | None = None,
        ingress_url: str = "http://127.0.0.1:9",
        run_id: str = "fake-run",
    ) -> None:
        self._nodes = dict(nodes)
        self._releases = dict(releases or {})
        self._ingress_url = ingress_url
        self.run_id = run_id
        self.health: dict[str, Health] = {c: Health.UP for cs in nodes.values() for c in cs}
        self.frozen: set[str] = set()
        self.throttled: dict[str, IoLimits] = {}
        members = sorted(c for c in self.health if c.startswith("pg-"))
        self._leader: str | None = members[0] if members else None
        self.promotions: list[Promotion] = []
        self.weights: dict[str, int] = {BLUE: 100}
        self.weight_history: list[WeightChange] = []
        self.versions: dict[str, str] = {BLUE: STABLE}
        """Which release each ingress service runs."""
        self.green: tuple[str, ...] = ()
        self.migrated = False
        self.calls: list[str] = []
        self._ready_polls = 0
        self._failures: dict[str, BaseException] = {}
        self._inert: set[str] = set()
        self._logs: dict[str, str] = dict.fromkeys(self.health, "")

    # -- what tests set up --------------------------------------------------------------
    def fail_on(self, call: str, error: BaseException) -> None:
        """Make the primitive call ``call`` (as logged in ``calls``) raise ``error``."""
        self._failures[call] = error

    def inert(self, call: str) -> None:
        """Make the primitive call ``call`` succeed without changing anything (node,
        component, storage and weight primitives; a release's behaviour is its
        ``FakeRelease``)."""
        self._inert.add(call)

    def green_weights(self) -> list[int]:
        """The green service's weight after each change, in order."""
        return [change.weights.get(GREEN, 0) for change in self.weight_history]

    # -- bookkeeping --------------------------------------------------------------------
    def _call(self, op: str, *args: str) -> bool:
        """Log the call, raise its failure if one was set; False when it is inert."""
        call = f"{op}({', '.join(args)})"
        self.calls.append(call)
        failure = self._failures.get(call)
        if failure is not None:
            raise failure
        return call not in self._inert

    def _node_of(self, component: str) -> str:
        for node, components in self._nodes.items():
            if component in components:
                return node
        raise PlatformError(
            f"expected a component of {sorted(self.health)}, saw {component!r}; "
            "name one from the fake's nodes"
        )

    def _set_health(self, component: str, health: Health, why: str) -> None:
        self._node_of(component)
        self.health[component] = health
        self._logs[component] = self._logs.get(component, "") + f"{health.value}: {why}\n"

    def _check_node(self, node: str) -> None:
        if node not in self._nodes:
            raise PlatformError(
                f"expected a node of {sorted(self._nodes)}, saw {node!r}; name one of them"
            )

    # -- the Platform protocol ----------------------------------------------------------
    @property
    def name(self) -> str:
        return "fake"

    def up(self) -> StackEndpoints:
        self._call("up")
        for component in self.health:
            self._set_health(component, Health.UP, "up")
        return self.endpoints()

    def down(self, keep: bool = False) -> None:
        self._call("down", str(keep))
        self.retire_release()
        self.frozen.clear()
        self.throttled.clear()
        for component in self.health:
            self._set_health(component, Health.STOPPED, "down")

    def endpoints(self) -> StackEndpoints:
        local = HostPort("127.0.0.1", 9)
        return StackEndpoints(
            platform=self.name,
            run_id=self.run_id,
            ingress_url=self._ingress_url,
            app_login=AppLogin("fake-db", "admin", "admin"),
            db=DatabaseAccess(local, local, "fake-db", "odoo", "odoo"),
            redis=local,
            s3=S3Access(local, "key", "secret", "us-east-1", "attachments", "backups", ""),
            toxiproxy_api="http://127.0.0.1:9",
            traefik_api="http://127.0.0.1:9",
            traefik_metrics="http://127.0.0.1:9",
        )

    def timings(self) -> PlatformTimings:
        return PlatformTimings(10.0, 2.0, 1.0, 2, 1, 1.0)

    def status(self) -> StackStatus:
        components = tuple(
            ComponentStatus(
                name,
                self._node_of(name),
                None,
                f"fake:{name}",
                Health.FROZEN if self._node_of(name) in self.frozen else health,
            )
            for name, health in self.health.items()
        )
        members = tuple(
            DbMemberStatus(
                name, "leader" if name == self._leader else "replica", "running", self._timeline, 0
            )
            for name in sorted(self.health)
            if name.startswith("pg-") and self.health[name] is Health.UP
        )
        return StackStatus(self.name, self.run_id, components, self._leader, members)

    def nodes(self) -> Mapping[str, tuple[str, ...]]:
        return dict(self._nodes)

    def crash_node(self, node: str) -> None:
        self._check_node(node)
        if self._call("crash_node", node):
            for component in self._nodes[node]:
                self._set_health(component, Health.STOPPED, "node crashed")
            if self._leader in self._nodes[node]:
                self._leader = None

    def freeze_node(self, node: str) -> None:
        self._check_node(node)
        if self._call("freeze_node", node):
            self.frozen.add(node)

    def node_pids(self, node: str) -> tuple[int, ...]:
        """Nothing: the fake runs no processes for the kernel to show."""
        self._check_node(node)
        return ()

    def node_freezer_states(self, node: str) -> Mapping[str, str]:
        self._check_node(node)
        return {f"fake:/{node}/freezer.state": "FROZEN" if node in self.frozen else "THAWED"}

    def thaw_node(self, node: str) -> None:
        self._check_node(node)
        if self._call("thaw_node", node):
            self.frozen.discard(node)

    def throttle_storage(self, target: str, limits: IoLimits) -> None:
        if target not in self._nodes:
            self._node_of(target)
        if self._call("throttle_storage", target):
            self.throttled[target] = limits

    def unthrottle_storage(self, target: str) -> None:
        if self._call("unthrottle_storage", target):
            self.throttled.pop(target, None)

    def kill_component(self, name: str) -> None:
        if self._call("kill_component", name):
            self._set_health(name, Health.STOPPED, "killed")

    def stop_component(self, name: str) -> None:
        if self._call("stop_component", name):
            self._set_health(name, Health.STOPPED, "stopped")

    def start_component(self, name: str) -> None:
        if self._call("start_component", name):
            self._set_health(name, Health.UP, "started")

    @property
    def _timeline(self) -> int:
        return self.promotions[-1].timeline if self.promotions else 1

    def leader(self) -> str | None:
        return self._leader

    def db_promotions(self) -> tuple[Promotion, ...]:
        return tuple(self.promotions)

    def switchover(self, candidate: str | None = None) -> str:
        self._call("switchover", candidate or "")
        replicas = [
            m.name for m in self.status().db_members if m.role == "replica" and m.name != candidate
        ]
        target = candidate or (replicas[0] if replicas else None)
        if target is None or self.health.get(target) is not Health.UP:
            raise PlatformError(
                f"expected a running replica to switch over to, saw {candidate or 'none'} "
                f"(members: {sorted(m for m in self.health if m.startswith('pg-'))})"
            )
        timeline = self._timeline
        self.promotions.append(Promotion(timeline, timeline + 1, time.time_ns(), target))
        self._leader = target
        return target

    def failover(self, candidate: str) -> str:
        return self.switchover(candidate)

    def set_app_weights(self, weights: Mapping[str, int]) -> None:
        unknown = sorted(set(weights) - set(self.versions))
        if unknown:
            raise PlatformError(
                f"expected weights for the ingress's services {sorted(self.versions)}, saw "
                f"{unknown}; deploy a release before giving it traffic"
            )
        if self._call("set_app_weights", *(f"{s}={w}" for s, w in sorted(weights.items()))):
            self.weights.update(weights)
            self.weight_history.append(WeightChange(time.monotonic_ns(), dict(self.weights)))

    def deploy_release(self, release: str, instances: int = 1) -> tuple[str, ...]:
        self._call("deploy_release", release, str(instances))
        if self.green:
            raise PlatformError(
                f"a release is already deployed ({', '.join(self.green)}); retire it first"
            )
        behaviour = self._releases.get(release, FakeRelease())
        names = tuple(f"green-{i + 1}" for i in range(instances))
        app_node = self._node_of("app-1") if "app-1" in self.health else next(iter(self._nodes))
        self._nodes[app_node] = (*self._nodes[app_node], *names)
        self.green = names
        self.versions[GREEN] = release
        self.weights[GREEN] = 0
        self._ready_polls = 0
        self.migrated = behaviour.migrates
        for name in names:
            self._set_health(
                name, Health.STOPPED if behaviour.crashes_at_start else Health.UP, release
            )
        if behaviour.crashes_at_start:
            raise ComponentFailed(
                f"expected {names[0]} (release {release!r}) to stay up, it exited with "
                "status 1 at start; read its log\n--- log tail ---\nImportError: bad module"
            )
        return names

    def release_ready(self) -> bool:
        self._call("release_ready")
        if not self.green:
            return False
        behaviour = self._releases.get(self.versions[GREEN], FakeRelease())
        self._ready_polls += 1
        ready_after = behaviour.ready_after_polls
        return ready_after is not None and self._ready_polls > ready_after

    def retire_release(self) -> None:
        self._call("retire_release")
        self.weights = {BLUE: 100}
        if self.green:
            self.weight_history.append(WeightChange(time.monotonic_ns(), dict(self.weights)))
        self.versions.pop(GREEN, None)
        for name in self.green:
            node = self._node_of(name)
            self._nodes[node] = tuple(c for c in self._nodes[node] if c != name)
            del self.health[name]
        self.green = ()

    def rollback_schema(self) -> bool:
        self._call("rollback_schema")
        migrated, self.migrated = self.migrated, False
        return migrated

    def log_offsets(self) -> Mapping[str, int]:
        return {name: len(text) for name, text in self._logs.items()}

    def component_logs(self, since: Mapping[str, int]) -> Mapping[str, str]:
        return {name: text[since.get(name, 0) :] for name, text in self._logs.items()}


_: Platform = FakePlatform()
