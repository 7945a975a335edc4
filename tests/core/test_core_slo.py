"""Per-phase SLO figures: availability, error rate, nearest-rank percentiles, burn."""

from __future__ import annotations

import math

from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.slo import phase_slo, slo_by_phase
from harness.core.targets import FlowTarget
from harness.core.timeline import Phase, PhaseWindow

MS = 1_000_000


def hundred_samples() -> FlowSamples:
    """100 samples at 10 ms steps; latencies 1..100 ms; samples 90-99 fail."""
    series = SampleSeries("pick")
    for i in range(100):
        outcome = Outcome.ERROR if i >= 90 else Outcome.OK
        series.add(i * 10 * MS, i * 10 * MS + (i + 1) * MS, outcome)
    return series.freeze()


def test_phase_figures_and_error_budget_burn() -> None:
    target = FlowTarget("pick", True, 95.0, 86.0, 89.0)
    figures = phase_slo(hundred_samples(), target, PhaseWindow(Phase.FAULT, 0, 10**12))
    assert (figures.count, figures.ok) == (100, 90)
    assert figures.availability_pct == 90.0
    assert figures.error_rate == 0.1
    # OK latencies are 1..90 ms: nearest-rank p50 = 45th, p95 = 86th, p99 = 90th value.
    assert (figures.p50_ms, figures.p95_ms, figures.p99_ms) == (45.0, 86.0, 90.0)
    assert figures.budget_burn is not None
    assert math.isclose(figures.budget_burn, 2.0)
    assert not figures.availability_met
    assert figures.p95_met
    assert not figures.p99_met
    assert not figures.compliant


def test_a_sample_belongs_to_the_phase_it_started_in_unless_it_straddles_the_end() -> None:
    target = FlowTarget("pick", True, 90.0, 100.0)
    windows = [PhaseWindow(Phase.BASELINE, 0, 500 * MS), PhaseWindow(Phase.AFTER, 500 * MS, 10**12)]
    baseline, after = slo_by_phase({"pick": hundred_samples()}, [target], windows)
    # Sample i ends at 11 i + 1 ms: 46 to 49 started in the baseline but ended after it.
    assert (baseline.first_index, baseline.stop_index, baseline.count) == (0, 50, 46)
    assert (after.first_index, after.stop_index, after.count) == (50, 100, 50)
    assert baseline.compliant
    assert after.availability_pct == 80.0
    assert not after.compliant


def test_a_flow_with_no_samples_in_a_phase_is_not_compliant() -> None:
    target = FlowTarget("pack", True, 0.0, 100.0)
    (empty,) = slo_by_phase({}, [target], [PhaseWindow(Phase.BASELINE, 0, 10)])
    assert empty.count == 0
    assert empty.availability_pct is None
    assert empty.budget_burn is None
    assert not empty.compliant


def test_a_100_percent_target_burns_infinitely_on_any_error() -> None:
    target = FlowTarget("pick", True, 100.0, 1000.0)
    figures = phase_slo(hundred_samples(), target, PhaseWindow(Phase.AFTER, 0, 10**12))
    assert figures.budget_burn == math.inf
    clean = phase_slo(hundred_samples(), target, PhaseWindow(Phase.AFTER, 0, 100 * MS))
    assert clean.budget_burn == 0.0


def test_a_request_slowed_by_the_faults_first_moment_is_judged_in_no_phase() -> None:
    target = FlowTarget("pick", True, 99.0, 100.0, 200.0)
    series = SampleSeries("pick")
    for i in range(20):
        series.add(i * 200 * MS, i * 200 * MS + 20 * MS, Outcome.OK)
    # Issued 20 ms before the inject, answered 2.5 s later.
    series.add(3_980 * MS, 6_480 * MS, Outcome.OK)
    windows = [
        PhaseWindow(Phase.BASELINE, 0, 4_000 * MS),
        PhaseWindow(Phase.FAULT, 4_000 * MS, 10**12),
    ]
    baseline, fault = slo_by_phase({"pick": series.freeze()}, [target], windows)
    assert baseline.count == 20
    assert baseline.compliant
    assert fault.count == 0
