"""``odoo-resilience doctor``: real checks of this machine, and the verdict logic."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness import doctor
from harness.cli import main
from harness.doctor import CHECKS, Check, Level, can_run, local_checks, render, report_checks


def test_local_checks_cover_every_component_and_pass_on_a_prepared_machine() -> None:
    checks = local_checks()
    names = {c.what for c in checks}
    for expected in (
        "etcd",
        "patroni",
        "haproxy",
        "redis-server",
        "pgbackrest",
        "traefik",
        "weed (SeaweedFS)",
        "postgresql server",
        "cgroups (node faults)",
        "tc netem",
    ):
        assert expected in names
    missing = [c for c in checks if c.level is Level.MISSING]
    assert missing == [], render(missing)
    assert can_run(checks, "local")


def test_a_missing_prerequisite_blocks_only_its_platform_and_names_the_fix() -> None:
    checks = [
        Check("local", "etcd", Level.OK, "3.4"),
        Check("docker", "docker engine", Level.MISSING, "dockerd is not running", "sudo dockerd &"),
    ]
    assert can_run(checks, "local")
    assert not can_run(checks, "docker")
    assert "fix: sudo dockerd &" in render(checks)


def test_the_evidence_tools_are_listed_and_found_once_make_tools_ran() -> None:
    checks = report_checks()
    assert [c.what for c in checks] == ["java", "allure", "xunit-viewer"]
    # make test installs them (make tools) before the tests run: all found, versions read.
    assert [c.level for c in checks] == [Level.OK] * 3, render(checks)
    assert all("?" not in c.detail.split(" (")[0] for c in checks), render(checks)
    # None of them may ever block a platform.
    assert can_run([Check("report", "allure", Level.INFO, "not found")], "local")


@pytest.mark.parametrize("platform", ["docker", "kind"])
def test_an_unimplemented_platform_cannot_run_even_with_every_prerequisite_installed(
    platform: str,
) -> None:
    checks = CHECKS[platform]()
    first = checks[0]
    assert (first.platform, first.what, first.level) == (platform, "platform", Level.MISSING)
    assert first.detail.startswith("not implemented in this version: no ")
    for path, _ in doctor.PLATFORM_PIECES[platform]:
        assert f"{path}/" in first.detail
    assert first.fix == "use --platform local, the only platform this version implements"
    prerequisites_ok = [first, *(replace(c, level=Level.OK) for c in checks[1:])]
    assert not can_run(prerequisites_ok, platform)


@pytest.mark.parametrize("platform", ["docker", "kind"])
def test_doctor_for_an_unimplemented_platform_exits_non_zero_and_says_why(
    platform: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--platform", platform]) == 3
    out, err = capsys.readouterr()
    assert f"MISSING  {platform:<7} platform: not implemented in this version: no " in out
    assert f"harness/platform/{platform}/" in out
    assert "can run here" not in out
    assert f"the {platform} platform cannot run here" in err


def test_a_platform_is_implemented_once_its_pieces_are_in_the_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "REPO_ROOT", tmp_path)
    (tmp_path / "harness/platform/kind").mkdir(parents=True)
    (tmp_path / "fixtures/k8s").mkdir(parents=True)
    (kind,) = [c for c in CHECKS["kind"]() if c.what == "platform"]
    assert kind.level is Level.MISSING
    assert kind.detail == (
        "not implemented in this version: no fixtures/kind/ (the kind cluster configuration)"
    )
    (tmp_path / "fixtures/kind").mkdir()
    (kind,) = [c for c in CHECKS["kind"]() if c.what == "platform"]
    assert (kind.level, kind.detail) == (Level.OK, "implemented in this version")
