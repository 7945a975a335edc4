"""From a finished scenario to the evidence bundle's input (``ScenarioEvidence``)."""

from __future__ import annotations

from datetime import UTC, datetime

from harness.core import EventKind
from harness.evidence.model import ScenarioEvidence
from harness.levels import ServiceLevels
from harness.scenario.runner import ScenarioResult


def scenario_evidence(result: ScenarioResult, levels: ServiceLevels) -> ScenarioEvidence:
    family = result.spec.family
    injected = result.timeline.first(EventKind.FAULT_INJECTED)
    return ScenarioEvidence(
        scenario=result.spec.name,
        family=family.value,
        controls=tuple(c.control_id for c in levels.controls if family in c.families),
        started_at=datetime.fromtimestamp(result.wall_start_ns / 1e9, tz=UTC),
        ended_at=datetime.fromtimestamp(result.wall_end_ns / 1e9, tz=UTC),
        timeline=result.timeline,
        flows=result.flows,
        verdicts=result.run,
        fault=None if injected is None else injected.label,
        landed=() if result.landed is None else (result.landed.sentence,),
        abort_reason=result.abort_reason,
        rto_floor=result.floor_lines,
        logs=result.logs,
        telemetry=result.telemetry,
        invariants=result.invariant_verdicts,
        critical_flows=tuple(f.flow.value for f in levels.critical_flows()),
    )
