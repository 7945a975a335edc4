"""Synthetic evidence built from the real core with hand-made samples (no stack needed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.core.ledger import ReadBack, WriteOrigin, WriteOutcome, WriteRecord
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.targets import FlowTarget, RecoveryTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Phase, Timeline, TimelineEvent
from harness.core.verdict import RunData, evaluate_run
from harness.evidence.bundle import EvidenceBundle
from harness.evidence.model import (
    ErroredScenario,
    RunManifest,
    ScenarioEvidence,
    ScenarioRecord,
    WarehouseLoad,
)
from harness.ledger import ReadBackResult
from harness.levels import Control, FaultFamily
from harness.scenario.readback import ledger_writes
from harness.scenario.runner import ScenarioResult, ScenarioSpec
from harness.telemetry import Gap, Metric, Reading, Source, Telemetry

MS = 1_000_000
S = 1_000 * MS
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DB_PASSWORD = "pg-Secr3t-Passw0rd"
S3_ACCESS_KEY = "AKIAEXAMPLEKEY123456"
S3_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_ID = "5f2c9a0e1d7b4c3a9e8f7d6c5b4a3928"
SECRETS = (DB_PASSWORD, S3_ACCESS_KEY, S3_SECRET_KEY, SESSION_ID)
TARGETS = (
    FlowTarget("warehouse_scan", True, 99.0, 250.0, 900.0),
    FlowTarget("reporting", False, 90.0, 800.0),
)
CONTROLS = (
    Control("DR-01", (FaultFamily.DB_FAILOVER,), "Database failover is tested", 90),
    Control("BC-02", (FaultFamily.NODE_LOSS,), "Node loss is survived", 30),
)


def probe(flow: str, until_s: int, down: Callable[[int], bool], base_ms: int) -> FlowSamples:
    series = SampleSeries(flow)
    for start in range(0, until_s * S, 200 * MS):
        if down(start):
            series.add(start, start + S, Outcome.TIMEOUT, f"timeout session_id={SESSION_ID}")
        else:
            jitter = (start // (200 * MS)) % 7
            series.add(start, start + (base_ms + 5 * jitter) * MS, Outcome.OK)
    return series.freeze()


def telemetry(until_s: int = 150, outage_s: tuple[float, float] = (61.2, 70.0)) -> Telemetry:
    """One reading a second of every metric; the DB unreachable during the outage."""
    readings: list[Reading] = []
    gaps: list[Gap] = []
    for second in range(until_s):
        t = second * S
        if outage_s[0] <= second < outage_s[1]:
            detail = f"connection to db failed: password={DB_PASSWORD} rejected"
            gaps.append(Gap(t, Source.POSTGRES, "OperationalError", detail))
        else:
            readings.append(Reading(t, Metric.DB_TIMELINE, "", 1 if second < 66 else 2))
            readings += [
                Reading(t, Metric.DB_CONNECTIONS, "active", 3),
                Reading(t, Metric.DB_CONNECTIONS, "idle", 9),
                Reading(t, Metric.DB_CONNECTIONS, "total", 12),
            ]
        readings.append(Reading(t, Metric.REPLICATION_LAG, "pg-2", 4096 * (second % 5)))
        readings.append(Reading(t, Metric.REDIS_MEMORY, "used_memory", 2**20 + 1024 * second))
        readings.append(Reading(t, Metric.REQUESTS, "odoo-blue@file 200", 25.0 * second))
        if second > outage_s[0]:
            readings.append(Reading(t, Metric.REQUESTS, "odoo-blue@file 502", 40.0))
    return Telemetry(1.0, tuple(readings), tuple(gaps))


def ledger_records(load_writes: int = 0) -> tuple[WriteRecord, ...]:
    """100 acknowledged picking writes a second apart; the last ``load_writes`` the load's."""
    return tuple(
        WriteRecord(
            f"so-{i}",
            "picking",
            i * S,
            i * S + 50 * MS,
            WriteOutcome.OK,
            WriteOrigin.LOAD if i >= 100 - load_writes else WriteOrigin.PROBE,
        )
        for i in range(100)
    )


