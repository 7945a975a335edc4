"""``allure-results/``: one Allure result per scenario, its attachments, the environment.

Labels: ``epic`` = each control the scenario evidences, ``feature`` = the fault family,
``story`` = the fault, ``severity`` = ``critical`` when the scenario's flows include a
critical one, else ``normal``. Steps follow the phases (baseline, fault, recovery,
after); each verdict is a sub-step of the phase its window starts in, the rest (RPO,
ledger, invariants) sit under a final "checks after the run" step. Attachments: the
charts (SVG, the warehouse load's and the telemetry's too), the verdicts (JSON), the
telemetry (CSV), the write ledger (CSV, the bundle's ``ledger.csv``), the warehouse
load's figures (JSON, the bundle's ``load.json``), Locust's own report files as the
bundle holds them (HTML report, CSV stats, JSON stats, log) and the component logs of
the scenario. A scenario that aborted is ``broken``; one with a failing verdict
``failed``; one that raised before it could be judged ``broken`` too, with its sentence
as the message, the traceback as the trace and no step. Build the HTML with ``allure generate``
(``odoo-resilience report --allure``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import PurePosixPath

from harness.core.timeline import Timeline
from harness.core.verdict import Verdict
from harness.evidence import charts
from harness.evidence.load import load_report, locust_files, media_type
from harness.evidence.model import (
    ErroredScenario,
    JsonValue,
    RunManifest,
    ScenarioEvidence,
    ScenarioRecord,
    ledger_csv,
    telemetry_csv,
    verdict_json,
)

RESULTS = "allure-results"
_NAMESPACE = uuid.UUID("5b0c6f0e-8d1f-4f0a-9a51-0d00e51de9ce")


def _ms(timeline: Timeline, t_ns: int) -> int:
    return timeline.wall_ns(t_ns) // 1_000_000


def _step(name: str, passed: bool, start: int, stop: int, steps: list[JsonValue]) -> JsonValue:
    return {
        "name": name,
        "status": "passed" if passed else "failed",
        "stage": "finished",
        "start": start,
        "stop": stop,
        "steps": steps,
        "attachments": [],
        "parameters": [],
    }


def _verdict_step(timeline: Timeline, verdict: Verdict) -> JsonValue:
    start, stop = verdict.window
    return _step(
        f"{verdict.kind.value}: {verdict.sentence}",
        verdict.passed,
        _ms(timeline, start),
        _ms(timeline, max(start, stop)),
        [],
    )


def allure_files(manifest: RunManifest, scenarios: Sequence[ScenarioRecord]) -> dict[str, bytes]:
    """File name (inside ``allure-results/``) to content, for every result and attachment."""
    files: dict[str, bytes] = {}
    for scenario in scenarios:
        case = uuid.uuid5(_NAMESPACE, f"{manifest.run_id}/{scenario.scenario}")
        history = uuid.uuid5(_NAMESPACE, scenario.scenario).hex
        labels: list[JsonValue] = [{"name": "epic", "value": c} for c in scenario.controls]
        labels += [
            {"name": "feature", "value": scenario.family},
            {"name": "suite", "value": scenario.family},
            {"name": "framework", "value": "odoo-resilience"},
        ]
        result: dict[str, JsonValue] = {
            "uuid": str(case),
            "historyId": history,
            "testCaseId": history,
            "name": scenario.scenario,
            "fullName": f"{scenario.family}.{scenario.scenario}",
            "stage": "finished",
            "start": int(scenario.started_at.timestamp() * 1000),
            "stop": int(scenario.ended_at.timestamp() * 1000),
            "labels": labels,
            "parameters": [{"name": "run_id", "value": manifest.run_id}],
        }
        if isinstance(scenario, ErroredScenario):
            labels.append({"name": "severity", "value": "normal"})
            result |= {
                "status": "broken",
                "statusDetails": {"message": scenario.sentence, "trace": scenario.trace},
                "steps": [],
                "attachments": [],
            }
        else:
            result |= _judged(scenario, case, labels, files)
        files[f"{case}-result.json"] = json.dumps(result, indent=1).encode("utf-8")
    files["environment.properties"] = _properties(manifest)
    return files


def _judged(
    scenario: ScenarioEvidence, case: uuid.UUID, labels: list[JsonValue], files: dict[str, bytes]
) -> dict[str, JsonValue]:
    """Status, steps and attachments of a judged scenario; its attachments go to ``files``."""
    timeline = scenario.timeline
    attachments: list[JsonValue] = []
    blobs: list[tuple[str, str, str, bytes]] = [
        (name, "svg", "image/svg+xml", svg.encode("utf-8"))
        for name, svg in (
            *charts.scenario_charts(scenario),
            *charts.telemetry_charts(scenario),
        )
    ]
    verdicts = [verdict_json(v) for v in scenario.all_verdicts]
    blobs.append(("verdicts", "json", "application/json", json.dumps(verdicts, indent=1).encode()))
    if scenario.telemetry is not None:
        blobs.append(("telemetry", "csv", "text/csv", telemetry_csv(scenario.telemetry)))
    if scenario.writes is not None:
        blobs.append(("write ledger", "csv", "text/csv", ledger_csv(scenario.writes, timeline)))
    load = scenario.load
    if load is not None:
        figures = load_report(load, timeline, scenario.verdicts.observed_until_ns).to_json()
        blobs.append(
            ("load figures", "json", "application/json", json.dumps(figures, indent=1).encode())
        )
        blobs.extend(
            (name, PurePosixPath(name).suffix[1:] or "bin", media_type(name), data)
            for name, data in locust_files(load)
        )
    blobs.extend(
        (f"log {component}", "txt", "text/plain", text.encode("utf-8"))
        for component, text in sorted(scenario.logs.items())
    )
    for name, suffix, mime, data in blobs:
        source = f"{uuid.uuid5(case, name)}-attachment.{suffix}"
        files[source] = data
        attachments.append({"name": name, "source": source, "type": mime})

    placed: set[int] = set()
    steps: list[JsonValue] = []
    all_verdicts = scenario.all_verdicts
    for window in timeline.phases(scenario.verdicts.observed_until_ns):
        inside = [
            i
            for i, v in enumerate(all_verdicts)
            if i not in placed and window.t_from_ns <= v.window[0] < window.t_to_ns
        ]
        placed.update(inside)
        steps.append(
            _step(
                window.phase.value,
                all(all_verdicts[i].passed for i in inside),
                _ms(timeline, window.t_from_ns),
                _ms(timeline, window.t_to_ns),
                [_verdict_step(timeline, all_verdicts[i]) for i in inside],
            )
        )
    rest = [v for i, v in enumerate(all_verdicts) if i not in placed]
    if rest:
        end = _ms(timeline, scenario.verdicts.observed_until_ns)
        steps.append(
            _step(
                "checks after the run",
                all(v.passed for v in rest),
                end,
                end,
                [_verdict_step(timeline, v) for v in rest],
            )
        )

    if scenario.abort_reason is not None:
        status, message = "broken", f"aborted: {scenario.abort_reason}"
    elif scenario.passed:
        status, message = "passed", ""
    else:
        status, message = "failed", "\n".join(v.sentence for v in scenario.failed)
    critical = any(flow in scenario.critical_flows for flow in scenario.flows)
    labels.append({"name": "severity", "value": "critical" if critical else "normal"})
    if scenario.fault is not None:
        labels.append({"name": "story", "value": scenario.fault})
    return {
        "status": status,
        "statusDetails": {"message": message, "trace": ""},
        "steps": steps,
        "attachments": attachments,
    }


def _properties(manifest: RunManifest) -> bytes:
    def escape(text: str) -> str:
        out = text.replace("\\", "\\\\").replace("\n", "\\n")
        return out.replace("=", "\\=").replace(":", "\\:")

    lines = [
        f"{escape(name).replace(' ', '_')}={escape(value)}" for name, value in manifest.properties()
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")
