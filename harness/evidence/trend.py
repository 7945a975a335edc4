"""Figures across runs: RTO, RPO and after-fault SLO figures per scenario, regressions flagged.

Reads the ``summary.json`` of the last N complete bundles of a reports folder. A figure
of the newest run regresses when it is worse than the median of the same figure in the
earlier runs shown by more than the relative tolerance *and* more than the metric's
absolute floor (so 0.1 s against 0.05 s is not a 100 % regression). Worse means higher
for RTO, RPO and p95 latency, lower for availability.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.core.timeline import Phase
from harness.evidence.model import EvidenceError
from harness.evidence.summary import RunSummary, ScenarioSummary, earlier_runs

DEFAULT_TOLERANCE = 0.2


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    higher_is_worse: bool
    floor: float
    """Smallest absolute worsening that counts, in the metric's unit."""


RTO = Metric("RTO s", True, 1.0)
RPO = Metric("RPO s", True, 1.0)
AVAILABILITY = Metric("availability %", False, 0.1)
P95 = Metric("p95 ms", True, 10.0)


@dataclass(frozen=True)
class TrendRow:
    scenario: str
    figure: str
    metric: Metric
    values: tuple[float | None, ...]
    regression: str | None


@dataclass(frozen=True)
class Trend:
    run_ids: tuple[str, ...]
    rows: tuple[TrendRow, ...]

    @property
    def regressions(self) -> tuple[TrendRow, ...]:
        return tuple(r for r in self.rows if r.regression is not None)

    def text(self) -> str:
        if not self.run_ids:
            return "no complete bundle found: nothing to compare"
        head = ["scenario", "figure", *self.run_ids, "trend"]
        table = [
            [
                r.scenario,
                r.figure,
                *("-" if v is None else f"{v:,.2f}" for v in r.values),
                "ok" if r.regression is None else f"REGRESSION: {r.regression}",
            ]
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [head, *table]) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in [head, *table]
        ]
        found = len(self.regressions)
        lines.append(
            f"{found} regression{'s' if found != 1 else ''} in the newest run "
            f"({self.run_ids[-1]}) against the median of the {len(self.run_ids) - 1} before it"
        )
        return "\n".join(lines)


def _regression(metric: Metric, values: tuple[float | None, ...], tolerance: float) -> str | None:
    latest = values[-1]
    earlier = [v for v in values[:-1] if v is not None]
    if latest is None or not earlier:
        return None
    median = statistics.median(earlier)
    worsening = latest - median if metric.higher_is_worse else median - latest
    if worsening <= metric.floor or worsening <= tolerance * abs(median):
        return None
    direction = "up" if metric.higher_is_worse else "down"
    return f"{direction} {worsening:,.2f} from median {median:,.2f} (tolerance {tolerance:.0%})"


def trend(reports_dir: Path, last: int = 10, tolerance: float = DEFAULT_TOLERANCE) -> Trend:
    if last < 2:
        raise EvidenceError(
            f"expected --last of at least 2 runs to compare, saw {last}; pass --last 2 or more"
        )
    if not reports_dir.is_dir():
        raise EvidenceError(
            f"expected a reports folder at {reports_dir}, saw nothing there; pass the folder "
            "holding the run bundles (default reports/)"
        )
    runs = earlier_runs(reports_dir)[-last:]
    return Trend(tuple(r.run_id for r in runs), tuple(_rows(runs, tolerance)))


def _rows(runs: list[RunSummary], tolerance: float) -> list[TrendRow]:
    names = sorted({s.scenario for run in runs for s in run.scenarios})
    rows: list[TrendRow] = []
    for name in names:
        by_run = [next((s for s in run.scenarios if s.scenario == name), None) for run in runs]
        figures: list[tuple[str, Metric, Callable[[ScenarioSummary], float | None]]] = [
            ("RTO s", RTO, lambda s: s.rto_s),
            ("RPO s", RPO, lambda s: s.rpo_s),
        ]
        flows = sorted({f.flow for s in by_run if s is not None for f in s.figures(Phase.AFTER)})
        for flow in flows:
            figures.append((f"{flow} availability % (after)", AVAILABILITY, _after(flow, True)))
            figures.append((f"{flow} p95 ms (after)", P95, _after(flow, False)))
        for label, metric, pick in figures:
            values = tuple(None if s is None else pick(s) for s in by_run)
            if all(v is None for v in values):
                continue
            rows.append(
                TrendRow(name, label, metric, values, _regression(metric, values, tolerance))
            )
    return rows


def _after(flow: str, availability: bool) -> Callable[[ScenarioSummary], float | None]:
    def pick(summary: ScenarioSummary) -> float | None:
        for figures in summary.figures(Phase.AFTER):
            if figures.flow == flow:
                return figures.availability_pct if availability else figures.p95_ms
        return None

    return pick
