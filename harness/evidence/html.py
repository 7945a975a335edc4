"""``report.html``: the run for a person, in one self-contained file.

No request leaves the file: CSS is inline, charts are inline SVG, there are no fonts or
scripts, the only links are in-page anchors and relative links to the bundle's own
files (each scenario's ``ledger.csv``, ``load.json`` and Locust's own report), and a
Content-Security-Policy of ``default-src 'none'`` makes the browser refuse any request a
future edit might add. Sections: the go / no-go summary (per control and per scenario:
passed, failed or errored), then per judged scenario the verdicts, RTO and RPO against
their targets with the recovery instants, the charts (the warehouse load's beside the
probes'), SLO figures per phase, the warehouse load's figures per flow and phase
(``harness.evidence.load``), the ledger, the abort and
landed-check facts, the RTO floor, the infrastructure telemetry (charts, figures per
series, failed reads), the component logs of the scenario; per errored scenario the
exception and its traceback; last the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.core.ledger import LedgerReport, WriteOrigin
from harness.core.recovery import RecoveryReport
from harness.core.timeline import Timeline
from harness.core.verdict import VerdictKind
from harness.evidence import charts
from harness.evidence.controls import ControlStatus
from harness.evidence.load import LOAD_JSON, LoadFigures, file_path, load_report, locust_names
from harness.evidence.model import (
    LEDGER_CSV,
    ErroredScenario,
    RunManifest,
    ScenarioEvidence,
    ScenarioOutcome,
    ScenarioRecord,
    WarehouseLoad,
    scenario_folder,
    utc_text,
)
from harness.telemetry import Gap, Metric, Telemetry

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d1d1d;max-width:1100px}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top;font-size:.92em}th{background:#f3f3f3}
.go{background:#1e7b34;color:#fff;padding:.4em .8em;display:inline-block;font-size:1.4em}
.nogo{background:#b3261e;color:#fff;padding:.4em .8em;display:inline-block;font-size:1.4em}
.pass{color:#1e7b34;font-weight:bold}.fail{color:#b3261e;font-weight:bold}
.flag{color:#9a5b00;font-weight:bold}pre{background:#f6f6f6;padding:.5em;overflow:auto;
max-height:20em;font-size:.85em}ul.verdicts li{margin:.2em 0}.chart{display:block;margin:.5em 0}
"""
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _mark(passed: bool, yes: str = "PASS", no: str = "FAIL") -> str:
    return f'<span class="pass">{yes}</span>' if passed else f'<span class="fail">{no}</span>'


def _outcome(scenario: ScenarioRecord) -> str:
    if scenario.outcome is ScenarioOutcome.ERRORED:
        return '<span class="fail">ERROR</span>'
    return _mark(scenario.passed)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    header = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _target_rows(scenario: ScenarioEvidence) -> list[list[str]]:
    rows: list[list[str]] = []
    for verdict in scenario.verdicts.verdicts:
        if verdict.kind in (VerdictKind.RTO, VerdictKind.RPO):
            target = "-" if verdict.target is None else f"{verdict.target:g} {verdict.unit}"
            rows.append(
                [
                    verdict.kind.value.upper(),
                    _seconds(verdict.measured),
                    escape(target),
                    _mark(verdict.passed),
                ]
            )
    return rows


def _instants(report: RecoveryReport) -> str:
    def since(t_ns: int | None) -> str:
        return "-" if t_ns is None else f"+{(t_ns - report.t_inject_ns) / 1e9:,.1f} s"

    rows = [
        ["t_detect (first failed probe)", since(report.t_detect_ns)],
        ["t_failover (DB timeline switch)", since(report.t_failover_ns)],
        ["t_reconnect (app answers again)", since(report.t_app_reconnect_ns)],
        ["t_rec (steady for the stability period)", since(report.t_rec_ns)],
        ["revert", since(report.t_revert_ns)],
        ["total outage", f"{report.outage_ns / 1e9:,.1f} s"],
    ]
    held = report.holdout
    if held is not None:
        rows.append(
            ["critical flow steady last", f"{escape(held.flow)} {since(held.steady_from_ns)}"]
        )
    return _table(["instant (after injection)", "value"], rows)


