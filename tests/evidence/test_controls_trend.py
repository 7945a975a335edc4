"""The control map across runs, the trend table and its regressions, the CLI entry points."""

from __future__ import annotations

import io
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from harness import tools
from harness.evidence.commands import report_command, trend_command
from harness.evidence.controls import ControlState, control_map
from harness.evidence.summary import RunSummary, ScenarioSummary
from harness.evidence.trend import trend
from harness.levels import Control, FaultFamily
from tests.evidence.synthetic import CONTROLS, START, finished_bundle, scenario


def _run(run_id: str, days_ago: int, passed: bool) -> RunSummary:
    ended = START - timedelta(days=days_ago)
    evidence = scenario(started_at=ended, outage_s=(61.2, 70.0) if passed else (61.2, 90.0))
    return RunSummary(run_id, ended, ended, (ScenarioSummary.of(evidence),))


def test_control_states_follow_the_evidence_period() -> None:
    dr01 = CONTROLS[0]  # db-failover, 90 days
    assert control_map([dr01], [_run("r1", 10, True)], START)[0].state is ControlState.EVIDENCED
    stale = control_map([dr01], [_run("r1", 120, True)], START)[0]
    assert stale.state is ControlState.STALE
    assert stale.flagged
    assert "older than the last 90 days" in stale.sentence
    failing = control_map([dr01], [_run("r2", 5, False)], START)[0]
    assert failing.state is ControlState.FAILING
    assert [e.run_id for e in failing.failing] == ["r2"]
    missing = control_map([CONTROLS[1]], [_run("r1", 1, True)], START)[0]
    assert missing.state is ControlState.MISSING
    assert "run a node-loss scenario" in missing.sentence


def test_a_control_no_scenario_can_evidence_says_so() -> None:
    restore = Control("DR-09", (FaultFamily.DISASTER_RESTORE,), "Backups restore", 90)
    (status,) = control_map([restore], [_run("r1", 1, True)], START)
    assert status.state is ControlState.MISSING
    assert status.sentence == (
        "DR-09 flagged: no run evidences it; the harness has no disaster-restore scenario "
        "yet, so nothing can evidence it"
    )


def test_the_bundle_control_map_includes_earlier_bundles(tmp_path: Path) -> None:
    finished_bundle(tmp_path, "run-0001")
    only_failover = (scenario(started_at=START.replace(hour=13)),)
    second = finished_bundle(
        tmp_path, "run-0002", started_at=START.replace(hour=13), scenarios=only_failover
    )
    controls = {c["control"]: c for c in json.loads((second / "controls.json").read_text())}
    assert [e["run_id"] for e in controls["DR-01"]["evidence"]] == ["run-0001", "run-0002"]
    assert controls["DR-01"]["state"] == "evidenced"
    # BC-02's only evidence is run-0001's failing node-loss scenario.
    assert [e["run_id"] for e in controls["BC-02"]["evidence"]] == ["run-0001"]
    assert controls["BC-02"]["state"] == "failing"
    assert controls["BC-02"]["flagged"] is True


def _series(tmp_path: Path, outage_ends: list[float]) -> None:
    for index, end in enumerate(outage_ends):
        started = START + timedelta(hours=index)
        finished_bundle(
            tmp_path,
            f"run-{index:04d}",
            started_at=started,
            scenarios=(scenario(started_at=started, outage_s=(61.2, end)),),
        )


def test_trend_flags_an_rto_regression_beyond_tolerance(tmp_path: Path) -> None:
    _series(tmp_path, [70.0, 71.0, 70.0, 85.0])
    found = trend(tmp_path, last=3)
    assert found.run_ids == ("run-0001", "run-0002", "run-0003")
    (regression,) = found.regressions
    assert regression.figure == "RTO s"
    assert regression.values == (21.8, 20.8, 35.8)
    text = found.text()
    assert "REGRESSION: up 14.50 from median 21.30 (tolerance 20%)" in text
    assert "warehouse_scan p95 ms (after)" in text
    out = io.StringIO()
    assert trend_command(tmp_path, 3, out=out) == 1
    assert "1 regression in the newest run (run-0003)" in out.getvalue()


def test_trend_within_tolerance_is_ok(tmp_path: Path) -> None:
    _series(tmp_path, [70.0, 71.0, 72.0])
    out = io.StringIO()
    assert trend_command(tmp_path, 5, out=out) == 0
    assert "0 regressions" in out.getvalue()
    assert trend_command(tmp_path, 1) == 2


def test_report_command_says_go_or_no_go_and_how_to_get_allure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = finished_bundle(tmp_path / "reports")
    out = io.StringIO()
    assert report_command(bundle, allure=False, out=out) == 0
    assert "NO-GO (node-loss-slow failed)" in out.getvalue()
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(tools, "TOOLS_BIN", empty)  # as in a checkout without `make tools`
    assert report_command(bundle, allure=True, out=io.StringIO()) == 3
    err = capsys.readouterr().err
    assert "allure missing, java missing" in err
    assert "run `make tools`" in err
    assert "npm install -g allure-commandline" in err
    assert "openjdk-17-jre-headless" in err


def test_report_command_runs_the_project_local_allure_outside_the_sealed_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = finished_bundle(tmp_path / "reports")
    local = tmp_path / "tools"
    local.mkdir()
    # Stands in for the Allure CLI in .tools/ (the real one is run on a real bundle in
    # test_real_bundle.py): records its arguments. Not on PATH: found as project-local.
    fake_allure = local / "allure"
    fake_allure.write_text(
        '#!/bin/sh\necho "$@" > "$FAKE_ALLURE_ARGS"\nmkdir -p "$4" && touch "$4/index.html"\n'
    )
    fake_allure.chmod(fake_allure.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setattr(tools, "TOOLS_BIN", local)
    monkeypatch.setenv("FAKE_ALLURE_ARGS", str(tmp_path / "args"))
    out = io.StringIO()
    assert report_command(bundle, allure=True, out=out) == 0
    target = bundle.parent / "run-0001-allure"
    assert (tmp_path / "args").read_text().split() == [
        "generate",
        str(bundle / "allure-results"),
        "-o",
        str(target),
        "--clean",
    ]
    assert f"allure report: {target / 'index.html'}" in out.getvalue()
