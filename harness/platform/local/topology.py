"""The local platform's topology: nodes, the components on each, and timings.

Parsed once from ``fixtures/topology.yaml`` (or ``--topology FILE``) into frozen objects
with ``harness.yamlread``: every problem in the file is reported together, each as
``file:line:column: yaml.path: expected X, saw Y; hint``, raised as one ``TopologyError``.

Rules: each of ``SINGLETONS`` runs on exactly one node; the other components are named
``pg-N`` (at least two, so Patroni has a replica to fail over to) and ``app-N`` (at
least one), each on one node; Patroni's own rule ``loop_wait + 2 * retry_timeout <= ttl``
holds; check intervals are not below what the daemons handle sensibly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from harness.errors import ConfigError, ConfigFileError
from harness.yamlread import (
    YAML_TAG,
    ConfigFile,
    Entries,
    Entry,
    Field,
    Kind,
    Reader,
    describe,
    join_path,
    parse_document,
    read_text,
    suggest,
)

DEFAULT_TOPOLOGY = Path(__file__).resolve().parents[3] / "fixtures" / "topology.yaml"
SINGLETONS = ("etcd", "haproxy", "redis", "s3", "toxiproxy", "traefik")
_MEMBER = re.compile(r"^(pg|app)-([1-9][0-9]?)$")
_NODE_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}\Z")


class TopologyError(ConfigFileError):
    """The topology file has one or more problems; all are listed, located."""

    subject = "the topology"


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


def parse_topology(text: str, source: str) -> Topology:
    """Parse and validate a topology document; TopologyError lists every problem."""
    reader = _TopologyReader()
    return parse_document(text, source, _TOPOLOGY_FILE, reader, reader.topology)


def load_topology(path: Path | None = None) -> Topology:
    """Read the topology file (the default one when ``path`` is None)."""
    path = path or DEFAULT_TOPOLOGY
    return parse_topology(read_text(path, _TOPOLOGY_FILE), str(path))


# --- reading -------------------------------------------------------------------------

_TOPOLOGY_FILE = ConfigFile(
    noun="topology",
    top_keys="nodes",
    reference=DEFAULT_TOPOLOGY,
    depth_hint="a topology is at most three levels deep",
    error=TopologyError,
)
_VERSION = 1
_SECTIONS = ("version", "patroni", "haproxy", "traefik", "start_timeout_s")
_PATRONI = (
    Field("ttl", Kind.WHOLE_SECONDS, "10"),
    Field("loop_wait", Kind.WHOLE_SECONDS, "2"),
    Field("retry_timeout", Kind.WHOLE_SECONDS, "4"),
)
_HAPROXY = (
    Field("check_interval_ms", Kind.MILLISECONDS, "1000", minimum=100),
    Field("fall", Kind.COUNT, "2"),
    Field("rise", Kind.COUNT, "1"),
)
_TRAEFIK = (
    Field("health_interval_ms", Kind.MILLISECONDS, "1000", minimum=100),
    Field("health_timeout_ms", Kind.MILLISECONDS, "800", minimum=50),
)
_START_TIMEOUT = Field("start_timeout_s", Kind.SECONDS, "90")
_DEFAULT_START_TIMEOUT_S = 90.0


class _TopologyReader(Reader):
    def topology(self, root: MappingNode) -> Topology | None:
        entries = self.entries(root, "")
        self.check_keys(entries, "", root, ("nodes",), _SECTIONS)
        if "version" in entries:
            self.version(entries["version"], _VERSION)
        nodes = self.nodes(entries.get("nodes"))
        patroni = self.patroni(entries.get("patroni"))
        haproxy = self.timing(entries.get("haproxy"), "haproxy", _HAPROXY)
        traefik = self.timing(entries.get("traefik"), "traefik", _TRAEFIK)
        start = self.optional_numbers(entries, "", (_START_TIMEOUT,))
        if (
            nodes is None
            or patroni is None
            or haproxy is None
            or traefik is None
            or start is None
            or self.problems
        ):
            return None
        return Topology(
            nodes=nodes,
            patroni=patroni,
            haproxy=HAProxyTiming(**haproxy),
            traefik=TraefikTiming(**traefik),
            start_timeout_s=start.get(_START_TIMEOUT.key, _DEFAULT_START_TIMEOUT_S),
        )

    def nodes(self, item: Entry | None) -> dict[str, tuple[str, ...]] | None:
        node = self.mapping(item, "nodes")
        if item is None or node is None:
            return None
        if not node.value:
            self.add(
                node,
                "nodes",
                "expected a mapping of node name to a list of components, saw an empty "
                "mapping; start from a copy of " + str(DEFAULT_TOPOLOGY),
            )
            return None
        result: dict[str, tuple[str, ...]] = {}
        placed: dict[str, str] = {}
        for name, (key, value) in self.entries(node, "nodes").items():
            members = self.members(name, key, value, placed)
            if members is not None:
                result[name] = members
        self.placement(item[0], placed)
        return result

    def members(
        self, name: str, key: ScalarNode, node: Node, placed: dict[str, str]
    ) -> tuple[str, ...] | None:
        """The components of node ``name``; each is recorded in ``placed`` (its node)."""
        path = join_path("nodes", name)
        if not _NODE_NAME.match(name):
            self.add(
                key,
                path,
                f"expected a node name of lowercase letters, digits and '-' starting with a "
                f"letter (at most 31), saw {name!r}; rename it, e.g. node-a",
            )
            return None
        if not isinstance(node, SequenceNode):
            self.add(
                node,
                path,
                f"expected a list of component names, saw {describe(node)}; write [pg-1, app-1]",
            )
            return None
        members: list[str] = []
        for index, member in enumerate(node.value):
            member_path = f"{path}[{index}]"
            if not isinstance(member, ScalarNode) or str(member.tag) != YAML_TAG + "str":
                self.add(
                    member,
                    member_path,
                    f"expected a component name, saw {describe(member)}; write pg-N, app-N "
                    f"or one of {', '.join(SINGLETONS)}",
                )
                continue
            component = str(member.value)
            if component not in SINGLETONS and not _MEMBER.match(component):
                self.add(
                    member,
                    member_path,
                    f"expected pg-N, app-N or one of {', '.join(SINGLETONS)}, saw unknown "
                    f"component {component!r}; "
                    + suggest(component, SINGLETONS, "rename it, e.g. pg-4 or app-4"),
                )
            if component in placed:
                self.add(
                    member,
                    member_path,
                    f"expected each component on one node, saw {component} on {name} too: "
                    f"{component} is already on {placed[component]}; delete one of them",
                )
            else:
                placed[component] = name
            members.append(component)
        return tuple(members)

    def placement(self, nodes_key: ScalarNode, placed: dict[str, str]) -> None:
        """What the nodes run together: every singleton, enough members and instances."""
        missing = [singleton for singleton in SINGLETONS if singleton not in placed]
        if missing:
            self.add(
                nodes_key,
                "nodes",
                f"expected one node each to run {', '.join(SINGLETONS)}, saw no node run "
                f"{', '.join(missing)}; add each to the list of one node",
            )
        db_members = sum(1 for c in placed if c.startswith("pg-"))
        if db_members < 2:
            self.add(
                nodes_key,
                "nodes",
                f"expected at least 2 pg-N members (Patroni fails over to a replica), saw "
                f"{db_members}; put pg-1 and pg-2 on different nodes",
            )
        if not any(c.startswith("app-") for c in placed):
            self.add(
                nodes_key,
                "nodes",
                "expected at least one app-N instance, saw none; add app-1 to a node",
            )

    def section(
        self, item: Entry | None, path: str, fields: tuple[Field, ...]
    ) -> tuple[Entries, dict[str, int]] | None:
        """The entries of an optional timing section and its whole-number values."""
        if item is None:
            return {}, {}
        node = self.mapping(item, path)
        if node is None:
            return None
        entries = self.entries(node, path)
        self.check_keys(entries, path, item[0], (), tuple(spec.key for spec in fields))
        values = self.optional_numbers(entries, path, fields)
        if values is None:
            return None
        return entries, {key: int(value) for key, value in values.items()}

    def timing(
        self, item: Entry | None, path: str, fields: tuple[Field, ...]
    ) -> dict[str, int] | None:
        read = self.section(item, path, fields)
        return None if read is None else read[1]

    def patroni(self, item: Entry | None) -> PatroniTiming | None:
        read = self.section(item, "patroni", _PATRONI)
        if read is None:
            return None
        entries, values = read
        timing = PatroniTiming(**values)
        if item is not None and timing.loop_wait + 2 * timing.retry_timeout > timing.ttl:
            where = entries["ttl"][1] if "ttl" in entries else item[0]
            self.add(
                where,
                "patroni.ttl",
                f"expected ttl >= loop_wait + 2 * retry_timeout (Patroni's rule), saw "
                f"{timing.ttl} < {timing.loop_wait} + 2 * {timing.retry_timeout}; raise ttl "
                "or lower the others",
            )
            return None
        return timing
