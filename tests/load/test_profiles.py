"""Load profiles: the shipped file parses, and a bad file reports every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.profiles import (
    DEFAULT_LOAD_PROFILES,
    LoadProfileError,
    Stage,
    UserRole,
    load_profiles,
    parse_profiles,
)


def test_the_shipped_profiles_parse_with_every_role() -> None:
    profiles = load_profiles(DEFAULT_LOAD_PROFILES)
    names = [p.name for p in profiles.profiles]
    assert names == ["steady-light", "steady-day", "smoke", "nightly", "peak", "import-surge"]
    for name in ("steady-light", "steady-day", "smoke", "nightly", "peak"):
        assert {mix.role for mix in profiles.get(name).users} == set(UserRole)
    # The batch-surge scenarios' noisy neighbour: order importers only, no pause.
    (surge,) = profiles.get("import-surge").users
    assert surge.role is UserRole.ORDER_IMPORTER
    assert surge.batches is not None
    assert surge.batches.batch_pause_s == 0
    smoke = profiles.get("smoke")
    picker = smoke.user(UserRole.PICKER)
    assert picker is not None
    assert picker.picker is not None
    assert (picker.picker.scan_weight, picker.picker.pick_weight) == (3, 1)
    importer = smoke.user(UserRole.ORDER_IMPORTER)
    assert importer is not None
    assert importer.batches is not None
    assert importer.batches.orders_per_batch == 3
    assert smoke.stages == (Stage(duration_s=10.0, users=5, spawn_rate=5),)
    peak = profiles.get("peak")
    assert peak.duration_s == 360
    assert peak.stage_at(0) == peak.stages[0]
    assert peak.stage_at(60) == peak.stages[1]
    assert peak.stage_at(359.9) == peak.stages[2]
    assert peak.stage_at(360) is None
    # Every scenario profile runs under a background load that declares its pace.
    assert profiles.background == {
        "smoke": "steady-light",
        "gate": "steady-light",
        "nightly": "steady-day",
    }
    assert profiles.background_for("smoke").target_rps == 19
    assert profiles.background_for("nightly").target_rps == 40
    assert smoke.target_rps is None
    light = profiles.get("steady-light")
    paced = light.user(UserRole.PICKER)
    assert paced is not None
    assert paced.pace_s == 1
    assert picker.pace_s is None  # smoke's picker thinks between tasks instead


def test_a_pace_stands_in_for_think_times_but_not_for_the_importer() -> None:
    text = """\
version: 1
profiles:
  p:
    users:
      receiver: {weight: 1, pace_s: 2}
      reporter: {weight: 1, pace_s: 0}
      order_importer: {weight: 1, pace_s: 1, orders_per_batch: 1, lines_per_order: 1,
                       batch_pause_s: 1}
    stages:
      - {duration_s: 60, users: 3, spawn_rate: 3}
"""
    with pytest.raises(LoadProfileError) as caught:
        parse_profiles(text, "pace.yaml")
    problems = str(caught.value)
    assert (
        "pace.yaml:6:37: profiles.p.users.reporter.pace_s: expected a number greater than 0, "
        "saw 0; give a positive value, e.g. 1"
    ) in problems
    # The importer's think time paces the orders of a batch: a pace cannot replace it.
    assert (
        "pace.yaml:7:35: profiles.p.users.order_importer.pace_s: expected one of weight, "
        "think_min_s, think_max_s, orders_per_batch, lines_per_order, batch_pause_s, saw "
        "unknown key 'pace_s'"
    ) in problems
    assert "order_importer.think_min_s: expected required key" in problems
    assert "receiver" not in problems


BACKGROUND = """\
version: 1
background:
  smoke: light
  gate: paceless
  nightly: heavy
profiles:
  light:
    target_rps: {target}
    users:
      picker: {{weight: 1, think_min_s: 1, think_max_s: 1, scan_weight: 1, pick_weight: 0}}
    stages:
      - {{duration_s: 600, users: 2, spawn_rate: 2}}
  paceless:
    users:
      reporter: {{weight: 1, think_min_s: 1, think_max_s: 1}}
    stages:
      - {{duration_s: 600, users: 1, spawn_rate: 1}}
