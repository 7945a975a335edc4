"""The warehouse load in the evidence: its figures per flow and phase, and Locust's files.

``load_report`` is the one place that computes what the bundle's ``load.json``, the
report's "Warehouse load" table and the Allure attachment show. Its figures follow the
probes' SLO conventions, by the same code (``harness.core.slo.phase_slo``): a request
belongs to the phase in which it started, one still running when its phase ended is
counted in no phase, p95 is nearest-rank over the OK answers. Throughput is OK answers
per second of the phase; failures are the requests that did not end OK. The phases are
the timeline's, up to the end of observation, as for the probes. The load has no
targets of its own (``harness.core.steady``): it is reported here, not judged.

``locust_files`` reads Locust's own report files, those it wrote, for the bundle's
``scenarios/<name>/load/`` and the scenario's Allure result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from harness.core.samples import FlowSamples
from harness.core.slo import phase_slo
from harness.core.targets import FlowTarget
from harness.core.timeline import Phase, PhaseWindow, Timeline
from harness.evidence.model import EvidenceError, JsonValue, WarehouseLoad, safe_name

LOAD_JSON = "load.json"
"""The load's figures in a scenario's folder."""
LOAD_FOLDER = "load"
"""Locust's own report files, inside a scenario's folder."""
MEDIA_TYPES = {
    ".html": "text/html",
    ".csv": "text/csv",
    ".json": "application/json",
    ".log": "text/plain",
}
"""The media type of each kind of file Locust writes (others: application/octet-stream)."""

_NS_PER_S = 1_000_000_000
# phase_slo needs a target; the load has none, and only its counts and p95 are read.
_UNJUDGED = FlowTarget("warehouse load", critical=False, availability_pct=0.0, p95_ms=1e12)


@dataclass(frozen=True, slots=True)
class LoadFigures:
    """One flow's requests (or all flows') over one phase ``[t_from_ns, t_to_ns)``."""

    flow: str
    phase: Phase
    t_from_ns: int
    t_to_ns: int
    requests: int
    ok: int
    p95_ms: float | None
    """Nearest-rank p95 of the OK answers (None: no OK answer)."""

    @property
    def failures(self) -> int:
        return self.requests - self.ok

    @property
    def throughput_rps(self) -> float | None:
        """OK answers per second of the phase (None: the phase lasted no time)."""
        span = self.t_to_ns - self.t_from_ns
        return None if span <= 0 else self.ok * _NS_PER_S / span

    def to_json(self, *, flow: bool = False) -> dict[str, JsonValue]:
        named: dict[str, JsonValue] = {"flow": self.flow} if flow else {}
        return named | {
            "phase": self.phase.value,
            "t_from_ns": self.t_from_ns,
            "t_to_ns": self.t_to_ns,
            "requests": self.requests,
            "ok": self.ok,
            "failures": self.failures,
            "throughput_rps": self.throughput_rps,
            "p95_ms": self.p95_ms,
        }


@dataclass(frozen=True)
class LoadReport:
    """A scenario's load and its figures, per phase for all flows and per flow."""

    load: WarehouseLoad
    all_flows: tuple[LoadFigures, ...]
    """Every request together, one entry per phase (what the load floor counts)."""
    per_flow: tuple[LoadFigures, ...]
    """Flow by flow (sorted by name), phase by phase."""

    def to_json(self) -> dict[str, JsonValue]:
        load = self.load
        return {
            "profile": load.profile,
            "target_rps": load.target_rps,
            "floor_rps": load.floor_rps,
            "writes": load.writes,
            "started_ns": load.started_ns,
            "stopped_ns": load.stopped_ns,
            "exit_code": load.exit_code,
            "ended": load.ended,
            "files": [file_path(name) for name in locust_names(load)],
            "all_flows": [f.to_json() for f in self.all_flows],
            "flows": [f.to_json(flow=True) for f in self.per_flow],
        }


def _figures(samples: FlowSamples, window: PhaseWindow) -> LoadFigures:
    counted = phase_slo(samples, _UNJUDGED, window)
    return LoadFigures(
        samples.flow,
        window.phase,
        window.t_from_ns,
        window.t_to_ns,
        counted.count,
        counted.ok,
        counted.p95_ms,
    )


def load_report(load: WarehouseLoad, timeline: Timeline, until_ns: int) -> LoadReport:
    """The load's figures over the phases of ``timeline`` observed until ``until_ns``."""
    windows = timeline.phases(until_ns)
    return LoadReport(
        load,
        tuple(_figures(load.requests, w) for w in windows),
        tuple(_figures(load.flows[flow], w) for flow in sorted(load.flows) for w in windows),
    )


def locust_names(load: WarehouseLoad) -> tuple[str, ...]:
    """The names Locust's files go by in the bundle, in the order of ``load.files``."""
    return tuple(safe_name(path.name) for path in load.files)


def file_path(name: str) -> str:
    """Where Locust's file ``name`` is, relative to the scenario's folder (POSIX)."""
    return PurePosixPath(LOAD_FOLDER, name).as_posix()


def media_type(name: str) -> str:
    return MEDIA_TYPES.get(PurePosixPath(name).suffix, "application/octet-stream")


def locust_files(load: WarehouseLoad) -> tuple[tuple[str, bytes], ...]:
    """``(name, content)`` of each of Locust's report files (``locust_names``)."""
    files: list[tuple[str, bytes]] = []
    for name, path in zip(locust_names(load), load.files, strict=True):
        try:
            files.append((name, path.read_bytes()))
        except OSError as exc:
            raise EvidenceError(
                f"expected Locust's report file {path} (written when the scenario's load "
                f"stopped), saw {type(exc).__name__}: {exc}; keep the run folder until the "
                "session has written its evidence bundle"
            ) from exc
    return tuple(files)