READ_BACK = ReadBack({f"so-{i}": 1 for i in range(100)})
"""What the read-back finds of ``ledger_records``: every key once."""


def scenario(
    name: str = "db-failover-primary-crash",
    *,
    outage_s: tuple[float, float] = (61.2, 70.0),
    until_s: int = 150,
    started_at: datetime = START,
    family: FaultFamily = FaultFamily.DB_FAILOVER,
    abort: str | None = None,
    sampled: bool = True,
    load_writes: int = 0,
) -> ScenarioEvidence:
    """A fault at 60 s, an outage of the critical flow, recovery, a write ledger (of which
    the last ``load_writes`` are the warehouse load's)."""

    def down(t: int) -> bool:
        return round(outage_s[0] * S) <= t < round(outage_s[1] * S)

    events = (
        TimelineEvent(EventKind.PHASE_START, 0, "baseline", Phase.BASELINE),
        TimelineEvent(EventKind.PHASE_START, 60 * S, "fault", Phase.FAULT),
        TimelineEvent(EventKind.FAULT_INJECTED, 60 * S, "kill pg-1"),
        TimelineEvent(EventKind.FAULT_LANDED, 61 * S, "primary pg-1 gone"),
        TimelineEvent(EventKind.DB_TIMELINE_SWITCH, 66 * S, "timeline 1 -> 2"),
        TimelineEvent(EventKind.PHASE_START, 75 * S, "recovery", Phase.RECOVERY),
        TimelineEvent(EventKind.FAULT_REVERTED, 75 * S, "pg-1 restarted"),
        TimelineEvent(EventKind.PHASE_START, 110 * S, "after", Phase.AFTER),
        TimelineEvent(EventKind.RUN_END, until_s * S, "end"),
    )
    ledger = ledger_records(load_writes)
    read_back = READ_BACK
    timeline = Timeline(
        mono_anchor_ns=0,
        wall_anchor_ns=int(started_at.timestamp()) * S,
        events=events,
    )
    flows = {
        "warehouse_scan": probe("warehouse_scan", until_s, down, 40),
        "reporting": probe("reporting", until_s, down, 300),
    }
    verdicts = evaluate_run(
        RunData(
            scenario=name,
            family=family.value,
            timeline=timeline,
            flows=flows,
            flow_targets=TARGETS,
            steady=SteadyStateSpec(10.0, 20.0),
            recovery_target=RecoveryTarget(family.value, 30.0, 0.0, 0),
            ledger=ledger,
            read_back=read_back,
        )
    )
    assert verdicts.ledger is not None
    return ScenarioEvidence(
        scenario=name,
        family=family.value,
        controls=("DR-01",) if family is FaultFamily.DB_FAILOVER else ("BC-02",),
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=until_s),
        timeline=timeline,
        flows=flows,
        verdicts=verdicts,
        fault="db-primary-crash:pg-1",
        landed=("primary pg-1 gone: GET /primary answers 503 on pg-1",),
        abort_reason=abort,
        rto_floor=(
            "Patroni ttl 30 s and loop_wait 10 s: a leader loss is noticed after up to 30 s",
            "HAProxy checks /primary every 1 s, fall 3: the router follows within 3 s",
        ),
        logs={
            "postgresql": (
                "LOG:  connection authorized: user=odoo\n"
                f"FATAL: password authentication failed (password={DB_PASSWORD})\n"
            ),
            "seaweedfs": f"s3 request by {S3_ACCESS_KEY} signed with {S3_SECRET_KEY}\n",
            "odoo-1": f"GET /web/session/get_session_info Cookie: session_id={SESSION_ID}\n",
        },
        critical_flows=("warehouse_scan",),
        telemetry=telemetry(until_s, outage_s) if sampled else None,
        writes=ledger_writes(
            ledger, ReadBackResult(read_back, len(ledger), ()), verdicts.ledger, {}
        ),
    )


