"""``metrics.prom``: the run's figures as OpenMetrics text, and the optional push.

Gauges per scenario (RTO, RPO and their targets, lost writes, pass/fail, errored: an
errored scenario has only those two), per scenario, flow and phase (availability
ratio, latency quantiles in seconds), and per control (evidenced, with a passing
scenario of this run, or not). The push goes only to a Pushgateway URL the user gave,
grouped by ``job=odoo_resilience`` and the run id; Pushgateway's text parser takes the
OpenMetrics ``# UNIT``/``# EOF`` lines as comments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from urllib.parse import quote

import httpx

from harness.core.verdict import VerdictKind
from harness.evidence.model import (
    ErroredScenario,
    EvidenceError,
    ScenarioOutcome,
    ScenarioRecord,
)

PREFIX = "odoo_resilience_"
PUSH_TIMEOUT_S = 10.0


class MetricsPushFailed(EvidenceError):
    """The Pushgateway the user named did not take the run's metrics."""


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: Sequence[tuple[str, str]]) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


class _Family:
    def __init__(self, name: str, unit: str, help_text: str) -> None:
        self.name = PREFIX + name
        self.unit = unit
        self.help = help_text
        self.samples: list[str] = []

    def add(self, labels: Sequence[tuple[str, str]], value: float | None) -> None:
        if value is not None:
            self.samples.append(f"{self.name}{_labels(labels)} {_number(value)}")

    def text(self) -> list[str]:
        head = [f"# TYPE {self.name} gauge"]
        if self.unit:
            head.append(f"# UNIT {self.name} {self.unit}")
        head.append(f"# HELP {self.name} {self.help}")
        return head + self.samples


def openmetrics_text(
    run_id: str, scenarios: Sequence[ScenarioRecord], controls: Sequence[tuple[str, bool]]
) -> str:
    """``controls`` is (control id, evidenced with a passing scenario of this run)."""
    passed = _Family("scenario_passed", "", "1 when every verdict of the scenario passed")
    errored = _Family("scenario_errored", "", "1 when the scenario raised before it was judged")
    rto = _Family("rto_seconds", "seconds", "measured recovery time (t_rec - t_inject)")
    rto_target = _Family("rto_target_seconds", "seconds", "declared recovery time objective")
    rpo = _Family("rpo_seconds", "seconds", "measured data-loss window from the write ledger")
    rpo_target = _Family("rpo_target_seconds", "seconds", "declared recovery point objective")
    lost = _Family("lost_writes", "", "acknowledged writes absent after recovery")
    availability = _Family("slo_availability_ratio", "ratio", "share of OK probes per phase")
    latency = _Family("slo_latency_seconds", "seconds", "latency quantile of OK probes per phase")
    control = _Family(
        "control_evidenced",
        "",
        "1 when the control is evidenced with a passing scenario of this run",
    )
    for scenario in scenarios:
        base = (("run_id", run_id), ("scenario", scenario.scenario), ("family", scenario.family))
        passed.add(base, 1.0 if scenario.passed else 0.0)
        errored.add(base, 1.0 if scenario.outcome is ScenarioOutcome.ERRORED else 0.0)
        if isinstance(scenario, ErroredScenario):
            continue
        for verdict in scenario.all_verdicts:
            if verdict.kind is VerdictKind.RTO:
                rto.add(base, verdict.measured)
                rto_target.add(base, verdict.target)
            elif verdict.kind is VerdictKind.RPO:
                rpo.add(base, verdict.measured)
                rpo_target.add(base, verdict.target)
        ledger = scenario.verdicts.ledger
        if ledger is not None:
            lost.add(base, float(len(ledger.lost)))
        for figures in scenario.verdicts.slo:
            where = (*base, ("flow", figures.flow), ("phase", figures.phase.value))
            if figures.availability_pct is not None:
                availability.add(where, figures.availability_pct / 100)
            for quantile, value in (
                ("0.5", figures.p50_ms),
                ("0.95", figures.p95_ms),
                ("0.99", figures.p99_ms),
            ):
                latency.add(
                    (*where, ("quantile", quantile)), None if value is None else value / 1e3
                )
    for control_id, evidenced in controls:
        control.add((("run_id", run_id), ("control", control_id)), 1.0 if evidenced else 0.0)
    lines: list[str] = []
    for family in (
        passed,
        errored,
        rto,
        rto_target,
        rpo,
        rpo_target,
        lost,
        availability,
        latency,
        control,
    ):
        lines.extend(family.text())
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def push(url: str, run_id: str, text: str) -> None:
    """PUT the metrics to ``url`` (a Pushgateway), replacing this run's group."""
    target = f"{url.rstrip('/')}/metrics/job/odoo_resilience/run_id/{quote(run_id, safe='')}"
    try:
        with httpx.Client(timeout=PUSH_TIMEOUT_S, trust_env=False) as client:
            response = client.put(
                target,
                content=text.encode("utf-8"),
                headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
            )
    except httpx.HTTPError as exc:
        raise MetricsPushFailed(
            f"expected the Pushgateway at {url} to take the metrics, saw "
            f"{type(exc).__name__}: {exc}; check the URL and that it is up (the bundle itself "
            "is complete)"
        ) from exc
    if response.status_code >= 300:
        raise MetricsPushFailed(
            f"expected the Pushgateway at {url} to answer 2xx to PUT {target}, saw "
            f"{response.status_code}: {response.text[:200]}; check the URL (the bundle itself "
            "is complete)"
        )
