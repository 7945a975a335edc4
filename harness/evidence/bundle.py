"""The evidence bundle: one folder per run under ``reports/``, written so it is never corrupt.

Every file is written atomically (a temporary file in the same folder, fsync, rename,
fsync of the folder). The marker ``INCOMPLETE`` is the first file written and the last
removed, by ``finish()``: a run that crashes leaves a bundle marked incomplete, never a
half-written file. Every byte goes through the secrets scrubber on its way to disk.

Layout (``docs/evidence.md`` describes every file)::

    <run id>/manifest.json            the environment (rewritten with the end time)
    <run id>/scenarios/<name>/        timeline.json, samples/<flow>.csv, verdicts.json,
                                      invariants.json, facts.json, ledger.csv,
                                      telemetry.csv, logs/<component>.log, load.json,
                                      load/<Locust's report files>
                                      (an errored scenario: facts.json only)
    <run id>/files/<name>             extra artefacts (``add_file``)
    <run id>/summary.json, controls.json, junit.xml, allure-results/, report.html,
    <run id>/metrics.prom, SHA256SUMS.pub, SHA256SUMS, SHA256SUMS.sig
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from harness.core.samples import FlowSamples, Outcome
from harness.core.verdict import VerdictKind
from harness.evidence import allure, chain, openmetrics
from harness.evidence.controls import ControlStatus, control_map
from harness.evidence.html import report_html
from harness.evidence.junit import junit_xml
from harness.evidence.load import LOAD_JSON, file_path, load_report, locust_files
from harness.evidence.model import (
    LEDGER_CSV,
    ErroredScenario,
    EvidenceError,
    JsonValue,
    RunManifest,
    ScenarioEvidence,
    ScenarioRecord,
    ledger_csv,
    ledger_json,
    recovery_json,
    safe_name,
    scenario_folder,
    slo_json,
    telemetry_csv,
    utc_text,
    verdict_json,
)
from harness.evidence.secrets import Scrubber
from harness.evidence.summary import (
    INCOMPLETE,
    MANIFEST,
    SUMMARY,
    RunSummary,
    ScenarioSummary,
    earlier_runs,
)
from harness.levels import Control

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file, or all of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json(value: JsonValue) -> bytes:
    return (json.dumps(value, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def samples_csv(samples: FlowSamples) -> bytes:
    """One line per probe: start and end (monotonic ns), outcome, detail."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["t_start_ns", "t_end_ns", "outcome", "detail"])
    names = {o.value: o.name.lower() for o in Outcome}
    for start, end, outcome, detail in zip(
        samples.starts, samples.ends, samples.outcomes, samples.details, strict=True
    ):
        writer.writerow([start, end, names[outcome], detail])
    return out.getvalue().encode("utf-8")


