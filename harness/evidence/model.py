"""What a scenario hands to the evidence bundle, and what describes the run.

A scenario ends one of three ways (``ScenarioOutcome``): its verdicts passed, some
failed (both a ``ScenarioEvidence``), or it raised before it could be judged (an
``ErroredScenario``: no timeline, no verdict, the exception). ``ScenarioRecord`` is
either. ``LedgerWrite`` is one write of a scenario's ledger as the read-back found it;
``WarehouseLoad`` is what the background warehouse load did meanwhile.
These and ``RunManifest`` are plain frozen data: the scenario runner and the pytest
plugin build them, tests build them synthetically. Nothing here reads a clock or the
environment; serialising to JSON-ready values and CSV lives here so that every writer
(bundle, Allure, summaries) renders the same facts the same way.
"""

from __future__ import annotations

import csv
import enum
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from harness.core.ledger import LedgerReport, WriteOrigin, WriteOutcome
from harness.core.recovery import RecoveryReport
from harness.core.samples import FlowSamples
from harness.core.slo import PhaseSlo
from harness.core.timeline import Timeline
from harness.core.verdict import RunVerdicts, Verdict
from harness.errors import HarnessError
from harness.telemetry import Telemetry

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
LEDGER_CSV = "ledger.csv"
"""The write ledger's file in a scenario's folder."""

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
"""A value ``json.dumps`` writes as is (the bundle's files are built from these)."""


class EvidenceError(HarnessError):
    """The evidence bundle could not be written, read or checked as asked."""


class ScenarioOutcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    """It was judged and a verdict failed (or it aborted)."""
    ERRORED = "errored"
    """It raised before it could be judged: no verdict says how the stack did."""


class WriteClass(enum.Enum):
    """What a ledger write turned out to be, as the RPO and integrity verdicts class it."""

    ACKNOWLEDGED_PRESENT = "acknowledged-present"
    LOST = "lost"
    UNKNOWN_PRESENT = "unknown-present"
    UNKNOWN_ABSENT = "unknown-absent"
    FAILED_PRESENT = "failed-present"
    FAILED_ABSENT = "failed-absent"


@dataclass(frozen=True, slots=True)
class LedgerWrite:
    """One write of a scenario's ledger and what the read-back found of its key.

    Instants are monotonic ns, the clock of the scenario's timeline; ``t_complete_ns``
    of an OK write is its acknowledgement. ``tenant`` names the database the write went
    to when it was not the run's own (None: the run's own). ``origin`` says who made it:
    a probe or the warehouse load.
    """

    key: str
    flow: str
    tenant: str | None
    t_invoke_ns: int
    t_complete_ns: int
    outcome: WriteOutcome
    db_copies: int
    app_copies: int
    write_class: WriteClass
    origin: WriteOrigin = WriteOrigin.PROBE


@dataclass(frozen=True)
class WarehouseLoad:
    """What the background warehouse load did during one scenario
    (``harness.scenario.background.BackgroundLoad.evidence``).

    ``flows`` are Locust's requests per flow and ``requests`` all of them together (what
    the steady state's load floor counts), on the timeline's monotonic clock. ``files``
    are Locust's own report files that were written (HTML report, CSV and JSON stats,
    log; any may be missing, e.g. when Locust was killed): the bundle copies them.
    ``ended`` says why Locust ended before the scenario did (None: it ran to the end).
    The load has no targets of its own: it is reported, the probes are judged.
    """

    profile: str
    target_rps: float
    floor_rps: float
    flows: Mapping[str, FlowSamples]
    requests: FlowSamples
    writes: int
    """Keyed writes the load made (acknowledged or not)."""
    files: tuple[Path, ...]
    started_ns: int
    stopped_ns: int
    exit_code: int | None = None
    ended: str | None = None


