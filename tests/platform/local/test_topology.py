"""The topology file: the default loads; every problem in a bad one is reported, located."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.platform.local.topology import (
    DEFAULT_TOPOLOGY,
    PatroniTiming,
    TopologyError,
    load_topology,
    parse_topology,
)


def test_default_topology_has_three_nodes_with_a_member_and_an_app_each() -> None:
    topology = load_topology(DEFAULT_TOPOLOGY)
    assert topology.db_members == ["pg-1", "pg-2", "pg-3"]
    assert topology.app_instances == ["app-1", "app-2", "app-3"]
    assert topology.node_of("pg-1") == "node-a"
    assert topology.node_of("etcd") == "node-c"
    timing = topology.patroni
    assert timing.loop_wait + 2 * timing.retry_timeout <= timing.ttl
    assert topology.haproxy.check_interval_ms == 1000
    assert topology.start_timeout_s == 90.0


def test_omitted_timings_take_their_defaults() -> None:
    text = "nodes:\n  a: [pg-1, app-1, etcd, haproxy, redis, s3, toxiproxy, traefik]\n  b: [pg-2]\n"
    topology = parse_topology(text, "t.yaml")
    assert topology.patroni == PatroniTiming()
    assert topology.start_timeout_s == 90.0
    assert topology.nodes == {
        "a": ("pg-1", "app-1", "etcd", "haproxy", "redis", "s3", "toxiproxy", "traefik"),
        "b": ("pg-2",),
    }


def test_every_problem_is_reported_together() -> None:
    text = """
nodes:
  node-a: [pg-1, app-1, bogus]
  node-b: [pg-1]
patroni: {ttl: 5, loop_wait: 2, retry_timeout: 4}
haproxy: {fall: "two"}
colour: blue
"""
    with pytest.raises(ConfigError) as info:
        parse_topology(text, "topo.yaml")
    message = str(info.value)
    for expected in (
        "nodes.node-a[2]: expected pg-N, app-N or one of etcd, haproxy, redis, s3, toxiproxy, "
        "traefik, saw unknown component 'bogus'",
        "nodes.node-b[0]: expected each component on one node, saw pg-1 on node-b too: pg-1 "
        "is already on node-a",
        "nodes: expected one node each to run etcd, haproxy, redis, s3, toxiproxy, traefik, "
        "saw no node run etcd, haproxy, redis, s3, toxiproxy, traefik",
        "nodes: expected at least 2 pg-N members",
        "patroni.ttl: expected ttl >= loop_wait + 2 * retry_timeout (Patroni's rule), saw "
        "5 < 2 + 2 * 4",
        "haproxy.fall: expected a whole number, saw the string 'two'",
        "colour: expected one of nodes, version, patroni, haproxy, traefik, start_timeout_s, "
        "saw unknown key 'colour'",
    ):
        assert expected in message
    assert message.startswith("topo.yaml: 7 problems in the topology:")
    assert isinstance(info.value, TopologyError)
    assert info.value.exit_code == 2


def test_problems_carry_the_line_and_column_of_the_value() -> None:
    text = (
        "nodes:\n"
        "  node-a: [pg-1, app-1, etcd, haproxy, redis, s3, toxiproxy, traefik]\n"
        "  node-b: [pg-2]\n"
        "haproxy:\n"
        "  check_interval_ms: 50\n"
        "traefik: {health_timeout_ms: 0.5s}\n"
        "start_timeout_s: 90s\n"
    )
    with pytest.raises(TopologyError) as info:
        parse_topology(text, "t.yaml")
    assert info.value.problems == [
        "t.yaml:5:22: haproxy.check_interval_ms: expected at least 100, saw 50; write 100 or more",
        "t.yaml:6:30: traefik.health_timeout_ms: expected a whole number of milliseconds, saw "
        "the string '0.5s'; write 500 (milliseconds, no unit, no quotes)",
        "t.yaml:7:18: start_timeout_s: expected a number of seconds, saw the string '90s'; "
        "write 90 (seconds, no unit, no quotes)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "t.yaml:1:1: (document): expected a mapping with nodes at the top"),
        ("nodes: [", "t.yaml:1:9: (document): expected valid YAML"),
        ("nodes: {}\n", "t.yaml:1:8: nodes: expected a mapping of node name"),
        ("version: 1\n", "t.yaml:1:1: nodes: expected required key 'nodes'"),
        ("nodes:\n\tnode-a: [pg-1]\n", "t.yaml:2:1: (document): expected spaces, saw a tab"),
        ("nodes: {}\nnodes: {}\n", "t.yaml:2:1: nodes: expected each key once in a mapping"),
    ],
)
def test_malformed_documents_raise_config_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse_topology(text, "t.yaml")


def test_an_unreadable_file_names_the_reference(tmp_path: Path) -> None:
    with pytest.raises(TopologyError) as info:
        load_topology(tmp_path / "absent.yaml")
    assert info.value.problems == [
        f"{tmp_path / 'absent.yaml'}:1:1: (file): expected a readable topology file, saw No "
        f"such file or directory; check the path, or start from a copy of {DEFAULT_TOPOLOGY}"
    ]
