"""Node faults: a node crashes (every process SIGKILLed), hangs (frozen), or a whole
zone (several nodes) drops out at once.

Landed checks read the kernel's view: the node's host pids come from the platform
(``Platform.node_pids``; the local platform finds them by cgroup in ``/proc``) and
each pid's state from ``/proc``: all gone after a crash (and the platform's status
shows the node's components STOPPED), all frozen (``D``) in a cgroup the kernel says
is FROZEN (``Platform.node_freezer_states``) after a hang.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from harness.errors import FaultDidNotLand, FaultError
from harness.faults.base import DEFAULT_LEASE_S, Fault, FaultRuntime, LandedEvidence
from harness.faults.measure import process_state
from harness.faults.undo import UndoOp, UndoStep
from harness.levels import FaultFamily
from harness.platform.base import Health, Platform

#: A frozen task sleeps in the freezer: /proc shows it as D (v1) or stopped (T).
FROZEN_STATES = frozenset({"D", "T"})
LANDED_WAIT_S = 5.0


def _check_nodes(platform: Platform, nodes: Sequence[str]) -> None:
    known = platform.nodes()
    unknown = [n for n in nodes if n not in known]
    if unknown or not nodes:
        raise FaultError(
            f"expected nodes among {', '.join(known)}, saw {', '.join(nodes) or 'none'}; "
            "name nodes from the topology"
        )


def _restart_steps(platform: Platform, nodes: Sequence[str]) -> tuple[UndoStep, ...]:
    # The platform's status lists components in its start order (DB before apps).
    on_nodes = {c for n in nodes for c in platform.nodes()[n]}
    return tuple(
        UndoStep(UndoOp.START_COMPONENT, {"component": c.name})
        for c in platform.status().components
        if c.name in on_nodes
    )


def frozen_evidence(fault: str, platform: Platform, nodes: Sequence[str]) -> LandedEvidence:
    """Every process of ``nodes`` frozen (``/proc`` state) in a cgroup the kernel says FROZEN.

    Read from the kernel only: asking the platform's status would wait on the frozen
    members' APIs, long enough to outlast a DB leader's lease.
    """
    deadline = time.monotonic() + LANDED_WAIT_S
    while True:
        pids = {n: platform.node_pids(n) for n in nodes}
        states = {n: [(p, process_state(p)) for p in ps] for n, ps in pids.items()}
        running = {
            n: [(p, s) for p, s in found if s is not None and s not in FROZEN_STATES]
            for n, found in states.items()
        }
        freezers = {n: platform.node_freezer_states(n) for n in nodes}
        thawed = sorted(n for n, f in freezers.items() if not f or set(f.values()) != {"FROZEN"})
        total = sum(len(ps) for ps in pids.values())
        if total and not any(running.values()) and not thawed:
            return LandedEvidence(
                fault,
                float(total),
                "processes frozen",
                f"{', '.join(nodes)}: all {total} processes frozen (state D in /proc), "
                f"cgroup freezer FROZEN",
            )
        if time.monotonic() > deadline:
            raise FaultDidNotLand(
                f"expected every process of {', '.join(nodes)} frozen within {LANDED_WAIT_S} s, "
                f"saw {total} processes, still running: "
                f"{ {n: r for n, r in running.items() if r} }, cgroups not FROZEN: "
                f"{thawed}; the freezer did not take: check the node's cgroup"
            )
        time.sleep(0.1)


def crashed_evidence(
    fault: str, platform: Platform, nodes: Sequence[str], before: int
) -> LandedEvidence:
    """No live process left on ``nodes`` and every component of them STOPPED."""
    deadline = time.monotonic() + LANDED_WAIT_S
    while True:
        alive = [
            p for n in nodes for p in platform.node_pids(n) if process_state(p) not in (None, "Z")
        ]
        health = {c.name: c.health for c in platform.status().components if c.node in nodes}
        up = sorted(name for name, h in health.items() if h is not Health.STOPPED)
        if not alive and not up:
            return LandedEvidence(
                fault,
                float(before),
                "processes killed",
                f"{', '.join(nodes)}: {before} processes killed, none left; components "
                f"{', '.join(sorted(health))} STOPPED",
            )
        if time.monotonic() > deadline:
            raise FaultDidNotLand(
                f"expected no process left on {', '.join(nodes)} after the crash, saw pids "
                f"{alive} alive and components {up} not STOPPED after {LANDED_WAIT_S} s; "
                "something restarted them or the kill missed them"
            )
        time.sleep(0.1)


class NodeHang(Fault):
    """Freeze every process of one node (a hung VM or a stalled hypervisor)."""

    family = FaultFamily.NODE_LOSS

    def __init__(self, runtime: FaultRuntime, node: str, *, lease_s: float = DEFAULT_LEASE_S):
        super().__init__(runtime, lease_s=lease_s)
        self.node = node

    @property
    def name(self) -> str:
        return f"node-hang:{self.node}"

    def prepare(self) -> None:
        _check_nodes(self.platform, [self.node])

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return (UndoStep(UndoOp.THAW_NODE, {"node": self.node}),)

    @property
    def hangs(self) -> bool:
        return True

    def act(self) -> None:
        self.platform.freeze_node(self.node)

    def measure(self) -> LandedEvidence:
        return frozen_evidence(self.name, self.platform, [self.node])


class NodeCrash(Fault):
    """SIGKILL every process of one node at once; the undo starts its components again."""

    family = FaultFamily.NODE_LOSS

    def __init__(self, runtime: FaultRuntime, node: str, *, lease_s: float = DEFAULT_LEASE_S):
        super().__init__(runtime, lease_s=lease_s)
        self.node = node
        self._before = 0

    @property
    def name(self) -> str:
        return f"node-crash:{self.node}"

    def prepare(self) -> None:
        _check_nodes(self.platform, [self.node])
        self._before = len(self.platform.node_pids(self.node))

    def undo_steps(self) -> tuple[UndoStep, ...]:
        return _restart_steps(self.platform, [self.node])

    def act(self) -> None:
        self.platform.crash_node(self.node)

    def measure(self) -> LandedEvidence:
        return crashed_evidence(self.name, self.platform, [self.node], self._before)


class ZoneOutage(Fault):
    """Several nodes (a zone) lost at once: frozen (unreachable) or, with ``crash``, killed."""

    family = FaultFamily.ZONE_OUTAGE

    def __init__(
        self,
        runtime: FaultRuntime,
        nodes: Sequence[str],
        *,
        crash: bool = False,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        super().__init__(runtime, lease_s=lease_s)
        self.nodes = tuple(nodes)
        self.crash = crash
        self._before = 0

    @property
    def name(self) -> str:
        return f"zone-outage:{'+'.join(self.nodes)}:{'crash' if self.crash else 'hang'}"

    def prepare(self) -> None:
        if len(self.nodes) < 2:
            raise FaultError(
                f"expected a zone of two or more nodes, saw {list(self.nodes)}; use NodeHang or "
                "NodeCrash for one node"
            )
        _check_nodes(self.platform, self.nodes)
        self._before = sum(len(self.platform.node_pids(n)) for n in self.nodes)

    def undo_steps(self) -> tuple[UndoStep, ...]:
        if self.crash:
            return _restart_steps(self.platform, self.nodes)
        return tuple(UndoStep(UndoOp.THAW_NODE, {"node": n}) for n in self.nodes)

    def act(self) -> None:
        for node in self.nodes:
            if self.crash:
                self.platform.crash_node(node)
            else:
                self.platform.freeze_node(node)

    @property
    def hangs(self) -> bool:
        return not self.crash

    def measure(self) -> LandedEvidence:
        if self.crash:
            return crashed_evidence(self.name, self.platform, self.nodes, self._before)
        return frozen_evidence(self.name, self.platform, self.nodes)