@dataclass(frozen=True)
class ScenarioEvidence:
    """Everything one finished scenario leaves as evidence.

    ``invariants`` are the ERP invariant verdicts checked after the run
    (``harness.invariants.invariant_verdicts``); they count towards pass/fail like the
    run's own verdicts. ``critical_flows`` names the flows that gate the steady state
    (the Allure severity follows them). ``logs`` maps a component name to what it logged
    during the scenario; it is scrubbed of secrets before it is written. ``telemetry`` is
    what the database, cache and ingress did meanwhile (None: nothing was sampled).
    ``writes`` is every write of the ledger (None: the writes were not handed over,
    which is not the same as a ledger that wrote nothing). ``load`` is what the
    background warehouse load did (None: the scenario ran without one).
    """

    scenario: str
    family: str
    controls: tuple[str, ...]
    started_at: datetime
    ended_at: datetime
    timeline: Timeline
    flows: Mapping[str, FlowSamples]
    verdicts: RunVerdicts
    fault: str | None = None
    landed: tuple[str, ...] = ()
    abort_reason: str | None = None
    rto_floor: tuple[str, ...] = ()
    logs: Mapping[str, str] = field(default_factory=dict)
    invariants: tuple[Verdict, ...] = ()
    critical_flows: tuple[str, ...] = ()
    telemetry: Telemetry | None = None
    writes: tuple[LedgerWrite, ...] | None = None
    load: WarehouseLoad | None = None

    @property
    def all_verdicts(self) -> tuple[Verdict, ...]:
        return self.verdicts.verdicts + self.invariants

    @property
    def passed(self) -> bool:
        return self.abort_reason is None and all(v.passed for v in self.all_verdicts)

    @property
    def outcome(self) -> ScenarioOutcome:
        return ScenarioOutcome.PASSED if self.passed else ScenarioOutcome.FAILED

    @property
    def failed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.all_verdicts if not v.passed)

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class ErroredScenario:
    """A scenario that raised instead of being judged (a read-back or fault that failed,
    a failed undo, a topology that does not fit): what it was, when, and the exception.

    ``scenario`` is the scenario's name when the test had started one, else the test's
    node id; ``trace`` is the traceback as pytest reported it.
    """

    scenario: str
    family: str
    controls: tuple[str, ...]
    started_at: datetime
    ended_at: datetime
    error_type: str
    message: str
    trace: str = ""

    @property
    def passed(self) -> bool:
        return False

    @property
    def outcome(self) -> ScenarioOutcome:
        return ScenarioOutcome.ERRORED

    @property
    def sentence(self) -> str:
        return f"{self.scenario} errored: {self.error_type}: {self.message}"

    @property
    def duration_s(self) -> float:
        return (self.ended_at - self.started_at).total_seconds()


ScenarioRecord = ScenarioEvidence | ErroredScenario
"""One scenario of a run as the evidence holds it: judged, or errored."""


@dataclass(frozen=True)
class RunManifest:
    """Who ran what, where, with which inputs: the environment an auditor reads first."""

    run_id: str
    started_at: datetime
    ended_at: datetime | None
    user: str
    host: str
    platform: str
    component_versions: Mapping[str, str]
    git_revision: str
    git_dirty: bool
    profile: str
    seed: int
    service_levels_path: str
    service_levels_sha256: str
    tool_version: str

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "run_id": self.run_id,
            "started_at": utc_text(self.started_at),
            "ended_at": None if self.ended_at is None else utc_text(self.ended_at),
            "user": self.user,
            "host": self.host,
            "platform": self.platform,
            "component_versions": dict(sorted(self.component_versions.items())),
            "git_revision": self.git_revision,
            "git_dirty": self.git_dirty,
            "profile": self.profile,
            "seed": self.seed,
            "service_levels_path": self.service_levels_path,
            "service_levels_sha256": self.service_levels_sha256,
            "tool_version": self.tool_version,
        }

    def properties(self) -> tuple[tuple[str, str], ...]:
        """The manifest as ordered name/value pairs, for tables and properties files."""
        pairs: list[tuple[str, str]] = [
            ("run id", self.run_id),
            ("started (UTC)", utc_text(self.started_at)),
            ("ended (UTC)", "-" if self.ended_at is None else utc_text(self.ended_at)),
            ("user", self.user),
            ("host", self.host),
            ("platform", self.platform),
            ("git revision", self.git_revision + (" (dirty)" if self.git_dirty else "")),
            ("profile", self.profile),
            ("seed", str(self.seed)),
            ("service levels", self.service_levels_path),
            ("service levels SHA-256", self.service_levels_sha256),
            ("odoo-resilience", self.tool_version),
        ]
        pairs.extend(
            (f"version of {name}", version)
            for name, version in sorted(self.component_versions.items())
        )
        return tuple(pairs)


def safe_name(name: str) -> str:
    """A file-system-safe form of a scenario, flow or component name."""
    return _SAFE.sub("_", name).strip("._") or "_"


def scenario_folder(scenario: str) -> str:
    """The bundle folder (relative, POSIX) of scenario ``scenario``."""
    return f"scenarios/{safe_name(scenario)}"


def utc_text(moment: datetime) -> str:
    """``2024-05-01T12:00:00.000Z``; a naive datetime is refused (its zone is unknown)."""
    if moment.tzinfo is None:
        raise EvidenceError(
            f"expected a timezone-aware datetime, saw naive {moment.isoformat()}; build "
            "evidence times with datetime.now(UTC)"
        )
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def verdict_json(verdict: Verdict) -> dict[str, JsonValue]:
    return {
        "kind": verdict.kind.value,
        "scenario": verdict.scenario,
        "family": verdict.family,
        "passed": verdict.passed,
        "target": verdict.target,
        "measured": _finite(verdict.measured),
        "unit": verdict.unit,
        "window_ns": [verdict.window[0], verdict.window[1]],
        "samples": [
            {"series": r.series, "first": r.first, "stop": r.stop} for r in verdict.sample_refs
        ],
        "sentence": verdict.sentence,
    }


