"""``junit.xml``: one testcase per scenario, for CI systems that read JUnit.

A scenario fails when any of its verdicts failed or it aborted; the failure message is
the failing verdicts' sentences, so the CI summary reads like the report. A scenario
that raised before it could be judged is an ``<error>`` (``errors=`` counts them) whose
message is its sentence, type the exception's and text the traceback. Every verdict
sentence is in ``system-out`` and the controls a scenario evidences are properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.evidence.model import ErroredScenario, ScenarioOutcome, ScenarioRecord, utc_text


def junit_xml(run_id: str, scenarios: Sequence[ScenarioRecord]) -> bytes:
    suite = ET.Element(
        "testsuite",
        {
            "name": f"odoo-resilience {run_id}",
            "tests": str(len(scenarios)),
            "failures": str(sum(s.outcome is ScenarioOutcome.FAILED for s in scenarios)),
            "errors": str(sum(s.outcome is ScenarioOutcome.ERRORED for s in scenarios)),
            "skipped": "0",
            "time": f"{sum(s.duration_s for s in scenarios):.3f}",
            "timestamp": utc_text(scenarios[0].started_at) if scenarios else "",
        },
    )
    for scenario in scenarios:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"odoo_resilience.{scenario.family}",
                "name": scenario.scenario,
                "time": f"{scenario.duration_s:.3f}",
            },
        )
        properties = ET.SubElement(case, "properties")
        for control in scenario.controls:
            ET.SubElement(properties, "property", {"name": "control", "value": control})
        out = ET.Element("system-out")
        if isinstance(scenario, ErroredScenario):
            error = ET.SubElement(
                case, "error", {"message": scenario.sentence, "type": scenario.error_type}
            )
            error.text = scenario.trace or scenario.sentence
            out.text = f"ERROR: {scenario.sentence}"
        else:
            if scenario.fault is not None:
                ET.SubElement(properties, "property", {"name": "fault", "value": scenario.fault})
            if not scenario.passed:
                reasons = [v.sentence for v in scenario.failed]
                if scenario.abort_reason is not None:
                    reasons.insert(0, f"aborted: {scenario.abort_reason}")
                failure = ET.SubElement(
                    case, "failure", {"message": "; ".join(reasons), "type": "VerdictFailed"}
                )
                failure.text = "\n".join(reasons)
            out.text = "\n".join(
                f"{'PASS' if v.passed else 'FAIL'} {v.kind.value}: {v.sentence}"
                for v in scenario.all_verdicts
            )
        case.append(out)
    ET.indent(suite)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
