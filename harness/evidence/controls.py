"""The control map: which runs and verdicts evidence each governance control.

A scenario evidences a control when it names the control or its fault family is one of
the control's families (service levels ``controls``). Evidence is gathered from this
run and every earlier complete bundle in the same reports folder. A control is flagged
unless some passing scenario ended inside its ``evidence_period_days`` before ``now``:
``stale`` (passing evidence exists, but older), ``failing`` (evidence inside the period,
none passing) or ``missing`` (no evidence at all).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from harness.evidence.model import JsonValue, utc_text
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
    passed: bool
    ended_at: datetime
    verdicts: tuple[str, ...]


@dataclass(frozen=True)
class ControlStatus:
    control_id: str
    description: str
    families: tuple[str, ...]
    evidence_period_days: int
    evidence: tuple[EvidenceEntry, ...]
    state: ControlState
    sentence: str

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
            "evidence": [
                {
                    "run_id": e.run_id,
                    "scenario": e.scenario,
                    "family": e.family,
                    "passed": e.passed,
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
    for control in controls:
        families = tuple(f.value for f in control.families)
        entries = tuple(
            EvidenceEntry(
                run.run_id,
                scenario.scenario,
                scenario.family,
                scenario.passed,
                scenario.ended_at,
                tuple(
                    f"{'PASS' if v.passed else 'FAIL'} {v.kind}: {v.sentence}"
                    for v in scenario.verdicts
                ),
            )
            for run in runs
            for scenario in run.scenarios
            if control.control_id in scenario.controls or scenario.family in families
        )
        since = now - timedelta(days=control.evidence_period_days)
        recent = [e for e in entries if e.ended_at >= since]
        passing = [e for e in entries if e.passed]
        period = f"the last {control.evidence_period_days} days"
        if any(e.passed for e in recent):
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
        elif recent:
            state = ControlState.FAILING
            sentence = (
                f"{control.control_id} flagged: {len(recent)} scenario runs in {period}, none "
                "passed; fix what their failing verdicts name and run again"
            )
        else:
            state = ControlState.MISSING
            sentence = (
                f"{control.control_id} flagged: no run evidences it; run a "
                f"{'/'.join(families)} scenario"
            )
        result.append(
            ControlStatus(
                control.control_id,
                control.description,
                families,
                control.evidence_period_days,
                entries,
                state,
                sentence,
            )
        )
    return tuple(result)
