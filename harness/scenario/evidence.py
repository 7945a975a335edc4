"""From a session's scenarios to the evidence bundle's input: every scenario, however it ended.

``scenario_evidence`` turns a result the runner delivered into ``ScenarioEvidence`` (its
background load is already a ``WarehouseLoad``) and each write of its ledger into a
``LedgerWrite`` that says who made it.
``SessionScenarios`` keeps a session's scenarios in the order they ended: the results
delivered, and the scenario tests that raised instead (``raised``), each as an
``ErroredScenario`` named after the scenario the test had started (else the test), so
that a scenario whose read-back, fault or undo failed is in the bundle, not missing
from it. A test that fails with the AssertionError of ``assert_scenario_passed`` is not
errored: its failed result is already there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from harness.core import EventKind
from harness.evidence.model import (
    ErroredScenario,
    LedgerWrite,
    ScenarioEvidence,
    ScenarioRecord,
)
from harness.levels import FaultFamily, ServiceLevels
from harness.scenario.readback import ledger_writes
from harness.scenario.runner import ScenarioResult, ScenarioSpec

UNKNOWN_FAMILY = "unknown"
"""The family of an errored scenario whose test carries no family marker."""


def _controls(family: FaultFamily | None, levels: ServiceLevels) -> tuple[str, ...]:
    if family is None:
        return ()
    return tuple(c.control_id for c in levels.controls if family in c.families)


def _writes(result: ScenarioResult) -> tuple[LedgerWrite, ...] | None:
    ledger = result.run.ledger
    if ledger is None:
        return None
    return ledger_writes(result.writes, result.read_back, ledger, result.write_tenants)


def scenario_evidence(result: ScenarioResult, levels: ServiceLevels) -> ScenarioEvidence:
    family = result.spec.family
    injected = result.timeline.first(EventKind.FAULT_INJECTED)
    return ScenarioEvidence(
        scenario=result.spec.name,
        family=family.value,
        controls=_controls(family, levels),
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
        writes=_writes(result),
        load=result.load,
    )


class SessionScenarios:
    """A session's scenarios in the order they ended (``records``); see the module docstring.

    Tests are named by their pytest node id.
    """

    def __init__(self, levels: ServiceLevels) -> None:
        self.levels = levels
        self.records: list[ScenarioRecord] = []
        self._running: dict[str, ScenarioSpec] = {}
        self._delivered: dict[str, list[ScenarioResult]] = {}

    def started(self, test: str, spec: ScenarioSpec) -> None:
        """``test`` starts running ``spec``."""
        self._running[test] = spec

    def delivered(self, test: str, result: ScenarioResult) -> None:
        """The runner judged the scenario ``test`` started."""
        self._running.pop(test, None)
        self._delivered.setdefault(test, []).append(result)
        self.records.append(scenario_evidence(result, self.levels))

    def raised(
        self,
        test: str,
        error: BaseException,
        *,
        family: FaultFamily | None,
        started_at: datetime,
        ended_at: datetime,
        trace: str,
    ) -> None:
        """``test`` (of ``family``, by its marker) raised ``error``: record it as errored,
        unless it is the verdict failure of a result already delivered."""
        spec = self._running.pop(test, None)
        delivered = self._delivered.get(test, [])
        if (
            spec is None
            and isinstance(error, AssertionError)
            and any(not r.passed for r in delivered)
        ):
            return
        if spec is not None:
            family = spec.family
        self.records.append(
            ErroredScenario(
                scenario=test if spec is None else spec.name,
                family=UNKNOWN_FAMILY if family is None else family.value,
                controls=_controls(family, self.levels),
                started_at=started_at,
                ended_at=ended_at,
                error_type=type(error).__name__,
                message=str(error) or "(no message)",
                trace=trace,
            )
        )
