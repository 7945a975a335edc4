"""Inline SVG charts of one scenario: latency percentiles and availability over time,
the warehouse load's requests and failures per second, and the infrastructure
telemetry sampled meanwhile.

Samples are grouped into buckets by start time (1 s, widened so a chart never holds
more than ``MAX_BUCKETS``); per bucket the chart shows p50/p95/p99 of the OK samples'
latency (nearest rank, as the core computes them) and the share of OK samples. The
load chart counts the load's requests per bucket the same way (by start), as requests
and failures per second, with its target and floor rates drawn across. Telemetry charts
share the axis and show each series' highest value per bucket (requests as a rate),
with the source's gaps (failed reads) ticked in red on the time axis. Phases are shaded
and the recovery instants (inject, detect, failover, reconnect, recovered) marked, so a
reader sees the RTO on the same axis as the samples behind it. The SVG is
self-contained: no fonts, scripts or links.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from harness.core.samples import FlowSamples, Outcome
from harness.core.timeline import EventKind, Phase
from harness.evidence.model import ScenarioEvidence, WarehouseLoad
from harness.telemetry import Gap, Metric, Points, Telemetry

NS_PER_S = 1_000_000_000
MAX_BUCKETS = 600
WIDTH, HEIGHT = 760, 230
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 24, 34

PHASE_FILL = {
    Phase.BASELINE: "#e8f1fb",
    Phase.FAULT: "#fde2e1",
    Phase.RECOVERY: "#fff1d6",
    Phase.AFTER: "#e3f5e6",
}
SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@dataclass(frozen=True, slots=True)
class Marker:
    label: str
    t_ns: int


@dataclass(frozen=True, slots=True)
class Bucket:
    t_from_ns: int
    count: int
    ok: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def availability_pct(self) -> float | None:
        return None if self.count == 0 else 100.0 * self.ok / self.count


def _rank(values: Sequence[int], pct: int) -> float | None:
    if not values:
        return None
    return values[max(0, math.ceil(pct / 100 * len(values)) - 1)] / 1e6


def buckets(samples: FlowSamples, t0_ns: int, t1_ns: int, width_ns: int) -> list[Bucket]:
    count = max(1, math.ceil((t1_ns - t0_ns) / width_ns))
    latencies: list[list[int]] = [[] for _ in range(count)]
    totals = [0] * count
    ok_code = Outcome.OK.value
    for start, end, outcome in zip(samples.starts, samples.ends, samples.outcomes, strict=True):
        index = (start - t0_ns) // width_ns
        if 0 <= index < count:
            totals[index] += 1
            if outcome == ok_code:
                latencies[index].append(end - start)
    result: list[Bucket] = []
    for index in range(count):
        values = sorted(latencies[index])
        result.append(
            Bucket(
                t0_ns + index * width_ns,
                totals[index],
                len(values),
                _rank(values, 50),
                _rank(values, 95),
                _rank(values, 99),
            )
        )
    return result


def markers(evidence: ScenarioEvidence) -> tuple[Marker, ...]:
    report = evidence.verdicts.recovery
    found: list[Marker] = []
    if report is not None:
        for label, t_ns in (
            ("inject", report.t_inject_ns),
            ("t_detect", report.t_detect_ns),
            ("t_failover", report.t_failover_ns),
            ("t_reconnect", report.t_app_reconnect_ns),
            ("t_rec", report.t_rec_ns),
            ("revert", report.t_revert_ns),
        ):
            if t_ns is not None:
                found.append(Marker(label, t_ns))
    else:
        found.extend(
            Marker(event.kind.value, event.t_ns)
            for event in evidence.timeline.events
            if event.kind in (EventKind.FAULT_INJECTED, EventKind.FAULT_REVERTED)
        )
    found.extend(Marker("abort", e.t_ns) for e in evidence.timeline.of_kind(EventKind.ABORT))
    return tuple(found)


@dataclass(frozen=True)
class Frame:
    """The time axis shared by every chart of one scenario."""

    t0_ns: int
    t1_ns: int
    bucket_ns: int

    @classmethod
    def of(cls, evidence: ScenarioEvidence) -> Frame:
        events = evidence.timeline.events
        starts = [s.starts[0] for s in evidence.flows.values() if len(s)]
        ends = [max(s.ends) for s in evidence.flows.values() if len(s)]
        t0 = min([*starts, *(e.t_ns for e in events[:1])], default=0)
        t1 = max([*ends, evidence.verdicts.observed_until_ns, t0 + NS_PER_S])
        span = t1 - t0
        bucket = max(NS_PER_S, math.ceil(span / MAX_BUCKETS / NS_PER_S) * NS_PER_S)
        return cls(t0, t1, bucket)

    def x(self, t_ns: int) -> float:
        share = (t_ns - self.t0_ns) / max(1, self.t1_ns - self.t0_ns)
        return LEFT + min(1.0, max(0.0, share)) * (WIDTH - LEFT - RIGHT)


def _y(value: float, top: float) -> float:
    return TOP + (1 - min(value, top) / top) * (HEIGHT - TOP - BOTTOM)


def _nice_top(values: Sequence[float]) -> float:
    peak = max(values, default=1.0)
    if peak <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(peak))
    for step in (1, 2, 5, 10):
        if peak <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)


def _frame_svg(evidence: ScenarioEvidence, frame: Frame, title: str, y_label: str) -> list[str]:
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    bottom = HEIGHT - BOTTOM
    for window in evidence.timeline.phases(frame.t1_ns):
        x0, x1 = frame.x(window.t_from_ns), frame.x(window.t_to_ns)
        parts.append(
            f'<rect class="phase phase-{window.phase.value}" x="{x0:.1f}" y="{TOP}" '
            f'width="{max(0.0, x1 - x0):.1f}" height="{bottom - TOP}" '
            f'fill="{PHASE_FILL[window.phase]}"/>'
            f'<text x="{x0 + 3:.1f}" y="{TOP + 11}" font-size="10" fill="#555">'
            f"{window.phase.value}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#333"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#333"/>'
        f'<text x="{LEFT}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" font-size="10" text-anchor="end">'
        f"seconds since start ({frame.bucket_ns // NS_PER_S} s buckets)</text>"
        f'<text x="4" y="{TOP + 10}" font-size="10">{escape(y_label)}</text>'
    )
    span_s = (frame.t1_ns - frame.t0_ns) / NS_PER_S
    step = _nice_top([span_s / 6])
    tick = 0.0
    while tick <= span_s:
        x = frame.x(frame.t0_ns + round(tick * NS_PER_S))
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 12}" font-size="9" text-anchor="middle">'
            f"{tick:g}</text>"
        )
        tick += step
    return parts


def _markers_svg(evidence: ScenarioEvidence, frame: Frame) -> list[str]:
    parts: list[str] = []
    bottom = HEIGHT - BOTTOM
    for index, marker in enumerate(markers(evidence)):
        x = frame.x(marker.t_ns)
        parts.append(
            f'<line class="marker marker-{escape(marker.label)}" x1="{x:.1f}" y1="{TOP}" '
            f'x2="{x:.1f}" y2="{bottom}" stroke="#444" stroke-dasharray="3,2"/>'
            f'<text x="{x + 2:.1f}" y="{TOP + 22 + 10 * (index % 4)}" font-size="9" '
            f'fill="#222">{escape(marker.label)}</text>'
        )
    return parts


def _polylines(
    frame: Frame, points: Sequence[tuple[int, float | None]], top: float, colour: str, name: str
) -> list[str]:
    """One polyline per run of buckets that have a value (gaps stay gaps)."""
    runs: list[list[str]] = [[]]
    for t_ns, value in points:
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        x = frame.x(t_ns + frame.bucket_ns // 2)
        runs[-1].append(f"{x:.1f},{_y(value, top):.1f}")
    return [
        f'<polyline class="series" data-series="{escape(name)}" fill="none" '
        f'stroke="{colour}" stroke-width="1.5" points="{" ".join(run)}"/>'
        for run in runs
        if run
    ]


def _legend(names: Sequence[str]) -> str:
    # Each entry as wide as its name (about 6 px a character at this size), right-aligned.
    widths = [max(60, 24 + 6 * len(name)) for name in names]
    items = []
    for index, name in enumerate(names):
        x = WIDTH - RIGHT - sum(widths[index:])
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        items.append(
            f'<rect x="{x}" y="6" width="10" height="3" fill="{colour}"/>'
            f'<text x="{x + 14}" y="11" font-size="10">{escape(name)}</text>'
        )
    return "".join(items)


def latency_svg(evidence: ScenarioEvidence, flow: str) -> str:
    """p50/p95/p99 latency (ms) of one flow over time."""
    frame = Frame.of(evidence)
    rows = buckets(evidence.flows[flow], frame.t0_ns, frame.t1_ns, frame.bucket_ns)
    top = _nice_top([b.p99_ms for b in rows if b.p99_ms is not None])
    parts = _frame_svg(evidence, frame, f"{flow}: latency of OK probes", f"ms (max {top:g})")
    series: tuple[tuple[str, list[float | None]], ...] = (
        ("p50", [b.p50_ms for b in rows]),
        ("p95", [b.p95_ms for b in rows]),
        ("p99", [b.p99_ms for b in rows]),
    )
    for index, (name, values) in enumerate(series):
        points = [(b.t_from_ns, v) for b, v in zip(rows, values, strict=True)]
        parts.extend(_polylines(frame, points, top, SERIES_COLOURS[index], name))
    parts.append(_legend(["p50", "p95", "p99"]))
    parts.extend(_markers_svg(evidence, frame))
    parts.append("</svg>")
    return "".join(parts)


def availability_svg(evidence: ScenarioEvidence) -> str:
    """Share of OK probes (%) per flow over time."""
    frame = Frame.of(evidence)
    parts = _frame_svg(evidence, frame, "availability per flow", "% OK")
    names = sorted(evidence.flows)
    for index, flow in enumerate(names):
        rows = buckets(evidence.flows[flow], frame.t0_ns, frame.t1_ns, frame.bucket_ns)
        points = [(b.t_from_ns, b.availability_pct) for b in rows]
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        parts.extend(_polylines(frame, points, 100.0, colour, flow))
    parts.append(_legend(names))
    parts.extend(_markers_svg(evidence, frame))
    parts.append("</svg>")
    return "".join(parts)


def load_rates(load: WarehouseLoad, frame: Frame) -> list[tuple[int, float, float]]:
    """Per bucket of the frame: its start, the load's requests/s and failures/s in it."""
    seconds = frame.bucket_ns / NS_PER_S
    return [
        (b.t_from_ns, b.count / seconds, (b.count - b.ok) / seconds)
        for b in buckets(load.requests, frame.t0_ns, frame.t1_ns, frame.bucket_ns)
    ]


