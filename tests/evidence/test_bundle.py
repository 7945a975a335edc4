"""The bundle: layout, reports it writes, crash safety, refusals, the Pushgateway push."""

from __future__ import annotations

import csv
import json
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from harness.evidence.bundle import EvidenceBundle, write_atomic
from harness.evidence.chain import verify
from harness.evidence.model import EvidenceError
from harness.evidence.openmetrics import MetricsPushFailed
from tests.evidence.synthetic import SECRETS, finished_bundle, manifest, scenario


def test_a_finished_bundle_holds_every_report_and_no_marker(tmp_path: Path) -> None:
    bundle = finished_bundle(tmp_path)
    assert bundle == tmp_path / "run-0001"
    assert not (bundle / "INCOMPLETE").exists()
    for name in (
        "manifest.json",
        "summary.json",
        "controls.json",
        "junit.xml",
        "report.html",
        "metrics.prom",
        "SHA256SUMS",
        "files/locust/stats.csv",
    ):
        assert (bundle / name).is_file(), name
    folder = bundle / "scenarios/db-failover-primary-crash"
    for name in (
        "timeline.json",
        "verdicts.json",
        "invariants.json",
        "facts.json",
        "samples/warehouse_scan.csv",
        "telemetry.csv",
        "logs/postgresql.log",
    ):
        assert (folder / name).is_file(), name
    assert not (bundle / "scenarios/node-loss-slow/telemetry.csv").exists()  # not sampled
    csv_lines = (folder / "samples/warehouse_scan.csv").read_text().splitlines()
    assert csv_lines[0] == "t_start_ns,t_end_ns,outcome,detail"
    assert len(csv_lines) == 1 + 150 * 5
    assert csv_lines[1] == "0,40000000,ok,"
    facts = json.loads((folder / "facts.json").read_text())
    assert facts["landed"] == ["primary pg-1 gone: GET /primary answers 503 on pg-1"]
    assert facts["abort_reason"] is None
    timeline = json.loads((folder / "timeline.json").read_text())
    assert timeline["events"][2] == {
        "kind": "fault-injected",
        "t_ns": 60_000_000_000,
        "utc": "12:01:00.000",
        "label": "kill pg-1",
        "phase": None,
    }
    manifest_json = json.loads((bundle / "manifest.json").read_text())
    assert manifest_json["ended_at"] == "2024-05-01T12:05:00.000Z"
    assert manifest_json["component_versions"]["patroni"] == "3.0.2"
    invariants = json.loads((folder / "invariants.json").read_text())
    assert [v["kind"] for v in invariants] == ["invariant"]


