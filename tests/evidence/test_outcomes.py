"""Every scenario is in the bundle with its outcome: passed, failed or errored; a control
whose latest run of a family did not pass is failing, and says which run and scenario."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

from harness.evidence.chain import verify
from harness.evidence.controls import ControlState, control_map
from harness.evidence.model import ScenarioRecord
from harness.evidence.summary import RunSummary, ScenarioSummary, load_summary
from harness.levels import Control, FaultFamily
from tests.evidence.synthetic import CONTROLS, START, errored, finished_bundle, scenario

ERROR_SENTENCE = (
    "db-failover:switchover errored: ReadBackFailed: expected to read 40 sale.order keys "
    "back through the app, saw: 502 Bad Gateway. Read back once the app serves again."
)


def _mixed() -> tuple[ScenarioRecord, ...]:
    return (
        scenario(),
        scenario("node-loss-slow", family=FaultFamily.NODE_LOSS, outage_s=(61.2, 80.0)),
        errored(),
    )


def test_a_bundle_lists_passed_failed_and_errored_scenarios_in_every_report(
    tmp_path: Path,
) -> None:
    bundle = finished_bundle(tmp_path, scenarios=_mixed())
    assert verify(bundle).ok

    html = (bundle / "report.html").read_text()
    assert '<p class="nogo">NO-GO</p><p>1 of 3 scenarios failed, 1 errored.</p>' in html
    rows = {
        name: html.split(f'<a href="#s-{name}">{name}</a>', 1)[1].split("</tr>", 1)[0]
        for name in ("db-failover-primary-crash", "node-loss-slow", "db-failover:switchover")
    }
    assert '<span class="pass">PASS</span>' in rows["db-failover-primary-crash"]
    assert '<span class="fail">FAIL</span>' in rows["node-loss-slow"]
    assert '<span class="fail">ERROR</span>' in rows["db-failover:switchover"]
    assert ERROR_SENTENCE in rows["db-failover:switchover"]
    assert 'id="s-db-failover:switchover"' in html
    assert "raise ReadBackFailed(" in html  # the traceback, under the errored scenario

    suite = ET.parse(bundle / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    error = cases["db-failover:switchover"].find("error")
    assert error is not None
    assert (error.get("type"), error.get("message")) == ("ReadBackFailed", ERROR_SENTENCE)
    assert cases["db-failover:switchover"].find("failure") is None
    assert cases["node-loss-slow"].find("error") is None

    controls = {c["control"]: c for c in json.loads((bundle / "controls.json").read_text())}
    dr01 = controls["DR-01"]
    # A passing db-failover scenario ran, but so did one that errored: not evidenced.
    assert dr01["state"] == "failing"
    assert dr01["failing"] == [
        {"run_id": "run-0001", "scenario": "db-failover:switchover", "outcome": "errored"}
    ]
    assert "db-failover:switchover errored in run run-0001" in dr01["sentence"]
    assert controls["BC-02"]["failing"][0]["outcome"] == "failed"

    summary = load_summary(bundle)
    assert [s.outcome.value for s in summary.scenarios] == ["passed", "failed", "errored"]
    (line,) = summary.scenarios[2].verdicts
    assert (line.kind, line.passed, line.sentence) == ("error", False, ERROR_SENTENCE)

    facts = json.loads((bundle / "scenarios/db-failover_switchover/facts.json").read_text())
    assert (facts["outcome"], facts["error_type"]) == ("errored", "ReadBackFailed")
    assert sorted(p.name for p in (bundle / "scenarios/db-failover_switchover").iterdir()) == [
        "facts.json"
    ]

    metrics = (bundle / "metrics.prom").read_text().splitlines()
    labels = '{run_id="run-0001",scenario="db-failover:switchover",family="db-failover"}'
    assert f"odoo_resilience_scenario_errored{labels} 1.0" in metrics
    assert f"odoo_resilience_scenario_passed{labels} 0.0" in metrics
    assert not any(m.startswith(f"odoo_resilience_rto_seconds{labels}") for m in metrics)
    assert 'odoo_resilience_control_evidenced{run_id="run-0001",control="DR-01"} 0.0' in metrics

    results = [json.loads(p.read_text()) for p in (bundle / "allure-results").glob("*-result.json")]
    broken = next(r for r in results if r["name"] == "db-failover:switchover")
    assert broken["status"] == "broken"
    assert broken["statusDetails"]["message"] == ERROR_SENTENCE
    assert "raise ReadBackFailed(" in broken["statusDetails"]["trace"]
    assert {"name": "epic", "value": "DR-01"} in broken["labels"]


def test_a_run_where_every_scenario_errored_still_leaves_a_sealed_bundle(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path, scenarios=(errored(),))
    assert verify(bundle).ok
    suite = ET.parse(bundle / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("1", "0", "1")
    assert "0 of 1 scenarios failed, 1 errored" in (bundle / "report.html").read_text()
    assert not load_summary(bundle).passed


def _run(run_id: str, days_ago: int, *scenarios: ScenarioRecord) -> RunSummary:
    ended = START - timedelta(days=days_ago)
    return RunSummary(run_id, ended, ended, tuple(ScenarioSummary.of(s) for s in scenarios))


def test_the_latest_run_of_a_family_decides_over_older_passes() -> None:
    dr01 = CONTROLS[0]
    passed = _run("r1", 10, scenario(started_at=START - timedelta(days=10)))
    broke = _run("r2", 5, errored(started_at=START - timedelta(days=5)))
    (status,) = control_map([dr01], [passed, broke], START)
    assert status.state is ControlState.FAILING
    assert [(e.run_id, e.scenario) for e in status.failing] == [("r2", "db-failover:switchover")]
    assert status.sentence.startswith(
        "DR-01 flagged: the latest run of its db-failover scenarios did not pass "
        "(db-failover:switchover errored in run r2 at "
    )
    healed = _run("r3", 1, scenario(started_at=START - timedelta(days=1)))
    (status,) = control_map([dr01], [passed, broke, healed], START)
    assert status.state is ControlState.EVIDENCED
    assert status.failing == ()
    assert "db-failover-primary-crash passed in run r3" in status.sentence
    # Runs are ordered by their start, whatever order they come in.
    (status,) = control_map([dr01], [healed, broke, passed], START)
    assert status.state is ControlState.EVIDENCED


def test_a_failure_in_another_family_of_the_control_makes_it_failing() -> None:
    both = Control(
        "DR-02", (FaultFamily.DB_FAILOVER, FaultFamily.NODE_LOSS), "Failover and node loss", 90
    )
    run = _run(
        "r1",
        1,
        scenario(started_at=START - timedelta(days=1)),
        scenario(
            "node-loss-slow",
            family=FaultFamily.NODE_LOSS,
            outage_s=(61.2, 80.0),
            started_at=START - timedelta(days=1),
        ),
    )
    (status,) = control_map([both], [run], START)
    assert status.state is ControlState.FAILING
    assert [(e.scenario, e.outcome.value) for e in status.failing] == [("node-loss-slow", "failed")]


def test_summaries_of_bundles_written_before_outcomes_still_load(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path, scenarios=_mixed()[:2])
    path = bundle / "summary.json"
    data = json.loads(path.read_text())
    for entry in data["scenarios"]:
        del entry["outcome"]
    path.write_text(json.dumps(data))
    assert [s.outcome.value for s in load_summary(bundle).scenarios] == ["passed", "failed"]