def _level_svg(frame: Frame, value: float, top: float, label: str) -> str:
    y = _y(value, top)
    return (
        f'<line class="level level-{label}" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" '
        f'y2="{y:.1f}" stroke="#777" stroke-dasharray="6,3"/>'
        f'<text x="{WIDTH - RIGHT - 2}" y="{y - 2:.1f}" font-size="9" text-anchor="end" '
        f'fill="#555">{label} {value:g}</text>'
    )


def load_svg(evidence: ScenarioEvidence, load: WarehouseLoad) -> str:
    """The warehouse load's requests and failures per second over time."""
    frame = Frame.of(evidence)
    rows = load_rates(load, frame)
    top = _nice_top([load.target_rps, *(requests for _, requests, _ in rows)])
    title = f"warehouse load ({load.profile}): requests and failures per second"
    parts = _frame_svg(evidence, frame, title, f"req/s (max {top:g})")
    parts.append(_level_svg(frame, load.target_rps, top, "target"))
    parts.append(_level_svg(frame, load.floor_rps, top, "floor"))
    series = (
        ("requests/s", [(t_ns, requests) for t_ns, requests, _ in rows]),
        ("failures/s", [(t_ns, failures) for t_ns, _, failures in rows]),
    )
    for index, (name, points) in enumerate(series):
        parts.extend(_polylines(frame, points, top, SERIES_COLOURS[index], name))
    parts.append(_legend([name for name, _ in series]))
    parts.extend(_markers_svg(evidence, frame))
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class TelemetryChart:
    name: str
    title: str
    metric: Metric
    unit: str
    divisor: float = 1.0
    rate: bool = False
    """Chart the counter's per-second increase instead of its value."""