def _telemetry(telemetry: Telemetry, timeline: Timeline) -> str:
    """Figures per metric and series, then the failed reads per source."""
    rows = [
        [
            escape(metric.value),
            escape(name or "-"),
            f"{len(points):,}",
            f"{min(v for _, v in points):,.0f}",
            f"{max(v for _, v in points):,.0f}",
            f"{points[-1][1]:,.0f}",
        ]
        for metric in Metric
        for name, points in telemetry.series(metric).items()
    ]
    parts = [
        f"<p>Sampled every {telemetry.interval_s:g} s: {len(telemetry.readings):,} readings, "
        f"{len(telemetry.gaps):,} failed reads.</p>"
    ]
    if rows:
        parts.append(_table(["metric", "series", "readings", "min", "max", "last"], rows))
    by_source: dict[str, list[Gap]] = {}
    for gap in telemetry.gaps:
        by_source.setdefault(gap.source.value, []).append(gap)
    gap_rows = []
    for source, gaps in sorted(by_source.items()):
        # Each error once: how often, and the first message it came with.
        first: dict[str, Gap] = {}
        for gap in gaps:
            first.setdefault(gap.error, gap)
        errors = "; ".join(
            f"{error} x{sum(g.error == error for g in gaps)}: {gap.detail}"
            for error, gap in sorted(first.items())
        )
        gap_rows.append(
            [
                escape(source),
                f"{len(gaps):,}",
                escape(timeline.clock(gaps[0].t_ns)),
                escape(timeline.clock(gaps[-1].t_ns)),
                escape(errors),
            ]
        )
    if gap_rows:
        parts.append('<p class="flag">Failed reads (gaps in the charts):</p>')
        parts.append(_table(["source", "failed reads", "first", "last", "errors"], gap_rows))
    return "\n".join(parts)


def _exit(code: int | None) -> str:
    if code is None:
        return "Locust's exit status is unknown"
    if code < 0:
        return f"Locust was killed by signal {-code}"
    return f"Locust exited with status {code}"


def _load(scenario: ScenarioEvidence, load: WarehouseLoad) -> str:
    """The load's pace, how Locust ended, its files, and its figures per flow and phase."""
    report = load_report(load, scenario.timeline, scenario.verdicts.observed_until_ns)
    folder = scenario_folder(scenario.scenario)
    links = ", ".join(
        f'<a href="{escape(f"{folder}/{file_path(name)}")}">{escape(name)}</a>'
        for name in locust_names(load)
    )
    parts = [
        "<h3>Warehouse load</h3>",
        f"<p>Profile <b>{escape(load.profile)}</b>: target {load.target_rps:g} req/s, floor "
        f"{load.floor_rps:g} req/s (the steady state needs that many OK answers a second); "
        f"{load.writes:,} keyed writes; {escape(_exit(load.exit_code))}. "
        f'Figures: <a href="{escape(f"{folder}/{LOAD_JSON}")}">{LOAD_JSON}</a>; Locust\'s own '
        f"report: {links or 'none was written'}.</p>",
    ]
    if load.ended is not None:
        parts.append(f'<p class="fail">{escape(load.ended)}</p>')

    def row(figures: LoadFigures, flow: str) -> list[str]:
        rate = figures.throughput_rps
        return [
            flow,
            escape(figures.phase.value),
            f"{figures.requests:,}",
            "-" if rate is None else f"{rate:,.1f} req/s",
            f"{figures.failures:,}",
            _ms(figures.p95_ms),
        ]

    rows = [row(f, "<b>all flows</b>") for f in report.all_flows]
    rows += [row(f, escape(f.flow)) for f in report.per_flow]
    parts.append(
        _table(["flow", "phase", "requests", "throughput (OK)", "failures", "p95 (OK)"], rows)
    )
    return "\n".join(parts)