def recovery_json(report: RecoveryReport | None) -> JsonValue:
    if report is None:
        return None
    return {
        "t_inject_ns": report.t_inject_ns,
        "t_detect_ns": report.t_detect_ns,
        "t_failover_ns": report.t_failover_ns,
        "t_app_reconnect_ns": report.t_app_reconnect_ns,
        "t_rec_ns": report.t_rec_ns,
        "t_revert_ns": report.t_revert_ns,
        "rto_s": None if report.rto_ns is None else report.rto_ns / 1e9,
        "outage_s": report.outage_ns / 1e9,
        "stability_s": report.stability_ns / 1e9,
        "window_s": report.window_ns / 1e9,
        "critical_flows": list(report.critical_flows),
        "holdout": None
        if (held := report.holdout) is None
        else {
            "flow": held.flow,
            "steady_from_ns": held.steady_from_ns,
            "window_samples": held.window.count,
            "window_ok": held.window.ok,
            "window_p95_ms": None if held.window.p95_ns is None else held.window.p95_ns / 1e6,
        },
    }


def slo_json(figures: PhaseSlo) -> dict[str, JsonValue]:
    return {
        "flow": figures.flow,
        "phase": figures.phase.value,
        "t_from_ns": figures.t_from_ns,
        "t_to_ns": figures.t_to_ns,
        "samples": figures.count,
        "ok": figures.ok,
        "availability_pct": figures.availability_pct,
        "error_rate": figures.error_rate,
        "p50_ms": figures.p50_ms,
        "p95_ms": figures.p95_ms,
        "p99_ms": figures.p99_ms,
        "budget_burn": _finite(figures.budget_burn),
        "compliant": figures.compliant,
    }


def ledger_json(report: LedgerReport | None) -> JsonValue:
    if report is None:
        return None
    return {
        "written": report.written,
        "acked": report.acked,
        "acked_by": {o.value: report.acked_by[o] for o in WriteOrigin if o in report.acked_by},
        "acked_present": report.acked_present,
        "lost": [
            {"key": w.key, "flow": w.flow, "t_ack_ns": w.t_ack_ns, "index": w.index}
            for w in report.lost
        ],
        "unknown_present": len(report.unknown_present),
        "unknown_absent": len(report.unknown_absent),
        "failed_present": list(report.failed_present),
        "unexpected": list(report.unexpected),
        "duplicates": [[key, copies] for key, copies in report.duplicates],
        "rpo_s": report.rpo_ns / 1e9,
        "integrity_violations": report.integrity_violations,
    }


LEDGER_COLUMNS = (
    "key",
    "flow",
    "tenant",
    "invoked_s",
    "completed_s",
    "invoked_utc",
    "completed_utc",
    "outcome",
    "db_copies",
    "app_copies",
    "class",
    "origin",
)


def ledger_csv(writes: Sequence[LedgerWrite], timeline: Timeline) -> bytes:
    """One line per write in invoke order: instants as exact seconds since the timeline's
    anchor (``mono_anchor_ns`` in ``timeline.json``) and as UTC wall-clock."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LEDGER_COLUMNS)
    for write in writes:
        writer.writerow(
            [
                write.key,
                write.flow,
                write.tenant or "",
                _seconds(write.t_invoke_ns - timeline.mono_anchor_ns),
                _seconds(write.t_complete_ns - timeline.mono_anchor_ns),
                wall_text(timeline.wall_ns(write.t_invoke_ns)),
                wall_text(timeline.wall_ns(write.t_complete_ns)),
                write.outcome.value,
                write.db_copies,
                write.app_copies,
                write.write_class.value,
                write.origin.value,
            ]
        )
    return out.getvalue().encode("utf-8")


def wall_text(wall_ns: int) -> str:
    """``2024-05-01T12:00:00.123456789Z``: a wall-clock instant in ns, exactly."""
    seconds, rest = divmod(wall_ns, 1_000_000_000)
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%dT%H:%M:%S}.{rest:09d}Z"


def _seconds(ns: int) -> str:
    sign = "-" if ns < 0 else ""
    whole, rest = divmod(abs(ns), 1_000_000_000)
    return f"{sign}{whole}.{rest:09d}"


def telemetry_csv(telemetry: Telemetry) -> bytes:
    """One line per reading and one per gap, in time order (``t_ns`` is monotonic, as in
    the samples); values are written exactly (bytes and counters stay whole numbers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["t_ns", "source", "metric", "series", "value", "error", "detail"])
    rows: list[tuple[int, str, str, str, str, str, str]] = [
        (r.t_ns, r.metric.source.value, r.metric.value, r.series, _exact(r.value), "", "")
        for r in telemetry.readings
    ]
    rows.extend((g.t_ns, g.source.value, "", "", "", g.error, g.detail) for g in telemetry.gaps)
    rows.sort(key=lambda row: row[0])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _exact(value: float) -> str:
    number = float(value)  # an int is a float to the type checker, not at run time
    return str(int(number)) if number.is_integer() else repr(number)


def _finite(value: float | None) -> float | str | None:
    # JSON has no infinity; a 100 % target burns its (empty) budget infinitely fast.
    if value is None or math.isfinite(value):
        return value
    return str(value)
