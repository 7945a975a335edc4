"""The evidence of a real run, checked the way its readers use it.

One short scenario (an app node crash) runs through the pytest plugin as users run it,
on a real local stack, and leaves a real bundle. Then: ``odoo-resilience verify``
accepts it; report.html passes the Chromium checks (its screenshot is kept under
``build/test-artifacts/``); no secret of the run is anywhere in it; ``junit.xml`` loads
in a JUnit consumer CI pipelines use; ``allure-results/`` loads in the real Allure CLI.

``pytester`` is function-scoped, so the module fixture does what
``pytester.runpytest_subprocess`` does (a scenario file in a fresh folder, pytest in a
subprocess): the stack comes up once for every check. Tools the checks need
(``make tools``) that are missing fail the tests; they never skip them.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.evidence.chain import verify
from harness.evidence.secrets import scan
from harness.levels import DEFAULT_SERVICE_LEVELS
from harness.tools import INSTALL_HINT, REPO_ROOT, TOOLS_BIN, find_tool
from tests.support.chromium import rendered_offline, screenshot
from tests.support.runs import fresh_run_root

pytestmark = pytest.mark.integration

ARTIFACTS = REPO_ROOT / "build" / "test-artifacts" / "real-bundle"
SCENARIO = """
import json
from pathlib import Path

import pytest

from harness.faults.node import NodeCrash
from harness.levels import FaultFamily
from harness.scenario.runner import ScenarioSpec
from harness.scenario.verdicts import assert_scenario_passed


@pytest.mark.node_loss
def test_app_node_crash(scenario_runner, stack):
    platform = stack.platform
    # The secrets of this run, for the test that scans the bundle for them.
    secrets = platform.plan.credentials.all_secrets()
    Path(__file__).with_name("secrets.json").write_text(json.dumps(secrets))
    leader = platform.leader()
    node = next(
        name
        for name, members in sorted(platform.nodes().items())
        if leader not in members and all(m.startswith(("pg-", "app-")) for m in members)
    )
    spec = ScenarioSpec(
        f"node-loss:crash:{node}",
        FaultFamily.NODE_LOSS,
        lambda runtime: NodeCrash(runtime, node),
        self_healing=True,
    )
    assert_scenario_passed(scenario_runner.run(spec))
"""


@dataclass(frozen=True)
class RealBundle:
    path: Path
    secrets: tuple[str, ...]
    scenario: str
    work: Path
    """A scratch folder for the checks."""

    @property
    def folder(self) -> Path:
        return next((self.path / "scenarios").iterdir())


def required_tool(name: str) -> Path:
    """The tool's command, or a failure saying how to install it (never a skip)."""
    found = find_tool(name)
    if found is None:
        pytest.fail(
            f"expected the {name} command in {TOOLS_BIN} or on PATH, saw none; {INSTALL_HINT}",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def real_bundle(tmp_path_factory: pytest.TempPathFactory) -> RealBundle:
    work = tmp_path_factory.mktemp("real-bundle")
    suite = work / "suite"
    suite.mkdir()
    (suite / "test_scenario.py").write_text(SCENARIO)
    # The same service levels with a 10 s stability period instead of 30: a shorter run.
    levels = work / "levels.yaml"
    text = DEFAULT_SERVICE_LEVELS.read_text()
    assert "  stability_period_s: 30\n" in text
    levels.write_text(text.replace("  stability_period_s: 30\n", "  stability_period_s: 10\n"))
    reports = work / "reports"
    with fresh_run_root() as run_root:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-s",
                "--service-levels",
                str(levels),
                "--reports-dir",
                str(reports),
                str(suite),
            ],
            cwd=suite,
            env={**os.environ, "ODOO_RESILIENCE_RUN_ROOT": str(run_root)},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    (bundle,) = [p for p in reports.iterdir() if p.is_dir()]
    secrets = tuple(json.loads((suite / "secrets.json").read_text()))
    facts = json.loads(next((bundle / "scenarios").glob("*/facts.json")).read_text())
    return RealBundle(bundle, secrets, facts["scenario"], work)


