"""The service-levels loader: the default file, every problem kind at its exact place, and
property tests that no input escapes as anything but ServiceLevelsError."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError, ServiceLevelsError
from harness.levels import (
    DEFAULT_SERVICE_LEVELS,
    AbortConditions,
    BusinessFlow,
    FaultFamily,
    FlowTargets,
    GlobalSettings,
    ServiceLevels,
    format_report,
    load_service_levels,
    parse_service_levels,
    summary_line,
)

DATA = Path(__file__).parent / "data" / "levels"
SOURCE = "levels.yaml"
DEFAULT_TEXT = DEFAULT_SERVICE_LEVELS.read_text(encoding="utf-8")
PROBLEM = re.compile(
    r"(?P<file>[^\n]+?):(?P<line>\d+):(?P<column>\d+): (?P<path>[^\n]+?): (?P<rest>expected [^\n]+)"
)

MINIMAL = """\
version: 1
flows:
  warehouse_scan:
    critical: true
    availability_pct: 99.5
    p95_ms: 300
    p99_ms: 800
    durable_writes: true
    probe_timeout_ms: 2000
recovery:
  node-loss: {rto_s: 60, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 2000}
  zone-outage: {rto_s: 90, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 3000}
  storage-latency: {rto_s: 60, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 3000}
  db-failover: {rto_s: 30, rpo_s: 5, rpo_writes_lost: 20, degraded_p95_ms: 3000}
  bad-release: {rto_s: 120, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 1500}
  network: {rto_s: 30, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 2500}
  cache-loss: {rto_s: 30, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 1500}
  object-storage: {rto_s: 60, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 2000}
  batch-surge: {rto_s: 120, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 4000}
  disaster-restore: {rto_s: 900, rpo_s: 300, rpo_writes_lost: 5000, degraded_p95_ms: 5000}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ServiceLevelsError) as caught:
        parse_service_levels(text, SOURCE)
    assert caught.value.path == SOURCE
    return caught.value.problems


def edited(old: str, new: str, text: str = DEFAULT_TEXT) -> str:
    """``text`` with the first ``old`` replaced; the test fails if ``old`` is not there."""
    assert old in text, f"the reference text no longer contains {old!r}"
    return text.replace(old, new, 1)