TELEMETRY_CHARTS = (
    TelemetryChart(
        "telemetry-replication-lag",
        "DB replication lag per replica",
        Metric.REPLICATION_LAG,
        "KiB",
        1024.0,
    ),
    TelemetryChart(
        "telemetry-db-connections",
        "DB connections by state",
        Metric.DB_CONNECTIONS,
        "connections",
    ),
    TelemetryChart(
        "telemetry-redis-memory", "Redis used memory", Metric.REDIS_MEMORY, "MiB", 1024.0**2
    ),
    TelemetryChart(
        "telemetry-requests",
        "Traefik requests per service and status code",
        Metric.REQUESTS,
        "requests/s",
        rate=True,
    ),
)


def _peaks(points: Points, frame: Frame, divisor: float) -> list[tuple[int, float | None]]:
    """The highest value in each bucket of the frame (None where nothing was read)."""
    count = max(1, math.ceil((frame.t1_ns - frame.t0_ns) / frame.bucket_ns))
    peaks: list[float | None] = [None] * count
    for t_ns, value in points:
        index = (t_ns - frame.t0_ns) // frame.bucket_ns
        if 0 <= index < count:
            current = peaks[index]
            peaks[index] = value / divisor if current is None else max(current, value / divisor)
    return [(frame.t0_ns + i * frame.bucket_ns, peak) for i, peak in enumerate(peaks)]