def _acknowledged(ledger: LedgerReport) -> str:
    """The acknowledged writes, per origin when the warehouse load wrote too."""
    if WriteOrigin.LOAD not in ledger.acked_by:
        return f"{ledger.acked:,}"
    by = ", ".join(f"{n:,} {o.value}" for o in WriteOrigin if (n := ledger.acked_by.get(o)))
    return f"{ledger.acked:,} ({by})"


def _errored(scenario: ErroredScenario) -> str:
    return "\n".join(
        [
            f'<h2 id="s-{escape(scenario.scenario)}">{escape(scenario.scenario)} '
            f"{_outcome(scenario)}</h2>",
            f"<p>family <b>{escape(scenario.family)}</b>; controls "
            f"{escape(', '.join(scenario.controls) or 'none')}; "
            f"{escape(utc_text(scenario.started_at))} to {escape(utc_text(scenario.ended_at))}"
            "</p>",
            f'<p class="fail">{escape(scenario.sentence)}</p>',
            "<p>It raised before it could be judged: no verdict says how the stack did.</p>",
            f"<details><summary>traceback</summary><pre>{escape(scenario.trace or '-')}</pre>"
            "</details>",
        ]
    )


def _scenario(scenario: ScenarioEvidence) -> str:
    parts = [
        f'<h2 id="s-{escape(scenario.scenario)}">{escape(scenario.scenario)} '
        f"{_outcome(scenario)}</h2>",
        f"<p>family <b>{escape(scenario.family)}</b>; fault "
        f"<b>{escape(scenario.fault or 'none')}</b>; controls "
        f"{escape(', '.join(scenario.controls) or 'none')}; "
        f"{escape(utc_text(scenario.started_at))} to {escape(utc_text(scenario.ended_at))}</p>",
    ]
    if scenario.abort_reason is not None:
        parts.append(f'<p class="fail">Aborted: {escape(scenario.abort_reason)}</p>')
    parts.append('<h3>Verdicts</h3><ul class="verdicts">')
    parts.extend(
        f"<li>{_mark(v.passed)} {escape(v.kind.value)}: {escape(v.sentence)}</li>"
        for v in scenario.all_verdicts
    )
    parts.append("</ul>")
    targets = _target_rows(scenario)
    if targets:
        parts.append("<h3>RTO and RPO against targets</h3>")
        parts.append(_table(["figure", "measured", "target", "verdict"], targets))
    if scenario.verdicts.recovery is not None:
        parts.append(_instants(scenario.verdicts.recovery))
    parts.append("<h3>Charts</h3>")
    for _, svg in charts.scenario_charts(scenario):
        parts.append(svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1))
    slo_rows = [
        [
            escape(f.flow),
            escape(f.phase.value),
            f"{f.count:,}",
            "-" if f.availability_pct is None else f"{f.availability_pct:.2f} %",
            _ms(f.p50_ms),
            _ms(f.p95_ms),
            _ms(f.p99_ms),
            _mark(f.compliant, "met", "missed"),
        ]
        for f in scenario.verdicts.slo
    ]
    if slo_rows:
        parts.append("<h3>SLO per flow and phase</h3>")
        parts.append(
            _table(["flow", "phase", "samples", "availability", "p50", "p95", "p99", ""], slo_rows)
        )
    if scenario.load is not None:
        parts.append(_load(scenario, scenario.load))
    ledger = scenario.verdicts.ledger
    if ledger is not None:
        parts.append("<h3>Write ledger</h3>")
        parts.append(
            _table(
                ["written", "acknowledged", "lost", "unknown (present/absent)", "RPO", "integrity"],
                [
                    [
                        f"{ledger.written:,}",
                        _acknowledged(ledger),
                        f"{len(ledger.lost):,}",
                        f"{len(ledger.unknown_present):,}/{len(ledger.unknown_absent):,}",
                        f"{ledger.rpo_ns / 1e9:,.1f} s",
                        _mark(ledger.integrity_violations == 0, "holds", "violated"),
                    ]
                ],
            )
        )
    if scenario.writes is not None:
        href = escape(f"{scenario_folder(scenario.scenario)}/{LEDGER_CSV}")
        parts.append(
            f"<p>Every write ({len(scenario.writes):,}) with its instants, outcome, copies in "
            f'the database and through the app, and class: <a href="{href}">{LEDGER_CSV}</a></p>'
        )
    facts = [f"<li>landed: {escape(s)}</li>" for s in scenario.landed]
    if not scenario.landed and scenario.fault is not None:
        facts.append('<li class="fail">no landed check was recorded</li>')
    if facts:
        parts.append("<h3>Landed check</h3><ul>" + "".join(facts) + "</ul>")
    if scenario.rto_floor:
        parts.append("<h3>RTO floor</h3><ul>")
        parts.extend(f"<li>{escape(line)}</li>" for line in scenario.rto_floor)
        parts.append("</ul>")
    if scenario.telemetry is not None:
        parts.append("<h3>Infrastructure telemetry</h3>")
        parts.extend(
            svg.replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
            for _, svg in charts.telemetry_charts(scenario)
        )
        parts.append(_telemetry(scenario.telemetry, scenario.timeline))
    if scenario.logs:
        parts.append("<h3>Component logs (written during the scenario)</h3>")
        parts.extend(
            f"<details><summary>{escape(name)}</summary>"
            f"<pre>{escape(text or '(nothing logged during the scenario)')}</pre></details>"
            for name, text in sorted(scenario.logs.items())
        )
    return "\n".join(parts)


