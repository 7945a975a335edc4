"""A run's headline figures in one file (``summary.json``), and finding earlier runs.

The control map and the trend read earlier bundles through their ``summary.json``
only: it holds per scenario its outcome (passed, failed, errored), the verdict
sentences (an errored scenario's one line is its exception) and the RTO, RPO and SLO
figures. Only complete bundles count as earlier runs: a folder still marked
``INCOMPLETE`` (a crashed or running run) or without ``SHA256SUMS`` is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from harness.core.timeline import Phase
from harness.core.verdict import VerdictKind
from harness.evidence.model import (
    ErroredScenario,
    EvidenceError,
    JsonValue,
    ScenarioOutcome,
    ScenarioRecord,
    parse_utc,
    utc_text,
)

SUMMARY = "summary.json"
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
INCOMPLETE = "INCOMPLETE"
ERROR_KIND = "error"
"""``VerdictLine.kind`` of the line that says why an errored scenario was not judged."""


@dataclass(frozen=True, slots=True)
class FlowFigures:
    flow: str
    phase: str
    availability_pct: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True, slots=True)
class VerdictLine:
    kind: str
    passed: bool
    sentence: str


@dataclass(frozen=True)
class ScenarioSummary:
    scenario: str
    family: str
    controls: tuple[str, ...]
    outcome: ScenarioOutcome
    ended_at: datetime
    rto_s: float | None
    rto_target_s: float | None
    rpo_s: float | None
    rpo_target_s: float | None
    lost_writes: int | None
    flows: tuple[FlowFigures, ...]
    verdicts: tuple[VerdictLine, ...]

    @property
    def passed(self) -> bool:
        return self.outcome is ScenarioOutcome.PASSED

    @classmethod
    def of(cls, evidence: ScenarioRecord) -> ScenarioSummary:
        if isinstance(evidence, ErroredScenario):
            return cls(
                scenario=evidence.scenario,
                family=evidence.family,
                controls=evidence.controls,
                outcome=evidence.outcome,
                ended_at=evidence.ended_at,
                rto_s=None,
                rto_target_s=None,
                rpo_s=None,
                rpo_target_s=None,
                lost_writes=None,
                flows=(),
                verdicts=(VerdictLine(ERROR_KIND, False, evidence.sentence),),
            )

        def first(kind: VerdictKind) -> tuple[float | None, float | None]:
            for verdict in evidence.all_verdicts:
                if verdict.kind is kind:
                    return verdict.measured, verdict.target
            return None, None

        rto, rto_target = first(VerdictKind.RTO)
        rpo, rpo_target = first(VerdictKind.RPO)
        ledger = evidence.verdicts.ledger
        lines = [VerdictLine(v.kind.value, v.passed, v.sentence) for v in evidence.all_verdicts]
        if evidence.abort_reason is not None:
            lines.append(VerdictLine(VerdictKind.ABORT.value, False, evidence.abort_reason))
        return cls(
            scenario=evidence.scenario,
            family=evidence.family,
            controls=evidence.controls,
            outcome=evidence.outcome,
            ended_at=evidence.ended_at,
            rto_s=rto,
            rto_target_s=rto_target,
            rpo_s=rpo,
            rpo_target_s=rpo_target,
            lost_writes=None if ledger is None else len(ledger.lost),
            flows=tuple(
                FlowFigures(s.flow, s.phase.value, s.availability_pct, s.p95_ms, s.p99_ms)
                for s in evidence.verdicts.slo
            ),
            verdicts=tuple(lines),
        )

    def figures(self, phase: Phase) -> tuple[FlowFigures, ...]:
        return tuple(f for f in self.flows if f.phase == phase.value)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "scenario": self.scenario,
            "family": self.family,
            "controls": list(self.controls),
            "passed": self.passed,
            "outcome": self.outcome.value,
            "ended_at": utc_text(self.ended_at),
            "rto_s": self.rto_s,
            "rto_target_s": self.rto_target_s,
            "rpo_s": self.rpo_s,
            "rpo_target_s": self.rpo_target_s,
            "lost_writes": self.lost_writes,
            "flows": [
                {
                    "flow": f.flow,
                    "phase": f.phase,
                    "availability_pct": f.availability_pct,
                    "p95_ms": f.p95_ms,
                    "p99_ms": f.p99_ms,
                }
                for f in self.flows
            ],
            "verdicts": [
                {"kind": v.kind, "passed": v.passed, "sentence": v.sentence} for v in self.verdicts
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ScenarioSummary:
        flows = _list(data["flows"])
        verdicts = _list(data["verdicts"])
        # Bundles written before errored scenarios were recorded have no "outcome".
        judged = ScenarioOutcome.PASSED if data["passed"] else ScenarioOutcome.FAILED
        return cls(
            scenario=str(data["scenario"]),
            family=str(data["family"]),
            controls=tuple(str(c) for c in _list(data["controls"])),
            outcome=ScenarioOutcome(data.get("outcome", judged.value)),
            ended_at=parse_utc(str(data["ended_at"])),
            rto_s=_number(data["rto_s"]),
            rto_target_s=_number(data["rto_target_s"]),
            rpo_s=_number(data["rpo_s"]),
            rpo_target_s=_number(data["rpo_target_s"]),
            lost_writes=None if data["lost_writes"] is None else int(str(data["lost_writes"])),
            flows=tuple(
                FlowFigures(
                    str(f["flow"]),
                    str(f["phase"]),
                    _number(f["availability_pct"]),
                    _number(f["p95_ms"]),
                    _number(f["p99_ms"]),
                )
                for f in map(_dict, flows)
            ),
            verdicts=tuple(
                VerdictLine(str(v["kind"]), bool(v["passed"]), str(v["sentence"]))
                for v in map(_dict, verdicts)
            ),
        )


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started_at: datetime
    ended_at: datetime
    scenarios: tuple[ScenarioSummary, ...]

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "run_id": self.run_id,
            "started_at": utc_text(self.started_at),
            "ended_at": utc_text(self.ended_at),
            "passed": self.passed,
            "scenarios": [s.to_json() for s in self.scenarios],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RunSummary:
        return cls(
            run_id=str(data["run_id"]),
            started_at=parse_utc(str(data["started_at"])),
            ended_at=parse_utc(str(data["ended_at"])),
            scenarios=tuple(ScenarioSummary.from_json(_dict(s)) for s in _list(data["scenarios"])),
        )


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, saw {type(value).__name__}")
    return value


def _dict(value: object) -> dict[str, object]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, saw {type(value).__name__}")
    return value


def _number(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"expected a number or null, saw {value!r}")


def is_complete(bundle: Path) -> bool:
    return (bundle / SUMS).is_file() and not (bundle / INCOMPLETE).exists()


def load_summary(bundle: Path) -> RunSummary:
    path = bundle / SUMMARY
    try:
        return RunSummary.from_json(_dict(json.loads(path.read_text(encoding="utf-8"))))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise EvidenceError(
            f"expected a readable run summary at {path}, saw {type(exc).__name__}: {exc}; "
            f"run `odoo-resilience verify {bundle}` to see what changed in that bundle"
        ) from exc


def earlier_runs(reports_dir: Path, exclude: str | None = None) -> list[RunSummary]:
    """Summaries of the complete bundles in ``reports_dir``, oldest first."""
    if not reports_dir.is_dir():
        return []
    runs = [
        load_summary(path)
        for path in reports_dir.iterdir()
        if path.is_dir()
        and path.name != exclude
        and is_complete(path)
        and (path / SUMMARY).is_file()
    ]
    return sorted(runs, key=lambda r: (r.started_at, r.run_id))
