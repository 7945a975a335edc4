"""Every rule in the service-levels file is enforced by code and broken on purpose by a test.

``BROKEN_BY`` names, for every key the loader accepts, a test that breaks that rule and
sees its sentence. A key added to the loader without such a test fails here, so no
promise of the file can be parsed and then never kept.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest
import yaml

from harness.levels import DEFAULT_SERVICE_LEVELS

BROKEN_BY: dict[str, str] = {
    "version": "tests/test_levels.py::test_wrong_types_say_how_to_write_the_value",
    "global.steady_state_window_s": (
        "tests/core/test_core_steady.py::test_window_edges_are_exact_to_the_nanosecond"
    ),
    "global.stability_period_s": (
        "tests/core/test_core_recovery.py::"
        "test_recovery_counts_only_after_the_stability_period_holds"
    ),
    "global.probe_interval_ms": (
        "tests/test_probes.py::test_runs_overlap_so_every_slot_is_probed_even_while_calls_hang"
    ),
    "global.abort.critical_flow_down_beyond_rto_s": (
        "tests/core/test_core_abort.py::test_a_critical_flow_down_beyond_rto_and_margin_aborts"
    ),
    "global.abort.error_budget_window_days": (
        "tests/core/test_core_abort.py::test_a_run_that_burns_its_error_budget_aborts"
    ),
    "global.abort.max_error_budget_burn_pct": (
        "tests/core/test_core_abort.py::test_a_run_that_burns_its_error_budget_aborts"
    ),
    "flows.*.critical": (
        "tests/core/test_core_steady.py::test_system_is_steady_only_when_every_critical_flow_is"
    ),
    "flows.*.availability_pct": (
        "tests/core/test_core_verdict.py::test_a_slow_recovery_fails_rto_with_a_readable_sentence"
    ),
    "flows.*.p95_ms": (
        "tests/core/test_core_verdict.py::"
        "test_a_recovery_held_back_by_latency_names_the_flow_and_its_p95"
    ),
    "flows.*.p99_ms": "tests/core/test_core_slo.py::test_phase_figures_and_error_budget_burn",
    "flows.*.durable_writes": (
        "tests/core/test_core_verdict.py::"
        "test_a_durable_flow_loses_no_write_whatever_the_family_rpo_allows"
    ),
    "flows.*.probe_timeout_ms": (
        "tests/test_probes.py::test_a_timed_out_request_is_dated_when_it_was_sent"
    ),
    "flows.*.stall_threshold_ms": (
        "tests/core/test_core_stalls.py::"
        "test_hung_then_answered_within_the_timeout_is_down_from_send_to_answer"
    ),
    "recovery.*.rto_s": (
        "tests/core/test_core_verdict.py::"
        "test_an_outage_the_revert_causes_fails_the_recovery_after_the_revert"
    ),
    "recovery.*.rpo_s": (
        "tests/core/test_core_verdict.py::test_lost_writes_fail_rpo_and_name_the_keys"
    ),
    "recovery.*.rpo_writes_lost": (
        "tests/core/test_core_verdict.py::test_lost_writes_fail_rpo_and_name_the_keys"
    ),
    "recovery.*.degraded_p95_ms": (
        "tests/core/test_core_verdict.py::"
        "test_critical_flows_are_held_to_the_degraded_p95_while_the_fault_stands"
    ),
    "controls.*.families": (
        "tests/evidence/test_controls_trend.py::test_control_states_follow_the_evidence_period"
    ),
    "controls.*.description": (
        "tests/evidence/test_controls_trend.py::test_control_states_follow_the_evidence_period"
    ),
    "controls.*.evidence_period_days": (
        "tests/evidence/test_controls_trend.py::test_control_states_follow_the_evidence_period"
    ),
}
#: Sections whose keys are names the user chooses (flows, families, control ids).
NAMED = ("flows", "recovery", "controls")


def rule_keys(node: object, path: str = "") -> Iterator[str]:
    """Every leaf key of the file, with user-chosen names folded to ``*``."""
    if not isinstance(node, dict):
        yield path
        return
    for key, value in node.items():
        part = "*" if path in NAMED else str(key)
        yield from rule_keys(value, f"{path}.{part}" if path else part)


def test_every_key_of_the_shipped_file_is_broken_by_a_test() -> None:
    document = yaml.safe_load(DEFAULT_SERVICE_LEVELS.read_text(encoding="utf-8"))
    keys = set(rule_keys(document))
    # The optional stall threshold is not in the shipped file; it is a rule all the same.
    keys.add("flows.*.stall_threshold_ms")
    unbroken = sorted(keys - set(BROKEN_BY))
    assert not unbroken, f"no test breaks these service-levels rules: {unbroken}"
    assert not set(BROKEN_BY) - keys, "BROKEN_BY names keys the file no longer has"


@pytest.mark.parametrize("key", sorted(BROKEN_BY))
def test_the_test_breaking_each_rule_exists(key: str) -> None:
    path, name = BROKEN_BY[key].split("::")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert callable(getattr(module, name, None)), f"{BROKEN_BY[key]} (for {key}) is gone"