def at(text: str, needle: str, offset: int = 0) -> str:
    """``file:line:column`` of ``needle`` (plus ``offset`` characters) in ``text``."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{SOURCE}:{line}:{column}"


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


# --- the default file ---------------------------------------------------------------


def test_default_file_loads_with_typed_values() -> None:
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)

    assert levels.version == 1
    assert levels.settings == GlobalSettings(
        steady_state_window_s=10.0,
        stability_period_s=30.0,
        probe_interval_ms=200,
        abort=AbortConditions(
            critical_flow_down_beyond_rto_s=60.0,
            error_budget_window_days=30,
            max_error_budget_burn_pct=5.0,
        ),
    )
    assert [flow.flow for flow in levels.flows] == list(BusinessFlow)
    scan = levels.flow(BusinessFlow.WAREHOUSE_SCAN)
    assert scan.critical is True
    assert scan.durable_writes is True
    assert scan.probe_timeout_ms == 2000
    assert scan.targets == FlowTargets(availability_pct=99.5, p95_ms=300, p99_ms=800)
    assert scan.targets.error_budget_ratio == pytest.approx(0.005)
    assert isinstance(scan.targets.p95_ms, int)
    assert isinstance(scan.targets.availability_pct, float)
    assert [flow.flow for flow in levels.critical_flows()] == [
        BusinessFlow.WAREHOUSE_SCAN,
        BusinessFlow.PICKING_VALIDATE,
        BusinessFlow.RECEIVING,
    ]
    assert [targets.family for targets in levels.recovery] == list(FaultFamily)
    failover = levels.recovery_for(FaultFamily.DB_FAILOVER)
    assert (failover.rto_s, failover.rpo_s, failover.rpo_writes_lost) == (30.0, 5.0, 20)
    assert isinstance(failover.rto_s, float)
    assert isinstance(failover.degraded_p95_ms, int)
    assert [control.control_id for control in levels.controls_for(FaultFamily.DB_FAILOVER)] == [
        "DR-02"
    ]
    restore = levels.controls[0]
    assert restore.control_id == "DR-01"
    assert restore.families == (FaultFamily.DISASTER_RESTORE,)
    assert restore.evidence_period_days == 90
    assert restore.description == "Backups restore to a working ERP within the recovery targets"


def test_every_family_is_evidenced_by_some_control_in_the_default_file() -> None:
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    assert {family for control in levels.controls for family in control.families} == set(
        FaultFamily
    )


def test_summary_line() -> None:
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    assert summary_line(levels, "fixtures/service-levels.yaml") == (
        "fixtures/service-levels.yaml: OK, 5 flows (3 critical), 10 fault families, 6 controls\n"
        "  note: disaster-restore has targets but no scenario yet: nothing measures them, so "
        "control DR-01 cannot be evidenced"
    )


def test_families_with_a_scenario_are_the_ones_scenarios_exercise() -> None:
    scenarios = Path(__file__).resolve().parents[1] / "scenarios"
    modules = {path.stem.removeprefix("test_") for path in scenarios.glob("test_*.py")}
    exercised = {f for f in FaultFamily if f.value.replace("-", "_") in modules}
    assert exercised == {f for f in FaultFamily if f.has_scenario}


def test_stall_threshold_defaults_to_half_the_p99_and_must_stay_below_the_timeout() -> None:
    levels = load_service_levels(DEFAULT_SERVICE_LEVELS)
    assert levels.flow(BusinessFlow.PICKING_VALIDATE).stall_threshold_ms == 1000
    text = DEFAULT_SERVICE_LEVELS.read_text().replace(
        "    probe_timeout_ms: 2000\n",
        "    probe_timeout_ms: 2000\n    stall_threshold_ms: 2500\n",
        1,
    )
    with pytest.raises(ServiceLevelsError) as caught:
        parse_service_levels(text, "levels.yaml")
    (problem,) = caught.value.problems
    assert "flows.warehouse_scan.stall_threshold_ms: expected a stall threshold below " in problem
    assert "probe_timeout_ms (2000), saw 2500" in problem


def test_default_constant_points_at_the_fixture_in_the_repository() -> None:
    repository = Path(__file__).resolve().parents[1]
    assert repository / "fixtures" / "service-levels.yaml" == DEFAULT_SERVICE_LEVELS


def test_optional_sections_take_their_defaults() -> None:
    levels = parse_service_levels(MINIMAL, SOURCE)
    assert levels.settings == GlobalSettings()
    assert levels.controls == ()
    assert len(levels.flows) == 1
    with pytest.raises(LookupError, match="no flow 'reporting'"):
        levels.flow(BusinessFlow.REPORTING)


def test_non_critical_flow_may_omit_all_targets() -> None:
    text = edited(
        "  reporting:\n    critical: false\n    availability_pct: 95.0\n"
        "    p95_ms: 5000\n    p99_ms: 15000\n",
        "  reporting:\n    critical: false\n",
    )
    levels = parse_service_levels(text, SOURCE)
    assert levels.flow(BusinessFlow.REPORTING).targets is None


def test_yaml_aliases_and_yes_no_booleans_are_read() -> None:
    text = edited("    critical: true\n", "    critical: yes\n")
    text = edited("    p95_ms: 300\n", "    p95_ms: &fast 300\n", text)
    text = edited("    degraded_p95_ms: 2000\n", "    degraded_p95_ms: *fast\n", text)
    levels = parse_service_levels(text, SOURCE)
    assert levels.flow(BusinessFlow.WAREHOUSE_SCAN).critical is True
    assert levels.recovery_for(FaultFamily.NODE_LOSS).degraded_p95_ms == 300


# --- each problem kind at its exact place ----------------------------------------------


def test_unknown_key_suggests_the_closest_known_key() -> None:
    text = edited("    p99_ms: 800\n", "    p99ms: 800\n")
    missing, unknown = problems_of(text)
    assert unknown.startswith(
        f"{at(text, 'p99ms')}: flows.warehouse_scan.p99ms: expected one of critical, "
    )
    assert unknown.endswith("saw unknown key 'p99ms'; did you mean 'p99_ms'?")
    # The misspelt key also leaves the critical flow without p99_ms, reported at its key.
    assert missing == (
        f"{at(text, 'warehouse_scan:')}: flows.warehouse_scan.p99_ms: expected a whole number "
        "of milliseconds, saw none; a critical flow gates the steady state: add p99_ms: 800"
    )


def test_unknown_flow_and_family_names_suggest_the_closest() -> None:
    text = edited("  reporting:\n", "  reportng:\n")
    text = edited("  cache-loss:\n", "  cache-los:\n", text)
    problems = problems_of(text)
    assert problems[0].startswith(f"{at(text, 'reportng')}: flows.reportng: expected a business")
    assert problems[0].endswith("saw 'reportng'; did you mean 'reporting'?")
    assert problems[2].startswith(f"{at(text, 'cache-los:')}: recovery.cache-los: expected a")
    assert problems[2].endswith("did you mean 'cache-loss'?")
    assert problems[1] == (
        f"{at(text, 'recovery:')}: recovery.cache-loss: expected recovery targets for "
        "'cache-loss', saw none; every fault family is declared, so that its scenarios have "
        "targets: add "
        "cache-loss: {rto_s: 60, rpo_s: 0, rpo_writes_lost: 0, degraded_p95_ms: 2000}"
    )
    assert len(problems) == 3


@pytest.mark.parametrize(
    ("old", "new", "path", "saw", "hint"),
    [
        (
            "    critical: true\n",
            '    critical: "true"\n',
            "flows.warehouse_scan.critical",
            "expected true or false, saw the string 'true'",
            "write true without quotes",
        ),
        (
            "    durable_writes: true\n",
            "    durable_writes: 1\n",
            "flows.warehouse_scan.durable_writes",
            "expected true or false, saw the number 1",
            "write true or false",
        ),
        (
            "    p95_ms: 300\n",
            "    p95_ms: [300]\n",
            "flows.warehouse_scan.p95_ms",
            "expected a whole number of milliseconds, saw a list",
            "write it as a plain number, e.g. p95_ms: 300",
        ),
        (
            "    p95_ms: 300\n",
            "    p95_ms: true\n",
            "flows.warehouse_scan.p95_ms",
            "expected a whole number of milliseconds, saw the boolean true",
            "write it as a plain number, e.g. p95_ms: 300",
        ),
        (
            "    p95_ms: 300\n",
            "    p95_ms: 300.5\n",
            "flows.warehouse_scan.p95_ms",
            "expected a whole number of milliseconds, saw 300.5",
            "write 300",
        ),
        (
            "    p95_ms: 300\n",
            "    p95_ms: .inf\n",
            "flows.warehouse_scan.p95_ms",
            "expected a whole number of milliseconds, saw the number .inf",
            "write a finite number",
        ),
        (
            "    availability_pct: 99.5\n",
            '    availability_pct: "99.9%"\n',
            "flows.warehouse_scan.availability_pct",
            "expected a percentage as a plain number, saw the string '99.9%'",
            "write 99.9 (no % sign, no quotes)",
        ),
        (
            "    availability_pct: 99.5\n",
            "    availability_pct: 99.9%\n",
            "flows.warehouse_scan.availability_pct",
            "expected a percentage as a plain number, saw the string '99.9%'",
            "write 99.9 (no % sign, no quotes)",
        ),
        (
            "    rto_s: 30\n",
            "    rto_s: 30s\n",
            "recovery.db-failover.rto_s",
            "expected a number of seconds, saw the string '30s'",
            "write 30 (seconds, no unit, no quotes)",
        ),
        (
            "    rto_s: 30\n",
            '    rto_s: "30"\n',
            "recovery.db-failover.rto_s",
            "expected a number of seconds, saw the string '30'",
            "write 30 (seconds, no unit, no quotes)",
        ),
        (
            "    rto_s: 900\n",
            "    rto_s: 15 min\n",
            "recovery.disaster-restore.rto_s",
            "expected a number of seconds, saw the string '15 min'",
            "write 900 (seconds, no unit, no quotes)",
        ),
        (
            "  probe_interval_ms: 200\n",
            "  probe_interval_ms: 0.2s\n",
            "global.probe_interval_ms",
            "expected a whole number of milliseconds, saw the string '0.2s'",
            "write 200 (milliseconds, no unit, no quotes)",
        ),
        (
            "    rpo_writes_lost: 20\n",
            "    rpo_writes_lost: lots\n",
            "recovery.db-failover.rpo_writes_lost",
            "expected a whole number, saw the string 'lots'",
            "write it as a plain number, e.g. rpo_writes_lost: 0",
        ),
        (
            "    evidence_period_days: 30\n",
            "    evidence_period_days: 2024-01-01\n",
            "controls.CM-01.evidence_period_days",
            "expected a whole number of days, saw the date 2024-01-01",
            "write it as a plain number, e.g. evidence_period_days: 90",
        ),
    ],
)
def test_wrong_types_say_how_to_write_the_value(
    old: str, new: str, path: str, saw: str, hint: str
) -> None:
    text = edited(old, new)
    value_column = len(new) - len(new.lstrip()) + new.strip().index(":") + 3
    assert only(problems_of(text)) == f"{at(text, new, value_column - 1)}: {path}: {saw}; {hint}"


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "    availability_pct: 99.5\n",
            "    availability_pct: 120\n",
            "flows.warehouse_scan.availability_pct",
            "expected a percentage above 0 and at most 100, saw 120; percentages are written "
            "as 99.5, not 0.995",
        ),
        (
            "    availability_pct: 99.5\n",
            "    availability_pct: -1\n",
            "flows.warehouse_scan.availability_pct",
            "expected a percentage above 0 and at most 100, saw -1; percentages are written "
            "as 99.5, not 0.995",
        ),
        (
            "    availability_pct: 99.5\n",
            "    availability_pct: 100\n",
            "flows.warehouse_scan.availability_pct",
            "expected a percentage below 100, saw 100; 100 leaves no error budget (one failed "
            "probe would fail the steady state): use 99.99 at most",
        ),
        (
            "  max_error_budget_burn_pct: 5\n",
            "  max_error_budget_burn_pct: 500\n",
            "global.abort.max_error_budget_burn_pct",
            "expected a percentage above 0 and at most 100, saw 500; percentages are written "
            "as 99.5, not 0.995",
        ),
        (
            "    rto_s: 30\n",
            "    rto_s: 0\n",
            "recovery.db-failover.rto_s",
            "expected a number greater than 0, saw 0; an RTO of 0 or less can never be met: "
            "give the seconds recovery may take",
        ),
        (
            "    rto_s: 30\n",
            "    rto_s: -5\n",
            "recovery.db-failover.rto_s",
            "expected a number greater than 0, saw -5; an RTO of 0 or less can never be met: "
            "give the seconds recovery may take",
        ),
        (
            "    rpo_s: 5\n",
            "    rpo_s: -1.5\n",
            "recovery.db-failover.rpo_s",
            "expected 0 or more, saw -1.5; an RPO cannot be negative: write 0 to allow no "
            "data loss",
        ),
        (
            "    rpo_writes_lost: 20\n",
            "    rpo_writes_lost: -1\n",
            "recovery.db-failover.rpo_writes_lost",
            "expected 0 or more, saw -1; write 0 to allow none",
        ),
        (
            "    probe_timeout_ms: 2000\n",
            "    probe_timeout_ms: 0\n",
            "flows.warehouse_scan.probe_timeout_ms",
            "expected a number greater than 0, saw 0; give a positive value, e.g. 2000",
        ),
        (
            "    p95_ms: 300\n",
            "    p95_ms: 900\n",
            "flows.warehouse_scan.p95_ms",
            "expected p95_ms <= p99_ms (800), saw 900; the 95th percentile cannot be slower "
            "than the 99th: swap or correct them",
        ),
        (
            "    probe_timeout_ms: 2000\n",
            "    probe_timeout_ms: 800\n",
            "flows.warehouse_scan.probe_timeout_ms",
            "expected a probe timeout above p99_ms (800), saw 800; a probe that gives up "
            "before the p99 target counts on-target answers as timeouts: raise it",
        ),
        (
            "version: 1 ",
            "version: 2 ",
            "version",
            "expected version 1, saw 2; this harness reads version 1 files: convert the file "
            "or upgrade the harness",
        ),
        (
            "version: 1 ",
            'version: "1" ',
            "version",
            "expected a whole number, saw the string '1'; write 1 (no quotes)",
        ),
    ],
)
def test_out_of_range_values_are_reported_at_the_value(
    old: str, new: str, path: str, message: str
) -> None:
    text = edited(old, new)
    value_column = len(new) - len(new.lstrip()) + new.strip().index(":") + 2
    assert only(problems_of(text)) == f"{at(text, new, value_column)}: {path}: {message}"


def test_probe_interval_must_fit_ten_probes_in_the_window() -> None:
    text = edited("  probe_interval_ms: 200\n", "  probe_interval_ms: 2000\n")
    assert only(problems_of(text)) == (
        f"{at(text, 'steady_state_window_s')}: global.probe_interval_ms: expected at least 10 "
        "probes per steady-state window (10 s), saw one every 2000 ms; shorten "
        "probe_interval_ms or lengthen steady_state_window_s"
    )


def test_critical_flow_without_targets_is_reported_at_the_flow() -> None:
    text = edited("    availability_pct: 99.5\n    p95_ms: 800\n    p99_ms: 2000\n", "")
    assert problems_of(text) == [
        f"{at(text, 'picking_validate:')}: flows.picking_validate.{key}: expected {kind}, saw "
        f"none; a critical flow gates the steady state: add {key}: {example}"
        for key, kind, example in [
            ("availability_pct", "a percentage as a plain number", "99.5"),
            ("p95_ms", "a whole number of milliseconds", "300"),
            ("p99_ms", "a whole number of milliseconds", "800"),
        ]
    ]


def test_non_critical_flow_gives_all_three_targets_or_none() -> None:
    text = edited("    p99_ms: 15000\n", "")
    assert only(problems_of(text)) == (
        f"{at(text, 'reporting:')}: flows.reporting.p99_ms: expected a whole number of "
        "milliseconds, saw none; a flow carries all three targets or none: add p99_ms: 800"
    )


def test_at_least_one_critical_flow() -> None:
    text = MINIMAL.replace("critical: true", "critical: false")
    assert only(problems_of(text)) == (
        f"{at(text, 'flows')}: flows: expected at least one critical flow, saw none; mark the "
        "flows the warehouses cannot work without as critical: true (the steady state, and "
        "so every RTO, is measured on them)"
    )


def test_control_naming_an_unknown_family() -> None:
    text = edited("[cache-loss, object-storage]", "[cache-loss, object-store]")
    assert only(problems_of(text)) == (
        f"{at(text, 'object-store]')}: controls.OP-02.families[1]: expected a fault family, "
        "saw the string 'object-store'; did you mean 'object-storage'?"
    )


def test_control_id_families_and_description_shapes() -> None:
    text = edited(
        "  DR-02:\n    families: [db-failover, node-loss]\n", "  dr2:\n    families: []\n"
    )
    text = edited("    families: [zone-outage]\n", "    families: zone-outage\n", text)
    text = edited("[bad-release]", "[bad-release, bad-release]", text)
    text = edited(
        "    description: Backups restore to a working ERP within the recovery targets\n",
        "    description:\n",
        text,
    )
    empty_description = at(text, "description:\n", len("description:"))
    assert problems_of(text) == [
        f"{empty_description}: controls.DR-01.description: expected one line of "
        "text, saw an empty value; write a short sentence",
        f"{at(text, 'dr2')}: controls.dr2: expected a control id like DR-01 (capitals, a dash, "
        "digits), saw 'dr2'; rename it to match your control catalogue",
        f"{at(text, 'families: []', 10)}: controls.dr2.families: expected at least one fault "
        "family, saw an empty list; name the families whose scenarios evidence this control",
        f"{at(text, 'families: zone-outage', 10)}: controls.BC-01.families: expected a list of "
        "fault "
        "families, saw the string 'zone-outage'; write [zone-outage]",
        f"{at(text, 'bad-release]')}: controls.CM-01.families[1]: expected each family once, "
        "saw 'bad-release' again; delete the repeat",
    ]


def test_missing_required_sections_are_reported_at_the_top() -> None:
    text = "# levels\nversion: 1\nglobal: {}\n"
    assert problems_of(text) == [
        f"{SOURCE}:2:1: flows: expected required key 'flows', saw none; add it here",
        f"{SOURCE}:2:1: recovery: expected required key 'recovery', saw none; add it here",
    ]


def test_missing_keys_inside_a_family_are_reported_at_its_key() -> None:
    text = edited("    rpo_writes_lost: 20\n", "")
    assert only(problems_of(text)) == (
        f"{at(text, 'db-failover:')}: recovery.db-failover.rpo_writes_lost: expected required "
        "key 'rpo_writes_lost', saw none; add it here"
    )


def test_duplicate_keys_are_reported_at_the_repeat() -> None:
    text = edited("    p99_ms: 800\n", "    p99_ms: 800\n    p99_ms: 900\n")
    text = edited("version: 1 ", "version: 1\nversion: 1 ", text)
    first = text.index("p99_ms: 800")
    version_line = text.count("\n", 0, text.index("version: 1\n")) + 1
    assert problems_of(text) == [
        f"{SOURCE}:{version_line + 1}:1: version: expected each key once in a mapping, saw "
        f"'version' again (first on line {version_line}); delete one: YAML readers keep only "
        "the last silently",
        f"{at(text, 'p99_ms: 900')}: flows.warehouse_scan.p99_ms: expected each key once in a "
        f"mapping, saw 'p99_ms' again (first on line {text.count(chr(10), 0, first) + 1}); "
        "delete one: YAML readers keep only the last silently",
    ]


def test_every_tab_in_indentation_is_reported_by_line() -> None:
    source = DATA / "tabs.yaml"
    with pytest.raises(ServiceLevelsError) as caught:
        load_service_levels(source)
    message = (
        "(document): expected spaces, saw a tab character; YAML forbids tabs in indentation "
        "and around tokens: replace it with spaces"
    )
    assert caught.value.problems == [f"{source}:4:1: {message}", f"{source}:5:3: {message}"]


def test_tab_after_a_value_is_reported() -> None:
    text = edited("    p95_ms: 300\n", "    p95_ms: 300\t\n")
    assert only(problems_of(text)).startswith(f"{at(text, chr(9))}: (document): expected spaces")


def test_syntax_error_is_reported_with_its_location() -> None:
    source = DATA / "syntax-error.yaml"
    with pytest.raises(ServiceLevelsError) as caught:
        load_service_levels(source)
    assert caught.value.problems == [
        f"{source}:4:1: (document): expected valid YAML, saw a syntax error (expected ',' or "
        "'}', but got '<scalar>' while parsing a flow mapping); fix the YAML syntax at this "
        "position"
    ]


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here\n", "---\n", "--- # levels\n"])
def test_empty_file(text: str) -> None:
    assert only(problems_of(text)) == (
        f"{SOURCE}:1:1: (document): expected a mapping with version, flows and recovery, saw an "
        "empty document; start from a copy of "
        f"{DEFAULT_SERVICE_LEVELS}"
    )


@pytest.mark.parametrize(
    ("text", "location", "saw"),
    [("- version: 1\n", "1:1", "a list"), ("\n  just words\n", "2:3", "the string 'just words'")],
)
def test_top_level_must_be_a_mapping(text: str, location: str, saw: str) -> None:
    assert only(problems_of(text)) == (
        f"{SOURCE}:{location}: (document): expected a mapping with version, flows and recovery "
        f"at the top, saw {saw}; start from a copy of {DEFAULT_SERVICE_LEVELS}"
    )


def test_several_problems_in_one_file_are_all_reported_in_file_order() -> None:
    source = DATA / "several-problems.yaml"
    with pytest.raises(ServiceLevelsError) as caught:
        load_service_levels(source)
    located = [
        (match["line"], match["column"], match["path"])
        for match in (PROBLEM.fullmatch(problem) for problem in caught.value.problems)
        if match
    ]
    assert located == [
        ("4", "26", "global.steady_state_window_s"),
        ("5", "3", "global.probe_intervall_ms"),
        ("9", "23", "flows.warehouse_scan.availability_pct"),
        ("10", "13", "flows.warehouse_scan.p95_ms"),
        ("12", "21", "flows.warehouse_scan.durable_writes"),
        ("14", "3", "flows.picking_validate.availability_pct"),
        ("14", "3", "flows.picking_validate.p95_ms"),
        ("14", "3", "flows.picking_validate.p99_ms"),
        ("18", "1", "recovery.disaster-restore"),
        ("19", "22", "recovery.node-loss.rto_s"),
        ("19", "32", "recovery.node-loss.rpo_s"),
        ("23", "3", "recovery.db-failover"),
        ("31", "34", "controls.DR-01.families[1]"),
    ]
    report = format_report(caught.value)
    assert report.splitlines()[0] == f"{source}: 13 problems in the service levels:"
    assert report.splitlines()[1:14] == caught.value.problems
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, ConfigError)


def test_file_that_is_not_utf8() -> None:
    source = DATA / "not-utf8.yaml"
    with pytest.raises(ServiceLevelsError) as caught:
        load_service_levels(source)
    assert caught.value.problems == [
        f"{source}:5:21: (file): expected UTF-8 text, saw the byte 0xe9; save the file as UTF-8"
    ]


def test_missing_file(tmp_path: Path) -> None:
    source = tmp_path / "absent.yaml"
    with pytest.raises(ServiceLevelsError) as caught:
        load_service_levels(source)
    assert caught.value.problems == [
        f"{source}:1:1: (file): expected a readable service-levels file, saw No such file or "
        f"directory; check the path, or start from a copy of {DEFAULT_SERVICE_LEVELS}"
    ]


def test_empty_file_on_disk() -> None:
    with pytest.raises(ServiceLevelsError, match=r"empty\.yaml:1:1: \(document\): expected"):
        load_service_levels(DATA / "empty.yaml")


def test_control_character_is_reported_at_its_position() -> None:
    text = edited("    p95_ms: 300\n", "    p95_ms: 3\x0700\n")
    assert only(problems_of(text)) == (
        f"{at(text, chr(7))}: (document): expected printable text, saw the character #x0007; "
        "delete it (control characters are not allowed in YAML)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 5000, "1:1: (document): expected a shallow document, saw nesting too deep"),
        ("a: 1\n---\nb: 2\n", "2:1: (document): expected valid YAML, saw a syntax error"),
        ("a: *missing\n", "1:4: (document): expected valid YAML, saw a syntax error (found"),
        ("? [1]\n: 2\n", "1:3: (document): expected a plain key, saw a list as a key"),
        ("&a [*a]\n", "1:1: (document): expected a mapping with version, flows and recovery"),
        ("<<: {version: 1}\n", "1:1: '<<': expected plain keys, saw a merge key (<<)"),
        ('"fl\\nows": 1\n', "1:1: 'fl\\nows': expected one of version, flows"),
    ],
)
def test_hostile_documents_give_problems(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert any(problem.startswith(f"{SOURCE}:{expected}") for problem in problems), problems


# --- nothing escapes: property tests -------------------------------------------------

YAMLISH = st.text(
    alphabet=st.sampled_from(list("abcp_s: -\n\t[]{}#&*!|>'\"%@`,?.019\x85\u2028\r")),
    max_size=120,
)
VALUES = st.sampled_from(
    [
        "",
        "'x'",
        "[]",
        "{}",
        "30s",
        "99.9%",
        "-1",
        "0",
        "100",
        "true",
        "null",
        "1e400",
        ".nan",
        "&a 5",
        "*a",
        "!!int x",
        "!!bool maybe",
        "!custom 3",
        "[node-loss, fire]",
        "{rto_s: 1}",
        "2024-01-01",
        "0x1F",
        "1:30",
        '"multi\\nline"',
    ]
)
DEFAULT_LINES = DEFAULT_TEXT.split("\n")


@st.composite
def mutated_default(draw: st.DrawFn) -> str:
    lines = list(DEFAULT_LINES)
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "tab", "value", "swap", "key"]))
        line = lines[index]
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, line)
        elif action == "tab":
            column = draw(st.integers(min_value=0, max_value=len(line)))
            lines[index] = line[:column] + "\t" + line[column:]
        elif action == "value" and ":" in line:
            lines[index] = line[: line.index(":") + 1] + " " + draw(VALUES)
        elif action == "swap" and ":" in line:
            other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            if ":" in lines[other]:
                mine, theirs = line.split(":", 1), lines[other].split(":", 1)
                lines[index] = mine[0] + ":" + theirs[1]
                lines[other] = theirs[0] + ":" + mine[1]
        elif action == "key" and ":" in line:
            indent = len(line) - len(line.lstrip())
            key = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12))
            lines[index] = " " * indent + key + line[line.index(":") :]
    return "\n".join(lines)


def load_or_error(text: str) -> ServiceLevels | ServiceLevelsError:
    try:
        return parse_service_levels(text, SOURCE)
    except ServiceLevelsError as err:
        return err


def assert_loads_or_reports(text: str) -> None:
    outcome = load_or_error(text)
    if isinstance(outcome, ServiceLevels):
        return
    assert outcome.problems
    for problem in outcome.problems:
        match = PROBLEM.fullmatch(problem)
        assert match is not None, problem
        assert match["file"] == SOURCE
        assert int(match["line"]) >= 1
        assert int(match["column"]) >= 1
        assert "; " in match["rest"]
    assert format_report(outcome).count("\n") == len(outcome.problems) + 1


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_never_escapes(text: str) -> None:
    assert_loads_or_reports(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH)
def test_random_yaml_like_text_never_escapes(text: str) -> None:
    assert_loads_or_reports(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_default())
def test_mutated_default_never_escapes(text: str) -> None:
    assert_loads_or_reports(text)
