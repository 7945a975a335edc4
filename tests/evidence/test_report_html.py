"""report.html in real headless Chromium: it renders, its charts are there, it stays offline.

Chromium's own background services would call Google at start-up: the host resolver
rules make every name resolve to nothing, so no packet leaves this machine, and the
net log shows which URLs were attempted. The page itself must attempt none.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.core.samples import FlowSamples, Outcome, ProbeSample
from harness.evidence.charts import buckets
from tests.evidence.synthetic import finished_bundle

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--enable-logging=stderr",
    "--v=0",
)
CHROMIUM_SERVICE_HOSTS = ("google.com", "googleapis.com")
CONSOLE = re.compile(r":(?:INFO|WARNING|ERROR):CONSOLE[:(]\d+\)?\] (.*)")


def chromium(tmp_path: Path, page: Path, *mode: str) -> tuple[str, list[str], list[str]]:
    """Run Chromium on ``page``: stdout, console messages, URLs its network stack tried."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    profile.mkdir()
    net_log = profile.with_suffix(".netlog.json")
    done = subprocess.run(
        [
            "chromium",
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--log-net-log={net_log}",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [m.group(1) for m in CONSOLE.finditer(done.stderr)]
    urls = re.findall(r'"url":"([^"]*)"', net_log.read_text())
    return done.stdout, console, urls


def page_requests(urls: list[str]) -> list[str]:
    return [
        url for url in urls if not (urlsplit(url).hostname or "").endswith(CHROMIUM_SERVICE_HOSTS)
    ]


@pytest.mark.slow
def test_report_renders_offline_with_charts_screenshot_and_pdf(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path / "reports")
    page = bundle / "report.html"
    html = page.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html)
    assert not re.search(r"url\(|@import|<script|<link", html)

    dom, console, urls = chromium(tmp_path, page, "--dump-dom")
    # 2 scenarios x (availability + latency of 2 flows), all rendered into the DOM.
    assert dom.count("<svg") == 6
    assert dom.count('class="phase phase-fault"') == 6
    assert dom.count('class="marker marker-t_rec"') == 6
    assert dom.count('class="marker marker-t_failover"') == 6
    assert 'data-series="p99"' in dom
    assert "NO-GO" in dom
    assert "Patroni ttl 30 s" in dom
    assert console == []
    assert page_requests(urls) == []

    screenshot = tmp_path / "report.png"
    chromium(tmp_path, page, f"--screenshot={screenshot}", "--window-size=1200,2400")
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 50_000  # charts, tables and colour, not a blank page

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