def _why(scenario: ScenarioRecord) -> str:
    if isinstance(scenario, ErroredScenario):
        return scenario.sentence
    return "; ".join(v.sentence for v in scenario.failed) or "all verdicts passed"


def report_html(
    manifest: RunManifest,
    scenarios: Sequence[ScenarioRecord],
    controls: Sequence[ControlStatus],
) -> str:
    go = bool(scenarios) and all(s.passed for s in scenarios)
    failed = sum(s.outcome is ScenarioOutcome.FAILED for s in scenarios)
    errored = sum(s.outcome is ScenarioOutcome.ERRORED for s in scenarios)
    verdict = (
        '<p class="go">GO</p>'
        if go
        else f'<p class="nogo">NO-GO</p><p>{failed} of {len(scenarios)} scenarios failed, '
        f"{errored} errored{'' if scenarios else ' (no scenario ran)'}.</p>"
    )
    scenario_rows = [
        [
            f'<a href="#s-{escape(s.scenario)}">{escape(s.scenario)}</a>',
            escape(s.family),
            _outcome(s),
            escape(_why(s)),
        ]
        for s in scenarios
    ]
    control_rows = [
        [
            escape(c.control_id),
            escape(c.description),
            '<span class="pass">evidenced</span>'
            if not c.flagged
            else f'<span class="flag">{escape(c.state.value)}</span>',
            escape(c.sentence),
        ]
        for c in controls
    ]
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>odoo-resilience run {escape(manifest.run_id)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>odoo-resilience run {escape(manifest.run_id)}</h1>",
        verdict,
        "<h2>Scenarios</h2>",
        _table(["scenario", "family", "outcome", "failing verdicts or error"], scenario_rows),
        "<h2>Controls</h2>",
        _table(["control", "description", "state", "why"], control_rows)
        if control_rows
        else "<p>No control is declared in the service levels.</p>",
        *(_errored(s) if isinstance(s, ErroredScenario) else _scenario(s) for s in scenarios),
        "<h2>Environment</h2>",
        _table(["", ""], [[escape(name), escape(value)] for name, value in manifest.properties()]),
        "</body></html>",
    ]
    return "\n".join(body) + "\n"