def test_verify_accepts_the_real_bundle(real_bundle: RealBundle) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "verify", str(real_bundle.path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{real_bundle.path}: OK; chain first; signature unsigned"


def test_one_flipped_byte_in_any_kind_of_file_is_named_by_verify(
    real_bundle: RealBundle,
) -> None:
    """One file of every kind the run wrote, flipped and restored: each top-level file,
    each file of a scenario folder (samples and logs by folder), each Allure suffix."""
    bundle = real_bundle.path
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    listed = [line.split("  ", 1)[1] for line in sums if not line.startswith("#")]
    kinds: dict[str, str] = {}
    for name in listed:
        if not (bundle / name).stat().st_size:
            continue  # an empty attachment has no byte to flip
        parts = Path(name).parts
        if parts[0] == "scenarios":
            kind = parts[2] if len(parts) == 3 else parts[2] + "/" + Path(name).suffix
        elif parts[0] == "allure-results":
            kind = "allure" + Path(name).suffix
        else:
            kind = name
        kinds.setdefault(kind, name)
    chosen = sorted({*kinds.values(), "SHA256SUMS"})
    assert {"manifest.json", "report.html", "junit.xml", "metrics.prom"} <= set(chosen)
    for kind in ("verdicts.json", "timeline.json", "telemetry.csv", "samples/.csv", "logs/.log"):
        assert kind in kinds, f"no {kind} in the bundle: {sorted(kinds)}"
    for name in chosen:
        path = bundle / name
        original = path.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        path.write_bytes(bytes(flipped))
        try:
            result = verify(bundle)
        finally:
            path.write_bytes(original)
        assert not result.ok, name
        assert result.changed == (name,), result.report()
    assert verify(bundle).ok


def test_the_real_bundle_carries_the_scenarios_telemetry_and_its_log_window(
    real_bundle: RealBundle,
) -> None:
    rows = list(csv.DictReader((real_bundle.folder / "telemetry.csv").read_text().splitlines()))
    metrics = {row["metric"] for row in rows if row["metric"]}
    assert metrics == {
        "db_timeline",
        "db_connections",
        "replication_lag_bytes",
        "redis_used_memory_bytes",
        "traefik_requests_total",
    }
    requests = [row for row in rows if row["metric"] == "traefik_requests_total"]
    assert max(float(row["value"]) for row in requests) > 100  # the probes' own traffic
    logs = {path.stem: path.read_text() for path in (real_bundle.folder / "logs").iterdir()}
    assert {"pg-1", "pg-2", "pg-3", "app-1", "traefik", "redis", "haproxy"} <= set(logs)
    # The window opened with the scenario: the stack's start-up is not in it.
    assert not any("bootstrap" in text.lower() for name, text in logs.items() if "pg-" in name)
    assert all("Traefik version" not in text for text in logs.values())


def test_the_real_report_passes_the_chromium_checks(real_bundle: RealBundle) -> None:
    page = real_bundle.path / "report.html"
    dom = rendered_offline(real_bundle.work, page)
    assert '<p class="go">GO</p>' in dom
    assert f'id="s-{real_bundle.scenario}"' in dom
    for title in (
        "availability per flow",
        "DB replication lag per replica",
        "DB connections by state",
        "Redis used memory",
        "Traefik requests per service and status code",
    ):
        assert dom.count(f'aria-label="{title}"') == 1, title
    assert dom.count('class="marker marker-inject"') >= 5
    assert "Infrastructure telemetry" in dom
    assert "Component logs (written during the scenario)" in dom
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = screenshot(real_bundle.work, page, ARTIFACTS / "report.png", height=6000)
    print(f"\nscreenshot of the real report: {shot}")


def test_no_secret_of_the_run_is_anywhere_in_the_bundle(real_bundle: RealBundle) -> None:
    assert len(real_bundle.secrets) == 7
    assert scan(real_bundle.path, real_bundle.secrets) == ()


def test_junit_xml_loads_in_xunit_viewer(real_bundle: RealBundle) -> None:
    """xunit-viewer is what CI pipelines use to publish JUnit XML as a report (npm, pinned
    in .tools/). JUnit XML has no single schema (Ant's, Jenkins' and GitLab's readers
    differ), so a consumer that really reads it says more than one XSD would: it exits
    non-zero on XML it cannot parse, and its console mode prints the suite, each testcase
    with its status, and the totals, as a CI summary shows them."""
    viewer = required_tool("xunit-viewer")
    out = real_bundle.work / "xunit"
    out.mkdir()
    done = subprocess.run(
        [
            str(viewer),
            "--results",
            str(real_bundle.path / "junit.xml"),
            "--output",
            str(out / "junit.html"),
            "--console",
            "--no-color",
            "--clear=false",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"✓ {real_bundle.scenario}" in done.stdout
    assert done.stdout.rstrip().splitlines()[-2:] == ["1 passed", f"Written to: {out}/junit.html"]


def test_allure_results_load_in_the_allure_cli(real_bundle: RealBundle) -> None:
    required_tool("allure")
    assert shutil.which("java") is not None, (
        "Allure runs on Java: apt-get install openjdk-17-jre-headless"
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "report", str(real_bundle.path), "--allure"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    html = real_bundle.path.parent / f"{real_bundle.path.name}-allure"
    assert f"allure report: {html / 'index.html'}" in done.stdout
    assert (html / "index.html").is_file()
    cases = [json.loads(p.read_text()) for p in (html / "data/test-cases").glob("*.json")]
    (case,) = cases
    assert (case["name"], case["status"]) == (real_bundle.scenario, "passed")
    attached = {a["name"] for a in case["testStage"]["attachments"]}
    assert {"telemetry", "telemetry-replication-lag", "verdicts", "availability"} <= attached
    assert any(name.startswith("log ") for name in attached)
