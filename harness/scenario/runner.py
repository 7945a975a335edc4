"""``ScenarioRunner``: steady state, inject, observe, revert, verify.

Probes measure every business flow from outside for the whole run. The phases:

- baseline: the steady state must hold before anything is broken (else no inject);
- fault: the fault is injected and must prove it landed; a self-healing fault
  (a crash the stack recovers from by itself) stays until the stack is steady
  again, a sustained one (latency, a partition) for its hold time;
- recovery: from the revert until the steady state held for the stability period
  (or the observation limit);
- after: a short look that the recovery lasts.

Under every scenario runs the session's warehouse load (``harness.scenario.background``),
started before the warm-up and stopped after the after phase: its requests are part of
the steady state (the load must keep 90 % of its target rate), its writes join the
ledger, and what it did is evidence next to the probes.

An abort watch reverts the fault at once when a critical flow has been down longer
than the family's RTO plus the abort margin, or when a critical flow has spent more of
its error budget than ``max_error_budget_burn_pct`` allows (counted from the baseline).
After the run the write ledger is read back, the ERP invariants are checked and the
core judges everything: a self-healing fault's RTO from its injection and the
revert's own recovery, a held fault's RTO from its revert (``RtoClock``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.core import (
    EventKind,
    FlowSamples,
    Phase,
    RunData,
    RunVerdicts,
    Timeline,
    TimelineEvent,
    Verdict,
    evaluate_run,
    first_stable_instant,
)
from harness.core.abort import AbortLimits, abort_reason
from harness.core.ledger import WriteRecord
from harness.core.steady import (
    LOAD_FLOW,
    LoadFloor,
    critical_steady_intervals,
    system_steady_intervals,
    window_state,
)
from harness.core.verdict import RtoClock
from harness.errors import ConfigError, FaultDidNotLand
from harness.evidence.model import WarehouseLoad
from harness.faults.base import Fault, FaultRuntime, LandedEvidence
from harness.invariants import InvariantResult, check_invariants, invariant_verdicts
from harness.ledger import (
    AppKeyReader,
    DbReadBack,
    ReadBackFailed,
    ReadBackResult,
    WriteLedger,
    read_back,
)
from harness.levels import FaultFamily, ServiceLevels
from harness.odoo.client import OdooClient
from harness.odoo.errors import OdooError
from harness.odoo.seed import SeedCatalog
from harness.platform.base import Platform
from harness.probes import OdooEndpoint, ProbeSet, probe_settings
from harness.scenario.analysis import window_gate
from harness.scenario.background import BackgroundLoad, LoadPlan, load_dir
from harness.scenario.floor import explain, recovery_floor
from harness.scenario.readback import readback_verdict
from harness.scenario.rollout import GateResult
from harness.scenario.targets import durable_flows, flow_targets, recovery_target, steady_spec
from harness.scenario.watch import TimelineWatch
from harness.scenario.workload import FaultWindow, Workload, WorkloadFactory, witness_verdicts
from harness.telemetry import Telemetry, TelemetrySampler

TICK_S = 0.5
#: How long probes may run before the baseline for the stack to become steady.
WARM_UP_LIMIT_S = 60.0
#: How long the read-back waits for the app to serve again (after an abort the stack
#: may still be failing over when observation ends).
READ_BACK_WAIT_S = 120.0


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario: a fault of a family and how long to hold it."""

    name: str
    family: FaultFamily
    make_fault: Callable[[FaultRuntime], Fault]
    self_healing: bool = False
    """The stack recovers while the fault stands (a crash): revert once steady again."""
    hold_s: float = 20.0
    """For sustained faults: how long the fault stays before the harness reverts it."""
    leader_lost: bool = False
    """The fault takes the DB primary away (for the RTO floor)."""
    after_s: float = 15.0
    """How long the after phase looks that the recovery lasts (the runner's soak may
    make it longer). Long enough for about 75 samples per flow, so that one request
    stalled by a lock retry (Odoo sleeps up to 2**try s) is not the whole p95."""
    workloads: tuple[WorkloadFactory, ...] = ()
    """Traffic next to the probes whose verdicts join the scenario's (``workload``)."""
    witnesses: tuple[str, ...] = ()
    """Names of workloads at least one of which must see the fault while it stands, for a
    fault on something only they exercise (sessions in Redis, attachments in S3)."""