class EvidenceBundle:
    """One run's evidence folder; ``add_scenario`` as scenarios end, then ``finish``."""

    def __init__(
        self,
        reports_dir: Path,
        manifest: RunManifest,
        *,
        controls: Sequence[Control] = (),
        secrets: Sequence[str] = (),
        signing_key: Path | None = None,
        pushgateway_url: str | None = None,
    ) -> None:
        if not _RUN_ID.match(manifest.run_id):
            raise EvidenceError(
                f"expected a run id of letters, digits, '.', '_' or '-', saw "
                f"{manifest.run_id!r}; it names the bundle folder, so it must be a plain name"
            )
        self.reports_dir = reports_dir
        self.path = reports_dir / manifest.run_id
        self.manifest = manifest
        self.controls = tuple(controls)
        self.scrubber = Scrubber(tuple(secrets))
        self.signing_key = None if signing_key is None else chain.load_signing_key(signing_key)
        self.pushgateway_url = pushgateway_url
        self.scenarios: list[ScenarioRecord] = []
        self.finished = False
        try:
            self.path.mkdir(parents=True, exist_ok=False)
        except FileExistsError as exc:
            raise EvidenceError(
                f"expected no bundle folder for run {manifest.run_id}, saw {self.path} already "
                "there; give every run a fresh run id"
            ) from exc
        except OSError as exc:
            raise EvidenceError(
                f"expected to create the bundle folder {self.path}, saw {exc}; choose a "
                "writable reports folder"
            ) from exc
        self._write(INCOMPLETE, b"this run has not finished writing its evidence\n")
        self._write(MANIFEST, _json(manifest.to_json()))

    def _write(self, relative: str, data: bytes, *, scrub: bool = True) -> None:
        if self.finished:
            raise EvidenceError(
                f"expected to add {relative} before finish(), saw the bundle {self.path} "
                "already sealed; add every artefact before finishing"
            )
        try:
            write_atomic(self.path / relative, self.scrubber.data(data) if scrub else data)
        except OSError as exc:
            raise EvidenceError(
                f"expected to write {self.path / relative}, saw {exc}; free disk space or fix "
                "the reports folder's permissions (the bundle stays marked INCOMPLETE)"
            ) from exc

    def add_scenario(self, evidence: ScenarioRecord) -> None:
        """A judged scenario's files, or an errored one's ``facts.json``."""
        folder = scenario_folder(evidence.scenario)
        if folder in {scenario_folder(s.scenario) for s in self.scenarios}:
            raise EvidenceError(
                f"expected each scenario once in run {self.manifest.run_id}, saw "
                f"{evidence.scenario!r} again (folder {folder}); give repeated scenarios "
                "distinct names"
            )
        facts: dict[str, JsonValue] = {
            "scenario": evidence.scenario,
            "family": evidence.family,
            "controls": list(evidence.controls),
            "started_at": utc_text(evidence.started_at),
            "ended_at": utc_text(evidence.ended_at),
            "outcome": evidence.outcome.value,
            "passed": evidence.passed,
        }
        if isinstance(evidence, ErroredScenario):
            facts |= {
                "error_type": evidence.error_type,
                "error": evidence.message,
                "sentence": evidence.sentence,
                "trace": evidence.trace,
            }
        else:
            facts |= self._judged(folder, evidence)
        self._write(f"{folder}/facts.json", _json(facts))
        self.scenarios.append(evidence)

    def _judged(self, folder: str, evidence: ScenarioEvidence) -> dict[str, JsonValue]:
        """Write a judged scenario's files but ``facts.json``; return its facts."""
        timeline = evidence.timeline
        self._write(
            f"{folder}/timeline.json",
            _json(
                {
                    "mono_anchor_ns": timeline.mono_anchor_ns,
                    "wall_anchor_ns": timeline.wall_anchor_ns,
                    "events": [
                        {
                            "kind": e.kind.value,
                            "t_ns": e.t_ns,
                            "utc": timeline.clock(e.t_ns),
                            "label": e.label,
                            "phase": None if e.phase is None else e.phase.value,
                        }
                        for e in timeline.events
                    ],
                }
            ),
        )
        for flow, samples in sorted(evidence.flows.items()):
            self._write(f"{folder}/samples/{safe_name(flow)}.csv", samples_csv(samples))
        run = evidence.verdicts
        self._write(
            f"{folder}/verdicts.json",
            _json(
                {
                    "passed": evidence.passed,
                    "observed_until_ns": run.observed_until_ns,
                    "verdicts": [verdict_json(v) for v in evidence.all_verdicts],
                    "recovery": recovery_json(run.recovery),
                    "slo": [slo_json(s) for s in run.slo],
                    "ledger": ledger_json(run.ledger),
                }
            ),
        )
        invariants: list[JsonValue] = [
            verdict_json(v) for v in evidence.all_verdicts if v.kind is VerdictKind.INVARIANT
        ]
        self._write(f"{folder}/invariants.json", _json(invariants))
        if evidence.writes is not None:
            self._write(f"{folder}/{LEDGER_CSV}", ledger_csv(evidence.writes, timeline))
        if evidence.telemetry is not None:
            self._write(f"{folder}/telemetry.csv", telemetry_csv(evidence.telemetry))
        for component, text in sorted(evidence.logs.items()):
            self._write(f"{folder}/logs/{safe_name(component)}.log", text.encode("utf-8"))
        if evidence.load is not None:
            report = load_report(evidence.load, timeline, run.observed_until_ns)
            self._write(f"{folder}/{LOAD_JSON}", _json(report.to_json()))
            for name, data in locust_files(evidence.load):
                self._write(f"{folder}/{file_path(name)}", data)
        return {
            "fault": evidence.fault,
            "landed": list(evidence.landed),
            "abort_reason": evidence.abort_reason,
            "rto_floor": list(evidence.rto_floor),
            "critical_flows": list(evidence.critical_flows),
        }

    def add_file(self, name: str, data: bytes) -> None:
        """An extra artefact under ``files/`` (a relative POSIX path without ``..``)."""
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise EvidenceError(
                f"expected a relative file name inside the bundle, saw {name!r}; pass a name "
                "like 'locust/stats.csv'"
            )
        self._write(f"files/{relative.as_posix()}", data)

    def finish(self, ended_at: datetime | None = None) -> Path:
        """Write the reports, seal ``SHA256SUMS``, remove ``INCOMPLETE``; then push metrics."""
        end = ended_at or datetime.now(UTC)
        manifest = replace(self.manifest, ended_at=end)
        self._write(MANIFEST, _json(manifest.to_json()))
        summary = RunSummary(
            manifest.run_id,
            manifest.started_at,
            end,
            tuple(ScenarioSummary.of(s) for s in self.scenarios),
        )
        self._write(SUMMARY, _json(summary.to_json()))
        earlier = earlier_runs(self.reports_dir, exclude=manifest.run_id)
        statuses = control_map(self.controls, [*earlier, summary], end)
        control_entries: list[JsonValue] = [c.to_json() for c in statuses]
        self._write("controls.json", _json(control_entries))
        self._write("junit.xml", junit_xml(manifest.run_id, self.scenarios))
        for name, data in sorted(allure.allure_files(manifest, self.scenarios).items()):
            self._write(f"{allure.RESULTS}/{name}", data)
        self._write("report.html", report_html(manifest, self.scenarios, statuses).encode())
        metrics = openmetrics.openmetrics_text(
            manifest.run_id, self.scenarios, _evidenced_here(statuses, manifest.run_id)
        )
        self._write("metrics.prom", metrics.encode("utf-8"))
        self._seal(manifest.run_id, earlier)
        if self.pushgateway_url is not None:
            openmetrics.push(self.pushgateway_url, manifest.run_id, self.scrubber.text(metrics))
        return self.path

    def _seal(self, run_id: str, earlier: list[RunSummary]) -> None:
        previous: chain.PreviousLink | None = None
        if earlier:
            last = max(earlier, key=lambda r: (r.ended_at, r.run_id))
            sums = self.reports_dir / last.run_id / chain.SUMS
            previous = chain.PreviousLink(last.run_id, chain.sha256_file(sums))
        if self.signing_key is not None:
            self._write(chain.PUBLIC_KEY, chain.public_pem(self.signing_key))
        sums_bytes = chain.build_sums(self.path, run_id, previous)
        self._write(chain.SUMS, sums_bytes)
        if self.signing_key is not None:
            # Raw signature bytes: scrubbing them could only corrupt them.
            self._write(chain.SIGNATURE, self.signing_key.sign(sums_bytes), scrub=False)
        self.finished = True
        try:
            (self.path / INCOMPLETE).unlink()
            _fsync_dir(self.path)
        except OSError as exc:
            raise EvidenceError(
                f"expected to remove {self.path / INCOMPLETE} after sealing, saw {exc}; the "
                "bundle is sealed: delete the marker by hand"
            ) from exc


def _evidenced_here(statuses: Sequence[ControlStatus], run_id: str) -> list[tuple[str, bool]]:
    return [
        (
            s.control_id,
            not s.flagged and any(e.run_id == run_id and e.passed for e in s.evidence),
        )
        for s in statuses
    ]
