"""``junit.xml``: one testcase per scenario, for CI systems that read JUnit.

A scenario fails when any of its verdicts failed or it aborted; the failure message is
the failing verdicts' sentences, so the CI summary reads like the report. Every verdict
sentence is in ``system-out`` and the controls a scenario evidences are properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

from harness.evidence.model import ScenarioEvidence, utc_text


def junit_xml(run_id: str, scenarios: Sequence[ScenarioEvidence]) -> bytes:
    failures = sum(1 for s in scenarios if not s.passed)
    suite = ET.Element(
        "testsuite",
        {
            "name": f"odoo-resilience {run_id}",
            "tests": str(len(scenarios)),
            "failures": str(failures),
            "errors": "0",
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
        out = ET.SubElement(case, "system-out")
        out.text = "\n".join(
            f"{'PASS' if v.passed else 'FAIL'} {v.kind.value}: {v.sentence}"
            for v in scenario.all_verdicts
        )
    ET.indent(suite)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
