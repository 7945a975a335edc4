"""Which nodes a scenario acts on, chosen from the platform's topology.

A node "holds shared services" when it runs a component the whole stack has once
(etcd, HAProxy, Toxiproxy, Traefik, Redis, S3): losing it is a different scenario
(the whole stack goes), so node and zone scenarios pick nodes without them. Choices
among equals are made with the scenario's seeded ``random.Random`` (``--seed``), so a
run can be replayed.
"""

from __future__ import annotations

import random

from harness.errors import HarnessError
from harness.platform.base import Platform

SHARED_SERVICES = frozenset({"etcd", "haproxy", "toxiproxy", "traefik", "redis", "s3"})


class TopologyUnfit(HarnessError):
    """The topology has no nodes a scenario can act on."""


def plain_nodes(platform: Platform) -> list[str]:
    """Nodes running app instances or DB members only, sorted by name."""
    return sorted(
        node
        for node, members in platform.nodes().items()
        if not SHARED_SERVICES.intersection(members)
    )


def _unfit(what: str, platform: Platform) -> TopologyUnfit:
    layout = "; ".join(f"{n}: {', '.join(m)}" for n, m in sorted(platform.nodes().items()))
    return TopologyUnfit(
        f"expected {what}, saw the topology {layout}; add nodes that hold only pg-N and "
        "app-N members (see fixtures/topology.yaml)"
    )


def app_node_without_leader(platform: Platform, rng: random.Random) -> str:
    """A plain node running an app instance whose DB member is not the primary."""
    leader = platform.leader()
    candidates = [
        node
        for node in plain_nodes(platform)
        if any(m.startswith("app-") for m in platform.nodes()[node])
        and leader not in platform.nodes()[node]
    ]
    if not candidates:
        raise _unfit(f"a node with an app instance and without the leader ({leader})", platform)
    return rng.choice(candidates)


def leader_node(platform: Platform) -> str:
    """The plain node holding the DB primary, after a switchover onto one if needed."""
    plain = plain_nodes(platform)
    pg_members = [m for n in plain for m in platform.nodes()[n] if m.startswith("pg-")]
    if not pg_members:
        raise _unfit("a node holding a DB member and no shared service", platform)
    if platform.leader() not in pg_members:
        platform.switchover(pg_members[0])
    leader = platform.leader()
    return next(n for n in plain if leader in platform.nodes()[n])


def zone(platform: Platform, size: int = 2) -> list[str]:
    """``size`` plain nodes (a site) whose loss leaves an app instance and a DB member."""
    plain = plain_nodes(platform)
    nodes = platform.nodes()
    for start in range(len(plain) - size + 1):
        chosen = plain[start : start + size]
        rest = [m for n, ms in nodes.items() if n not in chosen for m in ms]
        if any(m.startswith("app-") for m in rest) and any(m.startswith("pg-") for m in rest):
            return chosen
    raise _unfit(
        f"{size} nodes without shared services whose loss leaves an app instance and a DB "
        "member running",
        platform,
    )