@dataclass(frozen=True)
class ScenarioResult:
    spec: ScenarioSpec
    timeline: Timeline
    flows: dict[str, FlowSamples]
    verdicts: tuple[Verdict, ...]
    """Every verdict: the run's own, then the ERP invariants'."""
    run: RunVerdicts
    invariant_verdicts: tuple[Verdict, ...]
    landed: LandedEvidence | None
    abort_reason: str | None
    floor_lines: tuple[str, ...]
    read_back: ReadBackResult
    invariants: tuple[InvariantResult, ...]
    wall_start_ns: int
    wall_end_ns: int
    telemetry: Telemetry
    """What the database, cache and ingress did meanwhile (``harness.telemetry``)."""
    logs: Mapping[str, str]
    """What each component logged during the scenario (``Platform.component_logs``)."""
    writes: tuple[WriteRecord, ...] = ()
    """Every write of the ledger as the verdicts judged it, in invoke order."""
    write_tenants: Mapping[str, str] = field(default_factory=dict)
    """Key to tenant database, for the writes that went to another tenant's database."""
    load: WarehouseLoad | None = None
    """What the background warehouse load did; None: the runner ran none."""

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    def failures(self) -> list[str]:
        return [v.sentence for v in self.verdicts if not v.passed]

    def summary(self) -> str:
        lines = [v.sentence for v in self.verdicts]
        return "\n".join([*lines, *self.floor_lines])


@dataclass
class _Events:
    """The run's timeline events, appended from several threads."""

    items: list[TimelineEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: EventKind, t_ns: int, label: str = "", phase: Phase | None = None) -> None:
        with self.lock:
            self.items.append(TimelineEvent(kind, t_ns, label, phase))

    def phase(self, phase: Phase) -> int:
        now = time.monotonic_ns()
        self.add(EventKind.PHASE_START, now, phase.value, phase)
        return now

    def snapshot(self) -> tuple[TimelineEvent, ...]:
        with self.lock:
            return tuple(self.items)

    def first(self, kind: EventKind) -> int | None:
        with self.lock:
            return next((e.t_ns for e in self.items if e.kind is kind), None)


@dataclass
class _Run:
    """The mutable state of one scenario run."""

    spec: ScenarioSpec
    mono0: int
    wall0: int
    ledger: WriteLedger
    events: _Events
    landed: LandedEvidence | None = None
    abort_reason: str | None = None

    @property
    def aborted(self) -> bool:
        return self.abort_reason is not None

    def abort(self, reason: str) -> None:
        self.abort_reason = reason
        self.events.add(EventKind.ABORT, time.monotonic_ns(), reason)


