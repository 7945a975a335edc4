"""Abort conditions: down beyond RTO plus margin, and an error budget burnt."""

from __future__ import annotations

from harness.core.abort import AbortLimits, abort_reason
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.targets import FlowTarget

MS = 1_000_000
S = 1_000 * MS
PICKING = FlowTarget("picking", True, 99.5, 800.0, 2000.0)


def probed(down_from_s: float, until_s: float) -> FlowSamples:
    series = SampleSeries("picking")
    for start in range(0, round(until_s * S), 200 * MS):
        failed = start >= down_from_s * S
        series.add(start, start + 20 * MS, Outcome.ERROR if failed else Outcome.OK)
    return series.freeze()


def test_a_critical_flow_down_beyond_rto_and_margin_aborts() -> None:
    limits = AbortLimits(rto_s=30, down_beyond_rto_s=60, budget_window_days=30, max_burn_pct=100)
    flows = {"picking": probed(10, 100.2)}
    # Down since the last success at 9.82 s: 90.2 s at 100 s, beyond 30 + 60.
    reason = abort_reason(
        flows, [PICKING], limits, t_inject_ns=5 * S, baseline_ns=0, now_ns=100 * S
    )
    assert reason == (
        "picking fully down for 90.2 s, beyond the abort limit of 90 s (rto_s 30 + "
        "critical_flow_down_beyond_rto_s 60)"
    )
    assert (
        abort_reason(flows, [PICKING], limits, t_inject_ns=5 * S, baseline_ns=0, now_ns=99 * S)
        is None
    )


def test_a_run_that_burns_its_error_budget_aborts() -> None:
    # 99.5 % over 1 day is 432 s of budget; 1 % of it is 4.32 s. Down from 10 s on.
    limits = AbortLimits(rto_s=30, down_beyond_rto_s=60, budget_window_days=1, max_burn_pct=1)
    flows = {"picking": probed(10, 20)}
    early = abort_reason(flows, [PICKING], limits, t_inject_ns=5 * S, baseline_ns=0, now_ns=14 * S)
    assert early is None
    reason = abort_reason(flows, [PICKING], limits, t_inject_ns=5 * S, baseline_ns=0, now_ns=15 * S)
    assert reason == (
        "picking spent 1.16 % of its 1-day error budget (5.0 s of 432.0 s of outage), beyond "
        "max_error_budget_burn_pct 1 %"
    )
    # A longer window holds a larger budget: the same outage is no abort over 30 days.
    roomy = AbortLimits(rto_s=30, down_beyond_rto_s=60, budget_window_days=30, max_burn_pct=1)
    assert (
        abort_reason(flows, [PICKING], roomy, t_inject_ns=5 * S, baseline_ns=0, now_ns=15 * S)
        is None
    )
