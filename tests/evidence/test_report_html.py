"""report.html in real headless Chromium: it renders, its charts are there, it stays offline
(the Chromium checks themselves are in ``tests/support/chromium.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.samples import FlowSamples, Outcome, ProbeSample
from harness.evidence.charts import buckets
from tests.evidence.synthetic import finished_bundle
from tests.support.chromium import chromium, page_requests, rendered_offline, screenshot


@pytest.mark.slow
def test_report_renders_offline_with_charts_screenshot_and_pdf(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path / "reports")
    page = bundle / "report.html"
    dom = rendered_offline(tmp_path, page)
    # 2 scenarios x (availability + latency of 2 flows), plus the 4 telemetry charts of
    # the one that was sampled, all rendered into the DOM.
    assert dom.count("<svg") == 10
    assert dom.count('class="phase phase-fault"') == 10
    assert dom.count('class="marker marker-t_rec"') == 10
    assert dom.count('class="marker marker-t_failover"') == 10
    assert 'data-series="p99"' in dom
    assert "NO-GO" in dom
    assert "Patroni ttl 30 s" in dom
    for title in ("DB replication lag per replica", "DB connections by state", "Redis used memory"):
        assert dom.count(f'aria-label="{title}"') == 1, title
    # The 502s that start with the outage are charted as a rate from 0, not from nothing.
    assert 'data-series="odoo-blue@file 502"' in dom
    # The 8 s the database could not be read: 8 gaps ticked, and named in the table.
    assert dom.count('class="gap gap-postgres"') == 8
    assert "OperationalError x8" in dom

    screenshot(tmp_path, page, tmp_path / "report.png")

    pdf = tmp_path / "report.pdf"
    chromium(tmp_path, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert (
        data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type/Page/") >= 2
        or pdf.stat().st_size > 50_000
    )


@pytest.mark.slow
def test_the_offline_checks_catch_a_page_that_fetches_and_logs(tmp_path: Path) -> None:
    leaky = tmp_path / "leaky.html"
    leaky.write_text(
        '<!DOCTYPE html><img src="http://127.0.0.1:9/pixel.png">'
        '<script>console.error("chart failed")</script>'
    )
    _, console, urls = chromium(tmp_path, leaky, "--dump-dom")
    assert any("chart failed" in line for line in console)
    assert set(page_requests(urls)) == {"http://127.0.0.1:9/pixel.png"}


def test_buckets_give_nearest_rank_percentiles_and_availability() -> None:
    ms = 1_000_000
    samples = [
        ProbeSample("scan", i * 100 * ms, i * 100 * ms + (i + 1) * ms, Outcome.OK)
        for i in range(10)
    ]
    samples.append(ProbeSample("scan", 1_050 * ms, 2_050 * ms, Outcome.TIMEOUT))
    first, second = buckets(FlowSamples.of("scan", samples), 0, 2_000 * ms, 1_000 * ms)
    assert (first.count, first.ok, first.p50_ms, first.p95_ms, first.p99_ms) == (
        10,
        10,
        5.0,
        10.0,
        10.0,
    )
    assert first.availability_pct == 100.0
    assert (second.count, second.ok, second.p50_ms, second.availability_pct) == (1, 0, None, 0.0)


def test_the_dom_json_of_verdicts_matches_the_report(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path)
    verdicts = json.loads((bundle / "scenarios/node-loss-slow/verdicts.json").read_text())
    html = (bundle / "report.html").read_text()
    for verdict in verdicts["verdicts"]:
        assert verdict["sentence"].replace("&", "&amp;") in html
