"""Error budgets: how much of a flow's allowed downtime a run has spent.

A flow's error budget over a window of D days is ``(1 - availability target) * D``
days of full outage (99.5 % over 30 days: 3.6 h). A run spends it with the flow's
outage time (``harness.core.recovery.outages``: no success from the first failed
sample's start to the next OK sample's start, stalls included), counted from the
start of observation, since whatever breaks a flow spends its budget whether or not
a fault was standing. ``burn_pct`` is the share of the budget spent, in percent;
the abort condition ``max_error_budget_burn_pct`` compares against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.core.recovery import outages
from harness.core.samples import FlowSamples, MeasurementError
from harness.core.targets import FlowTarget

_NS_PER_DAY = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class BudgetSpend:
    """Flow ``flow`` spent ``spent_ns`` of its ``budget_ns`` error budget."""

    flow: str
    spent_ns: int
    budget_ns: int

    @property
    def burn_pct(self) -> float:
        return 100.0 * self.spent_ns / self.budget_ns


def budget_spend(
    flows: Mapping[str, FlowSamples],
    targets: Sequence[FlowTarget],
    window_days: float,
    since_ns: int,
    now_ns: int,
) -> tuple[BudgetSpend, ...]:
    """Each critical flow's spend between ``since_ns`` and ``now_ns``, worst first."""
    if window_days <= 0:
        raise MeasurementError(
            f"error budget: expected a window of more than 0 days, saw {window_days}; set "
            "error_budget_window_days in service levels"
        )
    result: list[BudgetSpend] = []
    for target in targets:
        if not target.critical:
            continue
        budget_ns = round(float(1 - target.availability) * window_days * _NS_PER_DAY)
        if budget_ns <= 0:
            raise MeasurementError(
                f"error budget of {target.name}: expected an availability target below 100 %, "
                f"saw {target.availability_pct}; a 100 % target leaves no budget to spend"
            )
        samples = flows.get(target.name)
        spent = 0
        if samples is not None:
            for outage in outages(samples, now_ns):
                start, end = max(outage.start_ns, since_ns), min(outage.end_ns, now_ns)
                spent += max(0, end - start)
        result.append(BudgetSpend(target.name, spent, budget_ns))
    return tuple(sorted(result, key=lambda s: -s.burn_pct))


def budget_exhausted(spends: Sequence[BudgetSpend], max_burn_pct: float) -> BudgetSpend | None:
    """The worst spend beyond ``max_burn_pct`` percent of its budget, if any."""
    worst = max(spends, key=lambda s: s.burn_pct, default=None)
    if worst is None or worst.burn_pct <= max_burn_pct:
        return None
    return worst


def abort_sentence(spend: BudgetSpend, max_burn_pct: float, window_days: float) -> str:
    """Why a run aborted on its error budget, in words."""
    return (
        f"{spend.flow} spent {spend.burn_pct:.2f} % of its {window_days:g}-day error budget "
        f"({spend.spent_ns / 1e9:.1f} s of {spend.budget_ns / 1e9:,.1f} s of outage), beyond "
        f"max_error_budget_burn_pct {max_burn_pct:g} %"
    )
