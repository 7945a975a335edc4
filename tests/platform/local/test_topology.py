"""The topology file: the default loads; every problem in a bad one is reported."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.platform.local.topology import DEFAULT_TOPOLOGY, load_topology, parse_topology


def test_default_topology_has_three_nodes_with_a_member_and_an_app_each() -> None:
    topology = load_topology(DEFAULT_TOPOLOGY)
    assert topology.db_members == ["pg-1", "pg-2", "pg-3"]
    assert topology.app_instances == ["app-1", "app-2", "app-3"]
    assert topology.node_of("pg-1") == "node-a"
    assert topology.node_of("etcd") == "node-c"
    timing = topology.patroni
    assert timing.loop_wait + 2 * timing.retry_timeout <= timing.ttl


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
        "unknown component 'bogus'",
        "pg-1 is already on node-a",
        "no node runs etcd",
        "at least 2 pg-N members",
        "loop_wait + 2 * retry_timeout must not exceed ttl",
        "haproxy.fall: expected a whole number, saw 'two'",
        "colour: unknown key",
    ):
        assert expected in message
    assert message.startswith("topo.yaml: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "expected a mapping"),
        ("nodes: [", "not valid YAML"),
        ("nodes: {}\n", "nodes: expected a mapping of node name"),
    ],
)
def test_malformed_documents_raise_config_errors(text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse_topology(text, "t.yaml")