def _gaps_svg(frame: Frame, gaps: Sequence[Gap]) -> list[str]:
    bottom = HEIGHT - BOTTOM
    return [
        f'<line class="gap gap-{gap.source.value}" x1="{frame.x(gap.t_ns):.1f}" '
        f'y1="{bottom - 7}" x2="{frame.x(gap.t_ns):.1f}" y2="{bottom}" stroke="#b3261e" '
        'stroke-width="2"/>'
        for gap in gaps
    ]


def telemetry_svg(evidence: ScenarioEvidence, telemetry: Telemetry, chart: TelemetryChart) -> str:
    """One telemetry metric over time, a line per series, its source's gaps ticked."""
    frame = Frame.of(evidence)
    found = telemetry.rates(chart.metric) if chart.rate else telemetry.series(chart.metric)
    rows = {name: _peaks(points, frame, chart.divisor) for name, points in found.items()}
    top = _nice_top([v for row in rows.values() for _, v in row if v is not None])
    parts = _frame_svg(evidence, frame, chart.title, f"{chart.unit} (max {top:g})")
    for index, (name, points) in enumerate(rows.items()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        parts.extend(_polylines(frame, points, top, colour, name))
    parts.append(_legend(list(rows)))
    parts.extend(_gaps_svg(frame, [g for g in telemetry.gaps if g.source is chart.metric.source]))
    parts.extend(_markers_svg(evidence, frame))
    parts.append("</svg>")
    return "".join(parts)


def telemetry_charts(evidence: ScenarioEvidence) -> tuple[tuple[str, str], ...]:
    """``(name, svg)`` for every telemetry chart of a scenario (none when not sampled)."""
    telemetry = evidence.telemetry
    if telemetry is None:
        return ()
    return tuple((c.name, telemetry_svg(evidence, telemetry, c)) for c in TELEMETRY_CHARTS)


def scenario_charts(evidence: ScenarioEvidence) -> tuple[tuple[str, str], ...]:
    """``(name, svg)`` for every chart of a scenario: availability, the warehouse load's
    rates (when it ran one), then latency per flow."""
    charts = [("availability", availability_svg(evidence))]
    if evidence.load is not None:
        charts.append(("warehouse-load", load_svg(evidence, evidence.load)))
    charts.extend(
        (f"latency-{flow}", latency_svg(evidence, flow)) for flow in sorted(evidence.flows)
    )
    return tuple(charts)
