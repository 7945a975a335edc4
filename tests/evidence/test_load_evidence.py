"""The warehouse load in the evidence: Locust's files in the bundle (hashed) and in Allure,
``load.json`` and the report's table with the load's figures per flow and phase, its
chart, ``ledger.csv``'s origin column; a scenario without load renders as before.

The load is synthetic, its figures worked out by hand below. Phases of the synthetic
scenario: baseline [0, 60 s), fault [60, 75 s), recovery [75, 110 s), after [110, 150 s).

- ``pick``: a request every 500 ms from 0 to 149.5 s (300). Those started in [62, 70 s)
  fail (16, 5 ms each); the OK ones take 40 ms in the baseline (but the 8th, at 3.5 s:
  900 ms), 250 ms in the fault phase, 120 ms in the recovery, 40 ms after.
- ``receive``: a request every 2 s from 1 s to 149 s (75), 300 ms each, but those
  started at 61 and 63 s time out after 10 s, and the one started at 109 s takes 2 s: it
  straddles recovery and after, so it is counted in no phase (the probes' convention).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import pytest

from harness.core.ledger import WriteOrigin
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.evidence.chain import verify
from harness.evidence.charts import Frame, load_rates
from harness.evidence.model import ScenarioEvidence, WarehouseLoad
from harness.faults.base import Fault, FaultRuntime
from harness.levels import DEFAULT_SERVICE_LEVELS, FaultFamily, load_service_levels
from harness.scenario.evidence import scenario_evidence
from harness.scenario.runner import ScenarioSpec
from tests.evidence.synthetic import (
    DB_PASSWORD,
    MS,
    READ_BACK,
    S,
    finished_bundle,
    ledger_records,
    scenario,
    scenario_result,
)
from tests.support.chromium import rendered_offline

LEVELS = load_service_levels(DEFAULT_SERVICE_LEVELS)
NAME = "db-failover-primary-crash"
FOLDER = f"scenarios/{NAME}"
ENDED = "Locust exited with signal 9 before the scenario ended; see load/locust.log"


def _no_fault(runtime: FaultRuntime) -> Fault:
    raise AssertionError("these tests never inject")


def _pick() -> FlowSamples:
    series = SampleSeries("pick")
    for k in range(300):
        start = k * 500 * MS
        if 62 * S <= start < 70 * S:
            series.add(start, start + 5 * MS, Outcome.ERROR, "502 Bad Gateway")
            continue
        if start < 60 * S:
            latency = 900 if k == 7 else 40
        elif start < 75 * S:
            latency = 250
        elif start < 110 * S:
            latency = 120
        else:
            latency = 40
        series.add(start, start + latency * MS, Outcome.OK)
    return series.freeze()


def _receive() -> FlowSamples:
    series = SampleSeries("receive")
    for second in range(1, 150, 2):
        start = second * S
        if second in (61, 63):
            series.add(start, start + 10 * S, Outcome.TIMEOUT, "read timeout")
        else:
            series.add(start, start + (2_000 if second == 109 else 300) * MS, Outcome.OK)
    return series.freeze()


def _load(folder: Path) -> WarehouseLoad:
    """The load of one scenario, with three of Locust's files (its stats history absent,
    as when Locust is killed); its log holds the DB password."""
    folder.mkdir(parents=True)
    files = (
        folder / "locust.html",
        folder / "locust.log",
        folder / "locust_stats.csv",
    )
    files[0].write_text("<!DOCTYPE html><html><title>Locust</title><body>pick 300</body></html>")
    files[1].write_text(f"connecting to postgresql://odoo:{DB_PASSWORD}@db/odoo\n")
    files[2].write_text("Type,Name,Request Count,Failure Count\nPOST,pick,300,16\n")
    flows = {"pick": _pick(), "receive": _receive()}
    every = SampleSeries("all")
    for samples in flows.values():
        for start, end, outcome, detail in zip(
            samples.starts, samples.ends, samples.outcomes, samples.details, strict=True
        ):
            every.add(start, end, Outcome(outcome), detail)
    return WarehouseLoad(
        profile="background",
        target_rps=2.5,
        floor_rps=2.25,
        flows=flows,
        requests=every.freeze(),
        writes=10,
        files=files,
        started_ns=-5 * S,
        stopped_ns=150 * S,
        exit_code=-9,
        ended=ENDED,
    )


def _evidence(tmp_path: Path) -> ScenarioEvidence:
    """The synthetic scenario as the runner delivers it, under the load, 10 of its 100
    writes the load's, through the session's conversion to evidence."""
    spec = ScenarioSpec(NAME, FaultFamily.DB_FAILOVER, _no_fault)
    result = scenario_result(
        spec,
        scenario(NAME, load_writes=10),
        writes=ledger_records(load_writes=10),
        read_back=READ_BACK,
        load=_load(tmp_path / "run" / "load" / NAME),
    )
    return scenario_evidence(result, LEVELS)


def _bundle(tmp_path: Path) -> Path:
    without_load = scenario("node-loss-slow", family=FaultFamily.NODE_LOSS, sampled=False)
    return finished_bundle(tmp_path / "reports", scenarios=(_evidence(tmp_path), without_load))


def _section(html: str, scenario_name: str) -> str:
    """The report's section of one scenario (up to the next h2)."""
    start = html.index(f'<h2 id="s-{scenario_name}">')
    end = html.find("<h2", start + 1)
    return html[start:end]


