"""``SessionScenarios``: which scenario tests become errored evidence, and under what name."""

from __future__ import annotations

from datetime import timedelta

from harness.errors import PlatformError
from harness.evidence.model import ErroredScenario, ScenarioEvidence, ScenarioOutcome
from harness.faults.base import Fault, FaultRuntime
from harness.ledger import ReadBackFailed
from harness.levels import DEFAULT_SERVICE_LEVELS, FaultFamily, load_service_levels
from harness.scenario.evidence import SessionScenarios
from harness.scenario.runner import ScenarioResult, ScenarioSpec
from tests.evidence.synthetic import START, scenario, scenario_result

LEVELS = load_service_levels(DEFAULT_SERVICE_LEVELS)
TEST = "scenarios/test_db_failover.py::test_planned_switchover"
END = START + timedelta(seconds=90)


def _no_fault(runtime: FaultRuntime) -> Fault:
    raise AssertionError("these tests never inject")


def _spec(name: str = "db-failover:switchover") -> ScenarioSpec:
    return ScenarioSpec(name, FaultFamily.DB_FAILOVER, _no_fault)


def _result(spec: ScenarioSpec, *, passed: bool) -> ScenarioResult:
    """A result as the runner delivers it, from the synthetic evidence."""
    evidence = scenario(spec.name, outage_s=(61.2, 70.0) if passed else (61.2, 95.0))
    assert evidence.passed is passed
    return scenario_result(spec, evidence)


def _raise(
    scenarios: SessionScenarios,
    error: BaseException,
    family: FaultFamily | None = None,
    trace: str = "",
) -> None:
    scenarios.raised(TEST, error, family=family, started_at=START, ended_at=END, trace=trace)


def test_a_scenario_that_raised_is_errored_under_its_own_name_and_family() -> None:
    scenarios = SessionScenarios(LEVELS)
    scenarios.started(TEST, _spec())
    error = ReadBackFailed("expected to read 40 keys back, saw: 502 Bad Gateway.")
    _raise(scenarios, error, trace="E   ReadBackFailed: ...")
    (record,) = scenarios.records
    assert record == ErroredScenario(
        scenario="db-failover:switchover",
        family="db-failover",
        controls=("DR-02",),  # the default service levels' db-failover control
        started_at=START,
        ended_at=END,
        error_type="ReadBackFailed",
        message="expected to read 40 keys back, saw: 502 Bad Gateway.",
        trace="E   ReadBackFailed: ...",
    )
    assert record.sentence == (
        "db-failover:switchover errored: ReadBackFailed: expected to read 40 keys back, "
        "saw: 502 Bad Gateway."
    )


def test_a_test_that_raised_before_any_scenario_is_named_by_its_node_and_marker() -> None:
    scenarios = SessionScenarios(LEVELS)
    _raise(scenarios, PlatformError(""), FaultFamily.NODE_LOSS)
    (record,) = scenarios.records
    assert isinstance(record, ErroredScenario)
    assert (record.scenario, record.family) == (TEST, "node-loss")
    assert record.sentence == f"{TEST} errored: PlatformError: (no message)"
    unmarked = SessionScenarios(LEVELS)
    _raise(unmarked, KeyError("zone"))
    assert [(r.family, r.controls) for r in unmarked.records] == [("unknown", ())]


def test_the_verdict_failure_of_a_delivered_result_is_not_an_error() -> None:
    scenarios = SessionScenarios(LEVELS)
    spec = _spec()
    scenarios.started(TEST, spec)
    scenarios.delivered(TEST, _result(spec, passed=False))
    _raise(scenarios, AssertionError("db-failover:switchover failed:"))
    (record,) = scenarios.records
    assert isinstance(record, ScenarioEvidence)
    assert record.outcome is ScenarioOutcome.FAILED
    assert record.controls == ("DR-02",)


def test_a_test_that_raised_after_its_scenario_passed_is_errored_too() -> None:
    scenarios = SessionScenarios(LEVELS)
    spec = _spec()
    scenarios.started(TEST, spec)
    scenarios.delivered(TEST, _result(spec, passed=True))
    _raise(scenarios, AssertionError("extra check"), FaultFamily.DB_FAILOVER)
    assert [r.outcome for r in scenarios.records] == [
        ScenarioOutcome.PASSED,
        ScenarioOutcome.ERRORED,
    ]
    assert scenarios.records[1].scenario == TEST


def test_the_second_scenario_of_a_test_that_raised_is_the_errored_one() -> None:
    scenarios = SessionScenarios(LEVELS)
    first, second = _spec("db-failover:switchover"), _spec("db-failover:switchover-back")
    scenarios.started(TEST, first)
    scenarios.delivered(TEST, _result(first, passed=True))
    scenarios.started(TEST, second)
    _raise(scenarios, PlatformError("the leader is gone"))
    assert [(r.scenario, r.outcome.value) for r in scenarios.records] == [
        ("db-failover:switchover", "passed"),
        ("db-failover:switchover-back", "errored"),
    ]