def test_telemetry_csv_holds_every_reading_then_each_gap_in_time_order(tmp_path: Path) -> None:
    folder = finished_bundle(tmp_path) / "scenarios/db-failover-primary-crash"
    rows = list(csv.reader((folder / "telemetry.csv").read_text().splitlines()))
    assert rows[0] == ["t_ns", "source", "metric", "series", "value", "error", "detail"]
    assert rows[1:6] == [
        ["0", "postgres", "db_timeline", "", "1", "", ""],
        ["0", "postgres", "db_connections", "active", "3", "", ""],
        ["0", "postgres", "db_connections", "idle", "9", "", ""],
        ["0", "postgres", "db_connections", "total", "12", "", ""],
        ["0", "patroni", "replication_lag_bytes", "pg-2", "0", "", ""],
    ]
    gaps = [row for row in rows[1:] if row[5]]
    assert [int(row[0]) // 1_000_000_000 for row in gaps] == list(range(62, 70))
    assert gaps[0][1:6] == ["postgres", "", "", "", "OperationalError"]
    # The gap's detail held the DB password: scrubbed on the way to disk.
    assert gaps[0][6] == "connection to db failed: password=[REDACTED] rejected"
    assert [int(row[0]) for row in rows[1:]] == sorted(int(row[0]) for row in rows[1:])
    memory = [row[4] for row in rows if row[2] == "redis_used_memory_bytes"]
    assert memory[-1] == str(2**20 + 1024 * 149)  # whole bytes, never 1.2e+06


def test_junit_has_one_testcase_per_scenario_failing_with_the_verdict_sentence(
    tmp_path: Path,
) -> None:
    suite = ET.parse(finished_bundle(tmp_path) / "junit.xml").getroot()
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["db-failover-primary-crash"].find("failure") is None
    failure = cases["node-loss-slow"].find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith("node-loss-slow RTO 30.8 s ")
    assert "exceeds target 30 s" in message
    assert suite.get("errors") == "0"


def test_allure_results_carry_labels_phase_steps_and_attachments(tmp_path: Path) -> None:
    results = finished_bundle(tmp_path) / "allure-results"
    loaded = [json.loads(p.read_text()) for p in results.glob("*-result.json")]
    by_name = {r["name"]: r for r in loaded}
    failed = by_name["node-loss-slow"]
    assert failed["status"] == "failed"
    labels = {(label["name"], label["value"]) for label in failed["labels"]}
    assert {("epic", "BC-02"), ("feature", "node-loss"), ("severity", "critical")} <= labels
    # The ledger's window opens in the baseline, so every verdict sits in a phase.
    assert [s["name"] for s in failed["steps"]] == ["baseline", "fault", "recovery", "after"]
    fault_step = failed["steps"][1]["steps"]
    assert [s["name"][:25] for s in fault_step] == [
        "landed: node-loss-slow fa",
        "rto: node-loss-slow RTO 3",
    ]
    assert failed["steps"][1]["status"] == "failed"  # the RTO verdict starts at injection
    assert failed["steps"][0]["status"] == "passed"
    kinds = {a["type"] for a in failed["attachments"]}
    # Not sampled, so its one CSV is the write ledger.
    assert kinds == {"image/svg+xml", "application/json", "text/plain", "text/csv"}
    for attachment in failed["attachments"]:
        assert (results / attachment["source"]).is_file()
    passed = by_name["db-failover-primary-crash"]
    assert passed["status"] == "passed"
    attached = {a["name"]: a for a in passed["attachments"]}
    assert attached["telemetry"]["type"] == "text/csv"
    telemetry = (results / attached["telemetry"]["source"]).read_bytes()
    folder = results.parent / "scenarios/db-failover-primary-crash"
    assert telemetry == (folder / "telemetry.csv").read_bytes()
    assert attached["telemetry-replication-lag"]["type"] == "image/svg+xml"
    properties = (results / "environment.properties").read_text()
    assert "run_id=run-0001" in properties
    assert "version_of_patroni=3.0.2" in properties


def test_metrics_are_openmetrics_text_with_rto_rpo_slo_and_controls(tmp_path: Path) -> None:
    text = (finished_bundle(tmp_path) / "metrics.prom").read_text()
    assert text.endswith("# EOF\n")
    lines = text.splitlines()
    assert (
        'odoo_resilience_rto_seconds{run_id="run-0001",scenario="node-loss-slow",'
        'family="node-loss"} 30.8'
    ) in lines
    assert any(line.startswith("odoo_resilience_rpo_target_seconds{") for line in lines)
    assert (
        'odoo_resilience_slo_latency_seconds{run_id="run-0001",scenario="node-loss-slow",'
        'family="node-loss",flow="warehouse_scan",phase="baseline",quantile="0.95"} 0.07'
    ) in lines
    assert 'odoo_resilience_control_evidenced{run_id="run-0001",control="DR-01"} 1.0' in lines
    assert 'odoo_resilience_control_evidenced{run_id="run-0001",control="BC-02"} 0.0' in lines


def test_a_crashed_run_leaves_a_bundle_marked_incomplete_with_whole_files(tmp_path: Path) -> None:
    bundle = EvidenceBundle(tmp_path, manifest(), secrets=SECRETS)
    bundle.add_scenario(scenario())
    # The process dies here: finish() never runs.
    assert (bundle.path / "INCOMPLETE").is_file()
    for path in bundle.path.rglob("*.json"):
        json.loads(path.read_text())
    assert not list(bundle.path.rglob("*.tmp"))
    result = verify(bundle.path)
    assert result.incomplete
    assert not result.ok
    assert "never finished" in result.report()


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "verdicts.json"
    write_atomic(target, b"old")

    def power_cut(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        write_atomic(target, b"new and longer")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["verdicts.json"]


def test_refusals_say_what_to_do(tmp_path: Path) -> None:
    bundle = EvidenceBundle(tmp_path, manifest())
    bundle.add_scenario(scenario())
    with pytest.raises(EvidenceError, match="each scenario once"):
        bundle.add_scenario(scenario())
    with pytest.raises(EvidenceError, match="relative file name"):
        bundle.add_file("../escape.txt", b"x")
    with pytest.raises(EvidenceError, match="fresh run id"):
        EvidenceBundle(tmp_path, manifest())
    with pytest.raises(EvidenceError, match="plain name"):
        EvidenceBundle(tmp_path, manifest("../up"))
    bundle.finish()
    with pytest.raises(EvidenceError, match="already sealed"):
        bundle.add_file("late.txt", b"x")


class _Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []
    status: ClassVar[int] = 200

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(
            (self.path, self.headers["Content-Type"], self.rfile.read(length))
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def pushgateway() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_metrics_are_pushed_only_to_the_given_pushgateway(
    tmp_path: Path, pushgateway: tuple[str, type[_Recorder]]
) -> None:
    url, handler = pushgateway
    bundle = finished_bundle(tmp_path, pushgateway_url=url)
    ((path, content_type, body),) = handler.received
    assert path == "/metrics/job/odoo_resilience/run_id/run-0001"
    assert content_type.startswith("text/plain; version=0.0.4")
    assert body == (bundle / "metrics.prom").read_bytes()
    finished_bundle(tmp_path, "run-0002")
    assert len(handler.received) == 1


def test_a_refused_push_says_so_after_the_bundle_is_sealed(
    tmp_path: Path, pushgateway: tuple[str, type[_Recorder]]
) -> None:
    url, handler = pushgateway
    handler.status = 400
    with pytest.raises(MetricsPushFailed, match="answer 2xx") as caught:
        finished_bundle(tmp_path, pushgateway_url=url)
    assert "the bundle itself is complete" in str(caught.value)
    assert verify(tmp_path / "run-0001").ok
