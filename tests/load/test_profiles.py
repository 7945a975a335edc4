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
    assert names == ["smoke", "nightly", "peak", "import-surge"]
    for name in ("smoke", "nightly", "peak"):
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
