"""``odoo-resilience doctor``: real checks of this machine, and the verdict logic."""

from __future__ import annotations

from harness.doctor import Check, Level, can_run, local_checks, render, report_checks


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
