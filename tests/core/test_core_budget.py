"""Error budgets: outage time spent against (1 - availability) x the budget window."""

from __future__ import annotations

import pytest

from harness.core.budget import abort_sentence, budget_exhausted, budget_spend
from harness.core.samples import FlowSamples, MeasurementError, Outcome, SampleSeries
from harness.core.targets import FlowTarget

MS = 1_000_000
S = 1_000 * MS
TARGETS = (
    FlowTarget("picking", True, 99.5, 800.0, 2000.0),
    FlowTarget("report", False, 95.0, 5000.0, 15000.0),
)


def probed(down_from_s: float, down_to_s: float, until_s: int = 120) -> FlowSamples:
    series = SampleSeries("picking")
    for start in range(0, until_s * S, 200 * MS):
        failed = down_from_s * S <= start < down_to_s * S
        series.add(start, start + 20 * MS, Outcome.ERROR if failed else Outcome.OK)
    return series.freeze()


def test_spend_is_the_flows_outage_time_against_its_budget() -> None:
    # 99.5 % over one day: 432 s of budget; down 10-31.6 s: 21.6 s spent = 5 %.
    (spend,) = budget_spend({"picking": probed(10, 31.6)}, TARGETS, 1, 0, 120 * S)
    assert spend.flow == "picking"
    assert spend.budget_ns == 432 * S
    assert spend.spent_ns == 21_600 * MS
    assert spend.burn_pct == pytest.approx(5.0)


def test_only_what_falls_after_since_is_spent() -> None:
    (spend,) = budget_spend({"picking": probed(10, 30)}, TARGETS, 1, 20 * S, 120 * S)
    assert spend.spent_ns == 10 * S


def test_a_run_beyond_the_allowed_burn_is_named_with_its_figures() -> None:
    spends = budget_spend({"picking": probed(10, 40)}, TARGETS, 1, 0, 120 * S)
    assert budget_exhausted(spends, 5.0) == spends[0]
    assert budget_exhausted(spends, 10.0) is None
    assert abort_sentence(spends[0], 5.0, 1) == (
        "picking spent 6.94 % of its 1-day error budget (30.0 s of 432.0 s of outage), "
        "beyond max_error_budget_burn_pct 5 %"
    )


def test_a_flow_never_probed_spends_nothing_and_a_zero_window_is_refused() -> None:
    (spend,) = budget_spend({}, TARGETS, 30, 0, 120 * S)
    assert spend.spent_ns == 0
    with pytest.raises(MeasurementError, match="error_budget_window_days"):
        budget_spend({}, TARGETS, 0, 0, 120 * S)