"""


def test_a_background_profile_must_exist_and_declare_its_pace() -> None:
    with pytest.raises(LoadProfileError) as caught:
        parse_profiles(BACKGROUND.format(target="20 rps"), "bg.yaml")
    problems = str(caught.value)
    assert (
        "bg.yaml:8:17: profiles.light.target_rps: expected a number of requests per second, "
        "saw the string '20 rps'; write 20 (requests per second, no unit, no quotes)" in problems
    )
    assert (
        "bg.yaml:4:9: background.gate: expected a profile with target_rps (the pace its steady "
        "state needs), saw profile paceless without one; add target_rps: to profiles.paceless"
        in problems
    )
    assert (
        "bg.yaml:5:12: background.nightly: expected a load profile (light, paceless), saw 'heavy'"
        in problems
    )
    assert "background.smoke" not in problems  # light is declared: its own problem says it


def test_a_scenario_profile_without_background_load_says_what_to_add() -> None:
    text = BACKGROUND.format(target=12.5).replace("  gate: paceless\n  nightly: heavy\n", "")
    profiles = parse_profiles(text, "bg.yaml")
    assert profiles.background_for("smoke").target_rps == 12.5
    with pytest.raises(LoadProfileError) as caught:
        profiles.background_for("nightly")
    assert (
        "bg.yaml: background.nightly: expected the load profile run under the nightly "
        "scenarios, saw none (background names smoke); add background: {nightly: <profile>}"
    ) in str(caught.value)


def test_a_bad_file_reports_every_problem_with_its_line() -> None:
    text = """\
version: 1
profiles:
  smoke:
    request_timeout_s: 10s
    users:
      picker: {weight: 2, think_min_s: 3, think_max_s: 1, scan_weight: 1, pick_weight: 1}
      reciever: {weight: 1, think_min_s: 0, think_max_s: 1}
      reporter: {weight: 1.5, think_min_s: 0, think_max_s: 1, colour: blue}
    stages:
      - {duration_s: 0, users: 5, spawn_rate: 5}
      - {users: 5, spawn_rate: 5}
"""
    with pytest.raises(LoadProfileError) as caught:
        parse_profiles(text, "bad.yaml")
    problems = caught.value.problems
    expected = [
        ("bad.yaml:4:", "profiles.smoke.request_timeout_s", "write 10"),
        ("bad.yaml:6:", "think_min_s", "expected think_min_s <= think_max_s"),
        ("bad.yaml:7:", "profiles.smoke.users.reciever", "did you mean 'receiver'?"),
        ("bad.yaml:8:", "reporter.weight", "write 2"),
        ("bad.yaml:8:", "reporter.colour", "unknown key 'colour'"),
        ("bad.yaml:10:", "stages[0].duration_s", "greater than 0"),
        ("bad.yaml:11:", "stages[1].duration_s", "required key 'duration_s'"),
    ]
    assert len(problems) == len(expected), "\n".join(problems)
    for (where, path, words), problem in zip(expected, problems, strict=True):
        assert problem.startswith(where), problem
        assert path in problem, problem
        assert words in problem, problem


def test_empty_and_unparsable_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(LoadProfileError, match="saw an empty document"):
        parse_profiles("# nothing\n", "empty.yaml")
    with pytest.raises(LoadProfileError, match=r"tabs\.yaml:3:1: .*tab"):
        parse_profiles("version: 1\nprofiles:\n\tsmoke: {}\n", "tabs.yaml")
    missing = tmp_path / "absent.yaml"
    with pytest.raises(LoadProfileError, match="expected a readable load-profiles file"):
        load_profiles(missing)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"version: 1\nprofiles:\n  caf\xe9: {}\n")
    with pytest.raises(LoadProfileError, match=r"latin1\.yaml:3:6: \(file\): expected UTF-8 text"):
        load_profiles(latin1)


def test_asking_for_an_unknown_profile_suggests_the_nearest() -> None:
    profiles = load_profiles(DEFAULT_LOAD_PROFILES)
    with pytest.raises(LoadProfileError, match="did you mean 'nightly'"):
        profiles.get("nighty")