def scenario_result(
    spec: ScenarioSpec,
    evidence: ScenarioEvidence,
    *,
    writes: tuple[WriteRecord, ...] = (),
    read_back: ReadBack | None = None,
    load: WarehouseLoad | None = None,
) -> ScenarioResult:
    """A result as the runner delivers it, from synthetic evidence (its timeline, samples
    and verdicts), with the ledger's ``writes`` and what the read-back found of them."""
    found = ReadBack() if read_back is None else read_back
    return ScenarioResult(
        spec=spec,
        timeline=evidence.timeline,
        flows=dict(evidence.flows),
        verdicts=evidence.verdicts.verdicts,
        run=evidence.verdicts,
        invariant_verdicts=(),
        landed=None,
        abort_reason=None,
        floor_lines=(),
        read_back=ReadBackResult(found, len(found.copies), ()),
        invariants=(),
        wall_start_ns=int(evidence.started_at.timestamp()) * S,
        wall_end_ns=int(evidence.ended_at.timestamp()) * S,
        telemetry=Telemetry(1.0, (), ()),
        logs={},
        writes=writes,
        load=load,
    )


def errored(
    name: str = "db-failover:switchover",
    *,
    family: FaultFamily = FaultFamily.DB_FAILOVER,
    started_at: datetime = START,
) -> ErroredScenario:
    """A scenario whose read-back raised 90 s in: no timeline, no verdict."""
    return ErroredScenario(
        scenario=name,
        family=family.value,
        controls=("DR-01",) if family is FaultFamily.DB_FAILOVER else ("BC-02",),
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=90),
        error_type="ReadBackFailed",
        message=(
            "expected to read 40 sale.order keys back through the app, saw: 502 Bad "
            "Gateway. Read back once the app serves again."
        ),
        trace="harness/ledger.py:190: in copies\n    raise ReadBackFailed(\nE   ReadBackFailed",
    )


def manifest(run_id: str = "run-0001", started_at: datetime = START) -> RunManifest:
    return RunManifest(
        run_id=run_id,
        started_at=started_at,
        ended_at=None,
        user="ci",
        host="builder-7",
        platform="local",
        component_versions={"postgresql": "15.8", "patroni": "3.0.2", "haproxy": "2.6.12"},
        git_revision="8bb5cb5",
        git_dirty=True,
        profile="smoke",
        seed=42,
        service_levels_path="fixtures/service-levels.yaml",
        service_levels_sha256="ab" * 32,
        tool_version="0.1.0",
    )


def finished_bundle(
    reports: Path,
    run_id: str = "run-0001",
    *,
    started_at: datetime = START,
    scenarios: tuple[ScenarioRecord, ...] | None = None,
    signing_key: Path | None = None,
    pushgateway_url: str | None = None,
) -> Path:
    bundle = EvidenceBundle(
        reports,
        manifest(run_id, started_at),
        controls=CONTROLS,
        secrets=SECRETS,
        signing_key=signing_key,
        pushgateway_url=pushgateway_url,
    )
    chosen = (
        scenarios
        if scenarios is not None
        else (
            scenario(started_at=started_at),
            scenario(
                "node-loss-slow",
                family=FaultFamily.NODE_LOSS,
                outage_s=(61.2, 80.0),
                started_at=started_at,
                sampled=False,
            ),
        )
    )
    for evidence in chosen:
        bundle.add_scenario(evidence)
    bundle.add_file(
        "locust/stats.csv",
        f"name,requests\nwarehouse_scan,1200\n# db=postgresql://odoo:{DB_PASSWORD}@db\n".encode(),
    )
    return bundle.finish(started_at + timedelta(minutes=5))