class ScenarioRunner:
    """Runs scenarios against one stack (any platform)."""

    def __init__(
        self,
        platform: Platform,
        levels: ServiceLevels,
        catalog: SeedCatalog,
        journal_dir: Path,
        on_result: Callable[[ScenarioResult], None] | None = None,
        *,
        soak_s: float = 0.0,
        load: LoadPlan | None = None,
    ) -> None:
        self.platform = platform
        self.load_plan = load
        """The warehouse load every scenario runs under; None: the probes alone."""
        self._on_result = on_result
        self.soak_s = soak_s
        """Minimum length of every scenario's after phase (the nightly profile's soak)."""
        self.levels = levels
        self.catalog = catalog
        self.runtime = FaultRuntime(platform, journal_dir)
        self.targets = flow_targets(levels)
        self.steady = steady_spec(levels)
        self._probes: ProbeSet | None = None
        self._load: BackgroundLoad | None = None

    def gate(self, t_from_ns: int, t_to_ns: int) -> GateResult:
        """The rollout analysis over the running scenario's probe samples."""
        if self._probes is None:
            return GateResult(False, "no scenario is running: nothing measures the release")
        return window_gate(self._probes.samples(), self.targets, t_from_ns, t_to_ns)

    def run(self, spec: ScenarioSpec) -> ScenarioResult:
        endpoints = self.platform.endpoints()
        log_offsets = self.platform.log_offsets()
        login = endpoints.app_login
        state = _Run(
            spec=spec,
            mono0=time.monotonic_ns(),
            wall0=time.time_ns(),
            ledger=WriteLedger(),
            events=_Events(),
        )
        probes = ProbeSet(
            OdooEndpoint(endpoints.ingress_url, login.db, login.login, login.password),
            self.catalog,
            state.ledger,
            probe_settings(self.levels),
        )
        watch = TimelineWatch(self.platform, state.mono0, state.wall0, state.events.add)
        sampler = TelemetrySampler(endpoints)
        workloads = [make(endpoints) for make in spec.workloads]
        load = None
        if self.load_plan is not None:
            load = BackgroundLoad(
                self.load_plan, endpoints, load_dir(self.runtime.run_dir, spec.name)
            )
        watch.start()
        sampler.start()
        probes.start()
        self._probes = probes
        try:
            if load is not None:
                load.start()
                self._load = load
            for workload in workloads:
                workload.start()
            # Warm-up (not judged): the stack may still be settling from the last scenario.
            warm_until = time.monotonic() + WARM_UP_LIMIT_S
            while not self._steady_now(probes) and time.monotonic() < warm_until:
                time.sleep(TICK_S)
            state.events.phase(Phase.BASELINE)
            time.sleep(self.steady.window_s + 2 * TICK_S)
            if self._steady_now(probes):
                self._break_and_observe(state, probes)
            else:
                state.abort(
                    f"{spec.name}: the steady state did not hold during the baseline "
                    f"({self._unsteady(probes)}), so nothing was injected; fix the baseline "
                    "first (see the probe samples)"
                )
        finally:
            self._probes = None
            self._load = None
            if load is not None:
                load.stop()
            for workload in workloads:
                workload.stop()
            probes.stop()
            watch.stop()
            telemetry = sampler.stop()
            state.events.add(EventKind.RUN_END, time.monotonic_ns(), "observation ends")
        logs = self.platform.component_logs(since=log_offsets)
        if load is not None:
            for entry in load.writes():
                state.ledger.add(*entry)
        result = self._judge(state, probes, telemetry, logs, workloads, load=load)
        if self._on_result is not None:
            self._on_result(result)
        return result

    def _break_and_observe(self, state: _Run, probes: ProbeSet) -> None:
        spec, events = state.spec, state.events
        recovery = recovery_target(self.levels, spec.family)
        observe_ns = int((recovery.rto_s + self.steady.stability_s + self.steady.window_s) * 1e9)
        abort = self.levels.settings.abort
        limits = AbortLimits(
            recovery.rto_s,
            abort.critical_flow_down_beyond_rto_s,
            abort.error_budget_window_days,
            abort.max_error_budget_burn_pct,
        )
        events.phase(Phase.FAULT)
        fault = spec.make_fault(self.runtime)
        try:
            t_inject = fault.inject()
            events.add(EventKind.FAULT_INJECTED, t_inject, fault.name)
            try:
                state.landed = fault.landed()
                label = state.landed.sentence
                if fault.hangs:
                    label += f"; {self._stall_thresholds()}"
                events.add(EventKind.FAULT_LANDED, time.monotonic_ns(), label)
            except FaultDidNotLand as exc:
                events.add(EventKind.FAULT_DID_NOT_LAND, time.monotonic_ns(), str(exc))
            if state.landed is not None:
                held_until = t_inject + (
                    observe_ns if spec.self_healing else int(spec.hold_s * 1e9)
                )
                self._observe(state, probes, held_until, limits, until_steady=spec.self_healing)
            t_revert = fault.revert()
            if t_revert is not None:
                events.add(EventKind.FAULT_REVERTED, t_revert, fault.name)
            for entry in fault.writes():
                state.ledger.add(*entry)
            if t_revert is None or state.landed is None or state.aborted:
                return
            events.phase(Phase.RECOVERY)
            # Recovery is judged from the revert: restarting what was killed disturbs too.
            self._observe(
                state,
                probes,
                time.monotonic_ns() + observe_ns,
                limits,
                until_steady=True,
                since=t_revert,
            )
            if not state.aborted:
                events.phase(Phase.AFTER)
                time.sleep(max(spec.after_s, self.soak_s))
        finally:
            fault.revert()

    def _stall_thresholds(self) -> str:
        """The stall thresholds a hanging fault is measured with, in words."""
        flows = ", ".join(
            f"{f.flow.value} {f.stall_threshold_ms:,} ms" for f in self.levels.critical_flows()
        )
        return f"an exchange unanswered past its flow's stall threshold counts as down ({flows})"

    # -- observing ----------------------------------------------------------------------
    @staticmethod
    def _timeline(state: _Run) -> Timeline:
        return Timeline(state.mono0, state.wall0, state.events.snapshot())

    def _load_floor(self) -> LoadFloor | None:
        return None if self._load is None else self._load.floor()

    def _steady_now(self, probes: ProbeSet) -> bool:
        now = time.monotonic_ns()
        steady = system_steady_intervals(
            probes.samples(), self.targets, self.steady.window_ns, now, self._load_floor()
        )
        return any(iv.start_ns <= now - 1 and iv.end_ns >= now for iv in steady)

    def _unsteady(self, probes: ProbeSet) -> str:
        """What is not steady now, in words (for the baseline that did not hold)."""
        now = time.monotonic_ns()
        floor = self._load_floor()
        per_flow = critical_steady_intervals(
            probes.samples(), self.targets, self.steady.window_ns, now, floor
        )
        names = [
            name
            for name, own in per_flow.items()
            if not any(iv.start_ns <= now - 1 < iv.end_ns for iv in own)
        ]
        if floor is not None and LOAD_FLOW in names:
            window = self.steady.window_ns
            ok = window_state(floor.samples, window, now).ok
            names[names.index(LOAD_FLOW)] = (
                f"{LOAD_FLOW} at {ok / (window / 1e9):.1f} OK answers/s, below its floor "
                f"{floor.floor_rps:g} req/s (90 % of its target {floor.target_rps:g})"
            )
        return "not steady: " + ", ".join(names) if names else "steady only at times"

    def _observe(
        self,
        state: _Run,
        probes: ProbeSet,
        deadline_ns: int,
        limits: AbortLimits,
        *,
        until_steady: bool,
        since: int | None = None,
    ) -> None:
        """Watch until ``deadline_ns`` or, with ``until_steady``, until steady for the
        stability period (from ``since`` when given, else from the inject); may abort."""
        injected = state.events.first(EventKind.FAULT_INJECTED)
        baseline = state.events.first(EventKind.PHASE_START) or state.mono0
        while injected is not None and time.monotonic_ns() < deadline_ns:
            time.sleep(TICK_S)
            now = time.monotonic_ns()
            flows = probes.samples()
            reason = abort_reason(
                flows, self.targets, limits, t_inject_ns=injected, baseline_ns=baseline, now_ns=now
            )
            if reason is not None:
                state.abort(reason)
                return
            if until_steady:
                steady = system_steady_intervals(
                    flows, self.targets, self.steady.window_ns, now, self._load_floor()
                )
                start = injected if since is None else since
                if first_stable_instant(steady, start, self.steady.stability_ns, now) is not None:
                    return

    # -- judging ------------------------------------------------------------------------
    def _judge(
        self,
        state: _Run,
        probes: ProbeSet,
        telemetry: Telemetry,
        logs: Mapping[str, str],
        workloads: Sequence[Workload],
        *,
        load: BackgroundLoad | None,
    ) -> ScenarioResult:
        spec, ledger = state.spec, state.ledger
        endpoints = self.platform.endpoints()
        tenants = sorted({t for t, _ in ledger.keys_by_place() if t is not None})
        logins = {login.db: login for login in (endpoints.app_login, *endpoints.tenants)}
        unknown = [t for t in tenants if t not in logins]
        if unknown:
            raise ConfigError(
                f"expected every tenant the run wrote to among the stack's databases "
                f"{sorted(logins)}, saw writes to {unknown}; write through endpoints().tenants"
            )
        with ExitStack() as stack:
            readers: dict[str, tuple[AppKeyReader, DbReadBack]] = {}
            for name in (endpoints.app_login.db, *tenants):
                login = logins[name]
                client = stack.enter_context(
                    OdooClient(endpoints.ingress_url, login.db, login.login, login.password, 60)
                )
                _log_in_once_serving(client, READ_BACK_WAIT_S)
                readers[name] = (
                    AppKeyReader(client, wait_s=READ_BACK_WAIT_S),
                    DbReadBack(endpoints.db.conninfo(dbname=name)),
                )
            own = readers.pop(endpoints.app_login.db)
            result = read_back(ledger, *own, tenants=readers)
        invariants = check_invariants(endpoints.db.conninfo())
        for name in tenants:
            invariants += tuple(
                replace(r, sentence=f"{r.sentence} (tenant database {name})")
                for r in check_invariants(endpoints.db.conninfo(dbname=name))
            )
        timeline = self._timeline(state)
        flows = probes.samples()
        records = ledger.records()
        run = evaluate_run(
            RunData(
                scenario=spec.name,
                family=spec.family.value,
                timeline=timeline,
                flows=flows,
                flow_targets=self.targets,
                steady=self.steady,
                recovery_target=recovery_target(self.levels, spec.family),
                ledger=records,
                read_back=result.read_back,
                rto_clock=RtoClock.INJECT if spec.self_healing else RtoClock.REVERT,
                durable_flows=durable_flows(self.levels),
                load=None if load is None else load.floor(),
            )
        )
        end = timeline.events[-1].t_ns
        injected = timeline.first(EventKind.FAULT_INJECTED)
        reverted = timeline.first(EventKind.FAULT_REVERTED)
        window = FaultWindow(
            spec.name,
            spec.family.value,
            None if injected is None else injected.t_ns,
            None if reverted is None else reverted.t_ns,
            (state.mono0, end),
        )
        judged = (
            readback_verdict(result, spec.name, spec.family.value, window.run),
            *invariant_verdicts(invariants, spec.name, spec.family.value, window.run),
            *witness_verdicts(spec.witnesses, workloads, window),
            *(v for workload in workloads for v in workload.verdicts(window)),
        )
        floor = recovery_floor(
            spec.family,
            self.platform.timings(),
            self.steady.window_s,
            leader_lost=spec.leader_lost,
            hold_s=None if spec.self_healing else spec.hold_s,
        )
        return ScenarioResult(
            spec=spec,
            timeline=timeline,
            flows=flows,
            verdicts=(*run.verdicts, *judged),
            run=run,
            invariant_verdicts=judged,
            landed=state.landed,
            abort_reason=state.abort_reason,
            floor_lines=explain(floor, run.recovery),
            read_back=result,
            invariants=invariants,
            wall_start_ns=state.wall0,
            wall_end_ns=time.time_ns(),
            telemetry=telemetry,
            logs=logs,
            writes=records,
            load=None if load is None else load.evidence(),
            write_tenants={
                key: tenant
                for (tenant, _), keys in ledger.keys_by_place().items()
                if tenant is not None
                for key in keys
            },
        )


def _log_in_once_serving(client: OdooClient, within_s: float) -> None:
    """Log ``client`` in as soon as the app answers, waiting at most ``within_s``."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            client.login()
            return
        except OdooError as exc:
            if time.monotonic() >= deadline:
                raise ReadBackFailed(
                    f"expected the app to serve again within {within_s:.0f} s of the end of "
                    f"observation, to read the write ledger back; saw {exc}. The stack did "
                    "not come back: its logs in the bundle say why"
                ) from exc
            time.sleep(1.0)
