"""The control map: which runs and verdicts evidence each governance control.

A scenario evidences a control when it names the control or its fault family is one of
the control's families (service levels ``controls``). Evidence is gathered from this
run and every earlier complete bundle in the same reports folder. A control is
``failing`` when, for any of its families, a scenario of the latest run of that family
failed or errored: older passes do not outweigh what the stack does now, and the
control names the runs and scenarios that made it so. Otherwise it is flagged unless
some passing scenario ended inside its ``evidence_period_days`` before ``now``:
``stale`` (passing evidence exists, but older) or ``missing`` (no evidence at all).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from harness.evidence.model import JsonValue, ScenarioOutcome, utc_text
from harness.evidence.summary import RunSummary
from harness.levels import Control


class ControlState(enum.Enum):
    EVIDENCED = "evidenced"
    STALE = "stale"
    FAILING = "failing"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class EvidenceEntry:
    run_id: str
    scenario: str
    family: str
    outcome: ScenarioOutcome
    ended_at: datetime
    verdicts: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return self.outcome is ScenarioOutcome.PASSED


@dataclass(frozen=True)
class ControlStatus:
    control_id: str
    description: str
    families: tuple[str, ...]
    evidence_period_days: int
    evidence: tuple[EvidenceEntry, ...]
    state: ControlState
    sentence: str
    failing: tuple[EvidenceEntry, ...] = ()
    """The scenarios of each family's latest run that did not pass (``FAILING`` only)."""

    @property
    def flagged(self) -> bool:
        return self.state is not ControlState.EVIDENCED

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "control": self.control_id,
            "description": self.description,
            "families": list(self.families),
            "evidence_period_days": self.evidence_period_days,
            "state": self.state.value,
            "flagged": self.flagged,
            "sentence": self.sentence,
            "failing": [
                {"run_id": e.run_id, "scenario": e.scenario, "outcome": e.outcome.value}
                for e in self.failing
            ],
            "evidence": [
                {
                    "run_id": e.run_id,
                    "scenario": e.scenario,
                    "family": e.family,
                    "passed": e.passed,
                    "outcome": e.outcome.value,
                    "ended_at": utc_text(e.ended_at),
                    "verdicts": list(e.verdicts),
                }
                for e in self.evidence
            ],
        }


def control_map(
    controls: Sequence[Control], runs: Sequence[RunSummary], now: datetime
) -> tuple[ControlStatus, ...]:
    """Every control's evidence across ``runs`` (this run included), judged at ``now``."""
    result: list[ControlStatus] = []
    ordered = sorted(runs, key=lambda r: (r.started_at, r.run_id))
    for control in controls:
        families = tuple(f.value for f in control.families)
        entries = tuple(
            EvidenceEntry(
                run.run_id,
                scenario.scenario,
                scenario.family,
                scenario.outcome,
                scenario.ended_at,
                tuple(
                    f"{'PASS' if v.passed else 'FAIL'} {v.kind}: {v.sentence}"
                    for v in scenario.verdicts
                ),
            )
            for run in ordered
            for scenario in run.scenarios
            if control.control_id in scenario.controls or scenario.family in families
        )
        latest_run = {e.family: e.run_id for e in entries}  # runs are oldest first
        failing = tuple(e for e in entries if e.run_id == latest_run[e.family] and not e.passed)
        since = now - timedelta(days=control.evidence_period_days)
        recent = [e for e in entries if e.ended_at >= since]
        passing = [e for e in entries if e.passed]
        period = f"the last {control.evidence_period_days} days"
        if failing:
            state = ControlState.FAILING
            named = "; ".join(
                f"{e.scenario} {e.outcome.value} in run {e.run_id} at {utc_text(e.ended_at)}"
                for e in failing
            )
            sentence = (
                f"{control.control_id} flagged: the latest run of its "
                f"{'/'.join(sorted({e.family for e in failing}))} scenarios did not pass "
                f"({named}); fix what their verdicts or errors name and run them again"
            )
        elif any(e.passed for e in recent):
            latest = max((e for e in recent if e.passed), key=lambda e: e.ended_at)
            state = ControlState.EVIDENCED
            sentence = (
                f"{control.control_id} evidenced: {latest.scenario} passed in run "
                f"{latest.run_id} at {utc_text(latest.ended_at)}, within {period}"
            )
        elif passing:
            latest = max(passing, key=lambda e: e.ended_at)
            state = ControlState.STALE
            sentence = (
                f"{control.control_id} flagged: its last passing evidence ({latest.scenario} in "
                f"run {latest.run_id} at {utc_text(latest.ended_at)}) is older than {period}; "
                f"run a {'/'.join(families)} scenario"
            )
        else:
            state = ControlState.MISSING
            unbuilt = [f.value for f in control.families if not f.has_scenario]
            advice = (
                f"the harness has no {'/'.join(unbuilt)} scenario yet, so nothing can evidence it"
                if len(unbuilt) == len(control.families)
                else f"run a {'/'.join(families)} scenario"
            )
            sentence = f"{control.control_id} flagged: no run evidences it; {advice}"
        result.append(
            ControlStatus(
                control.control_id,
                control.description,
                families,
                control.evidence_period_days,
                entries,
                state,
                sentence,
                failing,
            )
        )
    return tuple(result)
