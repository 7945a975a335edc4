"""The local platform's topology: nodes, the components on each, and timings.

Parsed once from ``fixtures/topology.yaml`` (or ``--topology FILE``) into frozen
objects; every problem in the file is reported together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from harness.errors import ConfigError

DEFAULT_TOPOLOGY = Path(__file__).resolve().parents[3] / "fixtures" / "topology.yaml"
SINGLETONS = ("etcd", "haproxy", "redis", "s3", "toxiproxy", "traefik")
_MEMBER = re.compile(r"^(pg|app)-([1-9][0-9]?)$")


@dataclass(frozen=True)
class PatroniTiming:
    ttl: int = 10
    loop_wait: int = 2
    retry_timeout: int = 4


@dataclass(frozen=True)
class HAProxyTiming:
    check_interval_ms: int = 1000
    fall: int = 2
    rise: int = 1


@dataclass(frozen=True)
class TraefikTiming:
    health_interval_ms: int = 1000
    health_timeout_ms: int = 800


@dataclass(frozen=True)
class Topology:
    """Which node runs which component, plus the timings that bound recovery."""

    nodes: dict[str, tuple[str, ...]]
    patroni: PatroniTiming
    haproxy: HAProxyTiming
    traefik: TraefikTiming
    start_timeout_s: float

    def node_of(self, component: str) -> str:
        for node, members in self.nodes.items():
            if component in members:
                return node
        raise ConfigError(f"no node runs {component!r}; nodes: {self.nodes}")

    @property
    def db_members(self) -> list[str]:
        return sorted(
            (c for m in self.nodes.values() for c in m if c.startswith("pg-")),
            key=lambda c: int(c.split("-")[1]),
        )

    @property
    def app_instances(self) -> list[str]:
        return sorted(
            (c for m in self.nodes.values() for c in m if c.startswith("app-")),
            key=lambda c: int(c.split("-")[1]),
        )


def _int_field(
    section: dict[str, object],
    key: str,
    default: int,
    *,
    where: str,
    problems: list[str],
    minimum: int = 1,
) -> int:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where}.{key}: expected a whole number, saw {value!r}")
        return default
    if value < minimum:
        problems.append(f"{where}.{key}: expected at least {minimum}, saw {value}")
        return default
    return value


def _section(
    doc: dict[str, object], key: str, known: set[str], problems: list[str]
) -> dict[str, object]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        problems.append(f"{key}: expected a mapping, saw {type(value).__name__}")
        return {}
    for unknown in sorted(set(value) - known):
        problems.append(f"{key}.{unknown}: unknown key; known keys: {', '.join(sorted(known))}")
    return value


def parse_topology(text: str, source: str) -> Topology:
    """Parse and validate a topology document; ConfigError lists every problem."""
    problems: list[str] = []
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{source}: expected a mapping with `nodes:` at the top, saw {type(doc).__name__}"
        )
    known = {"version", "nodes", "patroni", "haproxy", "traefik", "start_timeout_s"}
    for unknown in sorted(set(doc) - known):
        problems.append(f"{unknown}: unknown key; known keys: {', '.join(sorted(known))}")
    if doc.get("version", 1) != 1:
        problems.append(f"version: expected 1, saw {doc.get('version')!r}")

    nodes: dict[str, tuple[str, ...]] = {}
    raw_nodes = doc.get("nodes")
    if not isinstance(raw_nodes, dict) or not raw_nodes:
        problems.append("nodes: expected a mapping of node name to a list of components")
        raw_nodes = {}
    seen: dict[str, str] = {}
    for node, members in raw_nodes.items():
        if not isinstance(node, str) or not re.fullmatch(r"[a-z][a-z0-9-]{0,30}", node):
            problems.append(f"nodes.{node}: node names are lowercase letters, digits and '-'")
            continue
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            problems.append(f"nodes.{node}: expected a list of component names, saw {members!r}")
            continue
        for member in members:
            if member not in SINGLETONS and not _MEMBER.match(member):
                problems.append(
                    f"nodes.{node}: unknown component {member!r}; expected pg-N, app-N or one of "
                    f"{', '.join(SINGLETONS)}"
                )
            if member in seen:
                problems.append(f"nodes.{node}: {member} is already on {seen[member]}")
            seen[member] = node
        nodes[node] = tuple(members)
    for singleton in SINGLETONS:
        if raw_nodes and singleton not in seen:
            problems.append(f"nodes: no node runs {singleton}; put it on one node")
    if raw_nodes and sum(1 for m in seen if m.startswith("pg-")) < 2:
        problems.append("nodes: at least 2 pg-N members are needed for failover")
    if raw_nodes and not any(m.startswith("app-") for m in seen):
        problems.append("nodes: at least one app-N instance is needed")

    p = _section(doc, "patroni", {"ttl", "loop_wait", "retry_timeout"}, problems)
    patroni = PatroniTiming(
        ttl=_int_field(p, "ttl", 10, where="patroni", problems=problems),
        loop_wait=_int_field(p, "loop_wait", 2, where="patroni", problems=problems),
        retry_timeout=_int_field(p, "retry_timeout", 4, where="patroni", problems=problems),
    )
    if patroni.loop_wait + 2 * patroni.retry_timeout > patroni.ttl:
        problems.append(
            f"patroni: loop_wait + 2 * retry_timeout must not exceed ttl (Patroni's rule), saw "
            f"{patroni.loop_wait} + 2 * {patroni.retry_timeout} > {patroni.ttl}; raise ttl or "
            "lower the others"
        )
    h = _section(doc, "haproxy", {"check_interval_ms", "fall", "rise"}, problems)
    haproxy = HAProxyTiming(
        check_interval_ms=_int_field(
            h, "check_interval_ms", 1000, where="haproxy", problems=problems, minimum=100
        ),
        fall=_int_field(h, "fall", 2, where="haproxy", problems=problems),
        rise=_int_field(h, "rise", 1, where="haproxy", problems=problems),
    )
    t = _section(doc, "traefik", {"health_interval_ms", "health_timeout_ms"}, problems)
    traefik = TraefikTiming(
        health_interval_ms=_int_field(
            t, "health_interval_ms", 1000, where="traefik", problems=problems, minimum=100
        ),
        health_timeout_ms=_int_field(
            t, "health_timeout_ms", 800, where="traefik", problems=problems, minimum=50
        ),
    )
    start_timeout = doc.get("start_timeout_s", 90)
    if (
        isinstance(start_timeout, bool)
        or not isinstance(start_timeout, int | float)
        or start_timeout <= 0
    ):
        problems.append(
            f"start_timeout_s: expected a positive number of seconds, saw {start_timeout!r}"
        )
        start_timeout = 90
    if problems:
        body = "\n".join(f"  {source}: {p}" for p in problems)
        raise ConfigError(f"{source}: {len(problems)} problem(s) in the topology:\n{body}")
    return Topology(nodes, patroni, haproxy, traefik, float(start_timeout))


def load_topology(path: Path | None = None) -> Topology:
    """Read the topology file (the default one when ``path`` is None)."""
    path = path or DEFAULT_TOPOLOGY
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"cannot read topology {path}: {exc.strerror}; pass an existing file to --topology"
        ) from exc
    return parse_topology(text, str(path))