def test_locust_files_are_in_the_bundle_scrubbed_and_hashed(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    folder = bundle / FOLDER / "load"
    assert sorted(p.name for p in folder.iterdir()) == [
        "locust.html",
        "locust.log",
        "locust_stats.csv",
    ]
    source = tmp_path / "run" / "load" / NAME
    for name in ("locust.html", "locust_stats.csv"):
        assert (folder / name).read_bytes() == (source / name).read_bytes(), name
    log = (folder / "locust.log").read_text()
    assert DB_PASSWORD not in log
    assert log == "connecting to postgresql://odoo:[REDACTED]@db/odoo\n"
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    for name in ("locust.html", "locust.log", "locust_stats.csv"):
        digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert f"{digest}  {FOLDER}/load/{name}" in sums, name
    load_json = bundle / FOLDER / "load.json"
    assert f"{hashlib.sha256(load_json.read_bytes()).hexdigest()}  {FOLDER}/load.json" in sums
    assert verify(bundle).ok
    stats = folder / "locust_stats.csv"
    stats.write_bytes(stats.read_bytes().replace(b"300,16", b"300,15"))
    assert verify(bundle).changed == (f"{FOLDER}/load/locust_stats.csv",)
    # The scenario without load has neither.
    assert not (bundle / "scenarios/node-loss-slow/load").exists()
    assert not (bundle / "scenarios/node-loss-slow/load.json").exists()


def _row(
    phase: str, window_s: tuple[int, int], requests: int, ok: int, p95: float
) -> dict[str, object]:
    t_from, t_to = window_s
    return {
        "phase": phase,
        "t_from_ns": t_from * S,
        "t_to_ns": t_to * S,
        "requests": requests,
        "ok": ok,
        "failures": requests - ok,
        "throughput_rps": ok / (t_to - t_from),
        "p95_ms": p95,
    }


def test_load_json_holds_the_figures_per_flow_and_phase(tmp_path: Path) -> None:
    figures = json.loads((_bundle(tmp_path) / FOLDER / "load.json").read_text())
    assert {k: v for k, v in figures.items() if k not in ("all_flows", "flows")} == {
        "profile": "background",
        "target_rps": 2.5,
        "floor_rps": 2.25,
        "writes": 10,
        "started_ns": -5 * S,
        "stopped_ns": 150 * S,
        "exit_code": -9,
        "ended": ENDED,
        "files": ["load/locust.html", "load/locust.log", "load/locust_stats.csv"],
    }
    # All flows: baseline 120 pick + 30 receive; p95 is the 143rd of 150 (119 x 40 ms,
    # 30 x 300 ms, 900 ms). Fault: 30 + 7, of which 16 + 2 failed; the 19th of 19 OK
    # (14 x 250 ms, 5 x 300 ms). Recovery: 70 + 17 (not the straddler), the 83rd of 87
    # (70 x 120 ms, 17 x 300 ms). After: 80 + 20, the 95th of 100 (80 x 40, 20 x 300).
    assert figures["all_flows"] == [
        _row("baseline", (0, 60), 150, 150, 300.0),
        _row("fault", (60, 75), 37, 19, 300.0),
        _row("recovery", (75, 110), 87, 87, 300.0),
        _row("after", (110, 150), 100, 100, 300.0),
    ]
    assert figures["all_flows"][1]["throughput_rps"] == 19 / 15
    # pick, baseline: the 114th of 120 OK answers is 40 ms; the one 900 ms is not p95.
    assert figures["flows"] == [
        {"flow": "pick"} | _row("baseline", (0, 60), 120, 120, 40.0),
        {"flow": "pick"} | _row("fault", (60, 75), 30, 14, 250.0),
        {"flow": "pick"} | _row("recovery", (75, 110), 70, 70, 120.0),
        {"flow": "pick"} | _row("after", (110, 150), 80, 80, 40.0),
        {"flow": "receive"} | _row("baseline", (0, 60), 30, 30, 300.0),
        {"flow": "receive"} | _row("fault", (60, 75), 7, 5, 300.0),
        # 18 started in the recovery; the one still running when it ended is in none.
        {"flow": "receive"} | _row("recovery", (75, 110), 17, 17, 300.0),
        {"flow": "receive"} | _row("after", (110, 150), 20, 20, 300.0),
    ]


def test_the_report_shows_the_load_table_and_chart_beside_the_probes(tmp_path: Path) -> None:
    html = (_bundle(tmp_path) / "report.html").read_text()
    section = _section(html, NAME)
    assert section.count("<h3>Warehouse load</h3>") == 1
    assert section.index("<h3>SLO per flow and phase</h3>") < section.index(
        "<h3>Warehouse load</h3>"
    )
    assert (
        "<p>Profile <b>background</b>: target 2.5 req/s, floor 2.25 req/s (the steady state "
        "needs that many OK answers a second); 10 keyed writes; Locust was killed by "
        f'signal 9. Figures: <a href="{FOLDER}/load.json">load.json</a>; '
        f'Locust\'s own report: <a href="{FOLDER}/load/locust.html">locust.html</a>, '
        f'<a href="{FOLDER}/load/locust.log">locust.log</a>, '
        f'<a href="{FOLDER}/load/locust_stats.csv">locust_stats.csv</a>.</p>'
    ) in section
    assert f'<p class="fail">{ENDED}</p>' in section
    table = section[section.index("<h3>Warehouse load</h3>") :]
    table = table[table.index("<table>") : table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    cells = [re.findall(r"<t[dh]>(.*?)</t[dh]>", row) for row in rows]
    assert cells == [
        ["flow", "phase", "requests", "throughput (OK)", "failures", "p95 (OK)"],
        ["<b>all flows</b>", "baseline", "150", "2.5 req/s", "0", "300 ms"],
        ["<b>all flows</b>", "fault", "37", "1.3 req/s", "18", "300 ms"],
        ["<b>all flows</b>", "recovery", "87", "2.5 req/s", "0", "300 ms"],
        ["<b>all flows</b>", "after", "100", "2.5 req/s", "0", "300 ms"],
        ["pick", "baseline", "120", "2.0 req/s", "0", "40 ms"],
        ["pick", "fault", "30", "0.9 req/s", "16", "250 ms"],
        ["pick", "recovery", "70", "2.0 req/s", "0", "120 ms"],
        ["pick", "after", "80", "2.0 req/s", "0", "40 ms"],
        ["receive", "baseline", "30", "0.5 req/s", "0", "300 ms"],
        ["receive", "fault", "7", "0.3 req/s", "2", "300 ms"],
        ["receive", "recovery", "17", "0.5 req/s", "0", "300 ms"],
        ["receive", "after", "20", "0.5 req/s", "0", "300 ms"],
    ]
    # The chart sits with the probes' charts (after availability, before latency), its
    # phases shaded and its target and floor drawn.
    charts = section[section.index("<h3>Charts</h3>") : section.index("<h3>SLO per flow")]
    title = "warehouse load (background): requests and failures per second"
    assert charts.index('aria-label="availability per flow"') < charts.index(
        f'aria-label="{title}"'
    )
    assert charts.index(f'aria-label="{title}"') < charts.index(
        'aria-label="reporting: latency of OK probes"'
    )
    load_chart = charts[charts.index(f'aria-label="{title}"') :]
    load_chart = load_chart[: load_chart.index("</svg>")]
    assert load_chart.count('class="phase phase-') == 4
    assert 'data-series="requests/s"' in load_chart
    assert 'data-series="failures/s"' in load_chart
    assert ">target 2.5</text>" in load_chart
    assert ">floor 2.25</text>" in load_chart
    # The RPO sentence and the ledger table count the load's writes apart.
    assert "0 of 90 probe and 10 load acknowledged writes lost" in section
    assert "<td>100 (90 probe, 10 load)</td>" in section


def test_the_load_chart_counts_requests_and_failures_per_second(tmp_path: Path) -> None:
    evidence = _evidence(tmp_path)
    assert evidence.load is not None
    frame = Frame.of(evidence)
    assert frame.bucket_ns == S
    rates = {
        t_ns // S: (requests, failures)
        for t_ns, requests, failures in load_rates(evidence.load, frame)
    }
    assert rates[0] == (2.0, 0.0)  # pick at 0 and 0.5 s
    assert rates[1] == (3.0, 0.0)  # pick at 1 and 1.5 s, receive at 1 s
    assert rates[61] == (3.0, 1.0)  # receive at 61 s timed out
    assert rates[62] == (2.0, 2.0)  # pick at 62 and 62.5 s failed
    assert rates[109] == (3.0, 0.0)  # the straddler counts in its second
    assert sum(requests for requests, _ in rates.values()) == 300 + 75
    assert sum(failures for _, failures in rates.values()) == 16 + 2


def test_allure_attaches_locust_html_and_csv_stats(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    results = bundle / "allure-results"
    (result,) = [
        r
        for r in (json.loads(p.read_text()) for p in results.glob("*-result.json"))
        if r["name"] == NAME
    ]
    attached = {a["name"]: a for a in result["attachments"]}
    assert attached["locust.html"]["type"] == "text/html"
    assert attached["locust_stats.csv"]["type"] == "text/csv"
    assert attached["locust.log"]["type"] == "text/plain"
    assert attached["load figures"]["type"] == "application/json"
    assert attached["warehouse-load"]["type"] == "image/svg+xml"
    for name in ("locust.html", "locust_stats.csv", "locust.log"):
        source = attached[name]["source"]
        assert source.endswith("." + name.rpartition(".")[2])
        assert (results / source).read_bytes() == (bundle / FOLDER / "load" / name).read_bytes()
    stats_csv = (results / attached["locust_stats.csv"]["source"]).read_text()
    assert list(csv.reader(stats_csv.splitlines()))[1] == ["POST", "pick", "300", "16"]
    figures = json.loads((results / attached["load figures"]["source"]).read_text())
    assert figures == json.loads((bundle / FOLDER / "load.json").read_text())
    (other,) = [
        r
        for r in (json.loads(p.read_text()) for p in results.glob("*-result.json"))
        if r["name"] == "node-loss-slow"
    ]
    assert not {"locust.html", "load figures", "warehouse-load"} & {
        a["name"] for a in other["attachments"]
    }


def test_ledger_csv_says_who_made_each_write(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    ledger = (bundle / FOLDER / "ledger.csv").read_text()
    rows = list(csv.DictReader(ledger.splitlines()))
    origins = [row["origin"] for row in rows]
    assert origins == ["probe"] * 90 + ["load"] * 10
    assert rows[95]["key"] == "so-95"
    assert WriteOrigin(rows[95]["origin"]) is WriteOrigin.LOAD
    verdicts = json.loads((bundle / FOLDER / "verdicts.json").read_text())
    assert verdicts["ledger"]["acked_by"] == {"probe": 90, "load": 10}


def test_a_scenario_without_load_renders_as_before(tmp_path: Path) -> None:
    html = (_bundle(tmp_path) / "report.html").read_text()
    section = _section(html, "node-loss-slow")
    assert "Warehouse load" not in section
    assert "warehouse load (" not in section
    assert section.count("<svg") == 3  # availability and latency of its 2 flows
    assert "<h3>SLO per flow and phase</h3>" in section
    # Its ledger has no load write: the acknowledged writes are one figure.
    assert "<td>100</td>" in section


@pytest.mark.slow
def test_the_report_with_load_renders_offline_in_chromium(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    dom = rendered_offline(tmp_path, bundle / "report.html")
    title = "warehouse load (background): requests and failures per second"
    assert dom.count(f'aria-label="{title}"') == 1
    assert "<h3>Warehouse load</h3>" in dom
