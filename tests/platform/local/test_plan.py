"""The plan: every port distinct and free, secrets generated, round trip through disk."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.errors import PlatformError
from harness.platform.local.plan import StackPlan, make_plan, proxy_names
from harness.platform.local.topology import DEFAULT_TOPOLOGY, parse_topology


def test_plan_ports_are_distinct_and_cover_every_component(tmp_path: Path) -> None:
    text = DEFAULT_TOPOLOGY.read_text()
    plan = make_plan("r1", tmp_path, text, str(DEFAULT_TOPOLOGY))
    topology = parse_topology(text, "t")
    components = {c for members in topology.nodes.values() for c in members}
    assert set(plan.ports) == components
    every = [p for roles in plan.ports.values() for p in roles.values()]
    every += list(plan.proxy_ports.values())
    assert len(every) == len(set(every))
    assert set(plan.proxy_ports) == set(proxy_names(topology))
    assert plan.port("pg-2", "rest") == plan.ports["pg-2"]["rest"]
    with pytest.raises(PlatformError, match="no 'nope' port for 'pg-2'"):
        plan.port("pg-2", "nope")


def test_plan_round_trips_and_its_file_is_private(tmp_path: Path) -> None:
    plan = make_plan("r2", tmp_path, DEFAULT_TOPOLOGY.read_text(), "t")
    path = plan.save()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert StackPlan.load(tmp_path) == plan
    secrets = plan.credentials.all_secrets()
    assert len(set(secrets)) == len(secrets)
    assert all(len(s) >= 16 for s in secrets)


def test_loading_a_directory_without_a_plan_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(PlatformError, match="not a run directory"):
        StackPlan.load(tmp_path)
