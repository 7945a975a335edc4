"""Verdicts: every pass/fail a run yields, each with target, measurement, window, samples.

``evaluate_run`` is the one entry point: it takes everything a run recorded
(``RunData``) and returns every verdict plus the reports behind them (``RunVerdicts``).
Each verdict carries a sentence a person understands on its own: seconds with one
decimal (more when one decimal would hide which side of the target a figure is on),
counts with thousands separators, instants as ``HH:MM:SS.mmm`` UTC.

What is judged:

- ABORT: one failing verdict per ABORT event.
- LANDED: when a fault was injected, it passes only if the fault recorded
  FAULT_LANDED at or after injection and never FAULT_DID_NOT_LAND; no proof fails.
- RTO: when a fault was injected and a recovery target is given, on the clock the
  fault calls for (``RtoClock``): a fault the stack must heal by itself (a crash) is
  judged on ``t_rec - t_inject``; a fault the harness holds for a fixed time (latency,
  a partition) on ``t_rec_revert - t_revert``, the hold being the harness's wait, not
  the stack's. The sentence names the clock. On the inject clock the revert's own
  recovery is judged too (a second RTO verdict): restarting what the fault killed,
  a rejoining leader or a rollback that breaks the steady state fails like any outage.
- RPO and ledger INVARIANT (integrity): when the run kept a write ledger. Without a
  recovery target the promise is no loss at all (0 s, 0 writes). Flows declared
  ``durable_writes`` get their own RPO verdict that allows no lost write at all,
  whatever the family's RPO says.
- SLO: availability, p95 and (when targeted) p99 per flow in the gating phases
  (baseline and after by default); in the fault and recovery phases the steady state
  is expected to break and the RTO verdicts judge that, while each critical flow's
  p95 is held to the family's degraded p95. Every phase's figures are in
  ``RunVerdicts.slo``.

The end of observation is the RUN_END event, else the last sample end, else the last
event.
"""

from __future__ import annotations

import enum
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.core.ledger import (
    LedgerReport,
    ReadBack,
    WriteOrigin,
    WriteOutcome,
    WriteRecord,
    reconcile,
)
from harness.core.recovery import Holdout, RecoveryReport, analyse_recovery
from harness.core.samples import FlowSamples
from harness.core.slo import PhaseSlo, slo_by_phase
from harness.core.steady import LOAD_FLOW, LoadFloor
from harness.core.targets import FlowTarget, RecoveryTarget, SteadyStateSpec
from harness.core.timeline import EventKind, Phase, Timeline

LEDGER_SERIES = "write-ledger"
"""``SampleRange.series`` naming the write ledger (indices into ``RunData.ledger``)."""

_NS_PER_S = 1_000_000_000
_KEYS_SHOWN = 5


class RtoClock(enum.Enum):
    """Which instant an RTO target is judged from."""

    INJECT = "inject"
    """The stack must heal while the fault stands (a crash): ``t_rec - t_inject``."""
    REVERT = "revert"
    """The harness holds the fault for a fixed time: ``t_rec_revert - t_revert``."""


class VerdictKind(enum.Enum):
    RTO = "rto"
    RPO = "rpo"
    SLO = "slo"
    INVARIANT = "invariant"
    LANDED = "landed"
    ABORT = "abort"


@dataclass(frozen=True, slots=True)
class SampleRange:
    """Samples ``[first, stop)`` of probe flow ``series`` (or of the write ledger)."""

    series: str
    first: int
    stop: int


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    scenario: str
    family: str
    passed: bool
    target: float | None
    measured: float | None
    unit: str
    window: tuple[int, int]
    sample_refs: tuple[SampleRange, ...]
    sentence: str


@dataclass(frozen=True)
class RunData:
    """Everything one run recorded, with the targets it is judged against."""

    scenario: str
    family: str
    timeline: Timeline
    flows: Mapping[str, FlowSamples]
    flow_targets: tuple[FlowTarget, ...]
    steady: SteadyStateSpec = field(default_factory=SteadyStateSpec)
    recovery_target: RecoveryTarget | None = None
    ledger: Sequence[WriteRecord] = ()
    read_back: ReadBack | None = None
    gating_phases: frozenset[Phase] = frozenset({Phase.BASELINE, Phase.AFTER})
    rto_clock: RtoClock = RtoClock.INJECT
    durable_flows: frozenset[str] = frozenset()
    """Flows declared ``durable_writes: true``: any lost acknowledged write fails."""
    load: LoadFloor | None = None
    """The warehouse load's part of the steady state; None: the run had no load."""


@dataclass(frozen=True)
class RunVerdicts:
    verdicts: tuple[Verdict, ...]
    recovery: RecoveryReport | None
    slo: tuple[PhaseSlo, ...]
    ledger: LedgerReport | None
    observed_until_ns: int

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def failed(self) -> tuple[Verdict, ...]:
        return tuple(v for v in self.verdicts if not v.passed)


def count(n: int) -> str:
    return f"{n:,}"


def plain(value: float) -> str:
    """A target as written: 30 -> '30', 99.9 -> '99.9', 1500 -> '1,500'."""
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text or "0"


def figure(value: float, target: float | None, decimals: int = 1) -> str:
    """``value`` to ``decimals`` places, more if rounding would make it look equal to target."""
    text = f"{value:,.{decimals}f}"
    while target is not None and value != target and decimals < 6:
        if float(text.replace(",", "")) != target:
            break
        decimals += 1
        text = f"{value:,.{decimals}f}"
    return text


def _acked(ledger: LedgerReport) -> str:
    """The acknowledged writes, per origin when the warehouse load wrote too."""
    load = ledger.acked_by.get(WriteOrigin.LOAD, 0)
    if not load:
        return f"{count(ledger.acked)} acknowledged writes"
    probe = ledger.acked_by.get(WriteOrigin.PROBE, 0)
    return f"{count(probe)} probe and {count(load)} load acknowledged writes"


def _keys(keys: Sequence[str]) -> str:
    shown = ", ".join(keys[:_KEYS_SHOWN])
    more = len(keys) - _KEYS_SHOWN
    return f"{shown} and {count(more)} more" if more > 0 else shown


def _ranges(series: str, indices: Iterable[int]) -> tuple[SampleRange, ...]:
    result: list[SampleRange] = []
    for index in sorted(indices):
        if result and result[-1].stop == index:
            result[-1] = SampleRange(series, result[-1].first, index + 1)
        else:
            result.append(SampleRange(series, index, index + 1))
    return tuple(result)


def observation_end(timeline: Timeline, flows: Mapping[str, FlowSamples]) -> int:
    end = timeline.first(EventKind.RUN_END)
    if end is not None:
        return end.t_ns
    sample_ends = [max(s.ends) for s in flows.values() if len(s)]
    if sample_ends:
        return max(sample_ends)
    return timeline.events[-1].t_ns if timeline.events else timeline.mono_anchor_ns


class _Judge:
    """Builds verdicts for one run; holds what every sentence needs."""

    def __init__(self, run: RunData, until_ns: int) -> None:
        self.run = run
        self.until_ns = until_ns
        self.clock = run.timeline.clock

    def verdict(
        self,
        kind: VerdictKind,
        passed: bool,
        sentence: str,
        *,
        window: tuple[int, int],
        target: float | None = None,
        measured: float | None = None,
        unit: str = "",
        refs: tuple[SampleRange, ...] = (),
    ) -> Verdict:
        run = self.run
        return Verdict(
            kind, run.scenario, run.family, passed, target, measured, unit, window, refs, sentence
        )

    def aborts(self) -> list[Verdict]:
        return [
            self.verdict(
                VerdictKind.ABORT,
                False,
                f"{self.run.scenario} aborted at {self.clock(event.t_ns)}: {event.label}",
                window=(event.t_ns, event.t_ns),
            )
            for event in self.run.timeline.of_kind(EventKind.ABORT)
        ]

    def landed(self) -> list[Verdict]:
        timeline = self.run.timeline
        injected = timeline.first(EventKind.FAULT_INJECTED)
        if injected is None:
            return []
        name, at = self.run.scenario, self.clock(injected.t_ns)
        missed = timeline.first(EventKind.FAULT_DID_NOT_LAND, injected.t_ns)
        proof = timeline.first(EventKind.FAULT_LANDED, injected.t_ns)
        if missed is not None:
            passed, when = False, missed.t_ns
            sentence = f"{name} fault injected at {at} did not land: {missed.label}"
        elif proof is None:
            passed, when = False, self.until_ns
            sentence = (
                f"{name} fault injected at {at} never proved it landed, so nothing can be "
                "claimed; the fault must record FAULT_LANDED with what it measured"
            )
        else:
            passed, when = True, proof.t_ns
            sentence = f"{name} fault injected at {at} landed: {proof.label}"
        return [self.verdict(VerdictKind.LANDED, passed, sentence, window=(injected.t_ns, when))]

    def rto(
        self, report: RecoveryReport, target: RecoveryTarget, ledger: LedgerReport | None
    ) -> list[Verdict]:
        """The RTO verdict on the run's clock; on the inject clock, the revert's too."""
        if self.run.rto_clock is RtoClock.REVERT and report.t_revert_ns is not None:
            return [self._rto_from(report, target, ledger, from_revert=True)]
        verdicts = [self._rto_from(report, target, ledger, from_revert=False)]
        # An aborted run reverted at once and stopped watching: its ABORT verdict says so.
        aborted = self.run.timeline.first(EventKind.ABORT) is not None
        if report.t_revert_ns is not None and not aborted:
            verdicts.append(self._rto_from(report, target, None, from_revert=True))
        return verdicts

    def _rto_from(
        self,
        report: RecoveryReport,
        target: RecoveryTarget,
        ledger: LedgerReport | None,
        *,
        from_revert: bool,
    ) -> Verdict:
        run = self.run
        name = run.scenario
        if from_revert and report.t_revert_ns is not None:
            t_from, t_rec = report.t_revert_ns, report.t_rec_revert_ns
            holdout = report.revert_holdout
            outage_ns = report.revert_outage_ns
        else:
            t_from, t_rec, holdout = report.t_inject_ns, report.t_rec_ns, report.holdout
            outage_ns = report.outage_ns
        held = run.rto_clock is RtoClock.REVERT
        if not from_revert:
            clock = "from the injection (the stack heals by itself while the fault stands)"
        elif held:
            hold = (t_from - report.t_inject_ns) / _NS_PER_S
            clock = (
                f"from the revert (the harness held the fault {figure(hold, None)} s, from "
                f"{self.clock(report.t_inject_ns)}; the hold is no part of the stack's RTO)"
            )
        else:
            clock = (
                f"from the revert at {self.clock(t_from)} (restoring what the fault took "
                "must not break the steady state either)"
            )
        window_end = self.until_ns if t_rec is None else t_rec + report.stability_ns
        refs = tuple(
            SampleRange(
                flow,
                bisect_left(run.flows[flow].starts, t_from - report.window_ns),
                bisect_left(run.flows[flow].starts, window_end),
            )
            for flow in report.critical_flows
            if flow in run.flows
        )
        window = (t_from, window_end)
        outage_from = min(
            (max(o.start_ns, t_from) for o in report.outages if o.end_ns > t_from),
            default=None,
        )
        lost = (
            ""
            if ledger is None
            else f"; {count(len(ledger.lost))} of {count(ledger.acked)} acknowledged writes lost"
        )
        start = "no outage" if outage_from is None else f"outage from {self.clock(outage_from)}"
        if outage_from is not None and t_rec is not None and outage_from > t_rec:
            # Steady (and stable) before anything failed: the outage came after recovery;
            # the next phase's verdicts judge it.
            start = f"no outage until then; a later outage from {self.clock(outage_from)}"
        what = "RTO" if not from_revert or held else "recovery after the revert"

        def rto_verdict(passed: bool, sentence: str, measured: float | None = None) -> Verdict:
            return self.verdict(
                VerdictKind.RTO,
                passed,
                sentence,
                window=window,
                target=target.rto_s,
                measured=measured,
                unit="s",
                refs=refs,
            )

        if not report.critical_flows:
            return rto_verdict(
                False,
                f"{name} recovery cannot be measured: no flow is marked critical; mark the "
                "flows whose steady state defines recovery as critical in service levels",
            )
        details = self._decomposition(report, holdout, outage_ns, from_revert=from_revert)
        if t_rec is None:
            observed = (self.until_ns - t_from) / _NS_PER_S
            return rto_verdict(
                False,
                f"{name} {what} not recovered within {figure(observed, None)} s of observation "
                f"{clock} (target {plain(target.rto_s)} s; {start}, not steady for "
                f"{plain(report.stability_ns / _NS_PER_S)} s by {self.clock(self.until_ns)})"
                f"{details}{lost}",
            )
        rto_ns = t_rec - t_from
        rto = rto_ns / _NS_PER_S
        passed = rto_ns <= round(target.rto_s * _NS_PER_S)
        verb = "within" if passed else "exceeds"
        return rto_verdict(
            passed,
            f"{name} {what} {figure(rto, target.rto_s)} s {clock} {verb} target "
            f"{plain(target.rto_s)} s ({start}, steady again at {self.clock(t_rec)})"
            f"{details}{lost}",
            rto,
        )

    def _decomposition(
        self,
        report: RecoveryReport,
        holdout: Holdout | None,
        outage_ns: int,
        *,
        from_revert: bool,
    ) -> str:
        def after_inject(t_ns: int | None, what: str) -> str | None:
            if t_ns is None:
                return None
            return f"{what} +{figure((t_ns - report.t_inject_ns) / _NS_PER_S, None)} s"

        parts: list[str | None] = []
        if from_revert:
            if report.rto_ns is not None:
                since_inject = figure(report.rto_ns / _NS_PER_S, None)
                parts.append(f"first steady again {since_inject} s after the injection")
        else:
            parts += [
                after_inject(report.t_detect_ns, "detected"),
                after_inject(report.t_failover_ns, "DB failover"),
                after_inject(report.t_app_reconnect_ns, "app reconnected"),
            ]
            after_revert = report.rec_after_revert_ns
            if after_revert is not None:
                side = "after" if after_revert >= 0 else "before"
                parts.append(
                    f"steady {figure(abs(after_revert) / _NS_PER_S, None)} s {side} revert"
                )
        parts.append(f"total outage {figure(outage_ns / _NS_PER_S, None)} s")
        parts.append(self._holdout(report, holdout, from_revert=from_revert))
        return "; " + ", ".join(p for p in parts if p is not None)

    def _holdout(
        self, report: RecoveryReport, held: Holdout | None, *, from_revert: bool
    ) -> str | None:
        """Which critical flow held the steady state back, and on which condition."""
        if held is None:
            return None
        target = next((t for t in self.run.flow_targets if t.name == held.flow), None)
        state = held.window
        window_s = plain(report.window_ns / _NS_PER_S)
        if held.steady_from_ns is None:
            head = f"{held.flow} not steady by the end (its last {window_s} s"
        else:
            base, mark = (
                (report.t_revert_ns, " after the revert")
                if from_revert and report.t_revert_ns is not None
                else (report.t_inject_ns, "")
            )
            at = figure((held.steady_from_ns - base) / _NS_PER_S, None)
            head = f"{held.flow} steady again last, at +{at} s{mark} (its {window_s} s before"
        load = self.run.load
        if held.flow == LOAD_FLOW and load is not None:
            rate = state.ok / (report.window_ns / _NS_PER_S)
            return (
                f"{head}: {count(state.ok)} OK answers of {count(state.count)} requests = "
                f"{rate:.1f} req/s, below its floor {plain(load.floor_rps)} req/s = "
                f"{plain(float(load.min_share * 100))} % of its target {plain(load.target_rps)} "
                "req/s; the load generator was starved or its requests failed)"
            )
        if state.count == 0:
            return f"{head}: no sample)"
        pct = 100 * state.ok / state.count
        share = f"{count(state.ok)} of {count(state.count)} OK = {pct:.2f} %"
        if target is not None:
            share += f" against {plain(target.availability_pct)} %"
        parts = [share]
        if state.p95_ns is not None:
            p95 = f"p95 {count(round(state.p95_ns / 1e6))} ms"
            if target is not None:
                p95 += f" against {plain(target.p95_ms)} ms"
            parts.append(p95)
        return f"{head}: {', '.join(parts)})"

    def rpo(self, ledger: LedgerReport) -> Verdict:
        run = self.run
        target = run.recovery_target or RecoveryTarget(run.family, 0.0, 0.0, 0)
        window = _ledger_window(run.ledger)
        rpo = ledger.rpo_ns / _NS_PER_S
        lost = len(ledger.lost)
        passed = ledger.rpo_ns <= round(target.rpo_s * _NS_PER_S) and lost <= target.rpo_writes
        verb = "within" if passed else "misses"
        detail = f"{count(lost)} of {_acked(ledger)} lost"
        if lost:
            detail += f" ({_keys([w.key for w in ledger.lost])}"
            late = ledger.lost_after_inject
            detail += f"; {count(late)} acknowledged after the fault)" if late else ")"
        unknown = len(ledger.unknown_present) + len(ledger.unknown_absent)
        if unknown:
            detail += (
                f"; {count(unknown)} unknown writes resolved by read-back "
                f"({count(len(ledger.unknown_present))} present, "
                f"{count(len(ledger.unknown_absent))} absent)"
            )
        sentence = (
            f"{run.scenario} RPO {figure(rpo, target.rpo_s)} s {verb} target "
            f"{plain(target.rpo_s)} s and {count(target.rpo_writes)} lost writes: {detail}"
        )
        refs = _ranges(LEDGER_SERIES, (w.index for w in ledger.lost))
        return self.verdict(
            VerdictKind.RPO,
            passed,
            sentence,
            window=window,
            target=target.rpo_s,
            measured=rpo,
            unit="s",
            refs=refs,
        )

    def durable(self, ledger: LedgerReport) -> Verdict:
        """Flows declared ``durable_writes: true`` may lose no acknowledged write at all."""
        run = self.run
        durable = run.durable_flows
        names = ", ".join(sorted(durable))
        acked = sum(1 for r in run.ledger if r.outcome is WriteOutcome.OK and r.flow in durable)
        lost = [w for w in ledger.lost if w.flow in durable]
        head = (
            f"{run.scenario} durable writes ({names}): {count(len(lost))} of {count(acked)} "
            "acknowledged writes lost"
        )
        if lost:
            sentence = (
                f"{head} ({_keys([w.key for w in lost])}); durable_writes: true allows none, "
                "whatever the family's RPO says"
            )
        else:
            sentence = f"{head}, as durable_writes: true requires"
        return self.verdict(
            VerdictKind.RPO,
            not lost,
            sentence,
            window=_ledger_window(run.ledger),
            target=0.0,
            measured=float(len(lost)),
            unit="writes",
            refs=_ranges(LEDGER_SERIES, (w.index for w in lost)),
        )

    def no_read_back(self) -> Verdict:
        run = self.run
        sentence = (
            f"{run.scenario} RPO unknown: the write ledger holds {count(len(run.ledger))} "
            "writes but nothing was read back; read every key back after recovery"
        )
        window = _ledger_window(run.ledger)
        target = 0.0 if run.recovery_target is None else run.recovery_target.rpo_s
        return self.verdict(
            VerdictKind.RPO, False, sentence, window=window, target=target, unit="s"
        )

    def integrity(self, ledger: LedgerReport) -> Verdict:
        run = self.run
        problems: list[str] = []
        if ledger.duplicates:
            dup = [f"{key} x{copies}" for key, copies in ledger.duplicates]
            problems.append(f"{count(len(dup))} keys held more than once ({_keys(dup)})")
        if ledger.failed_present:
            problems.append(
                f"{count(len(ledger.failed_present))} writes reported failed but present "
                f"({_keys(ledger.failed_present)})"
            )
        if ledger.unexpected:
            problems.append(
                f"{count(len(ledger.unexpected))} keys present that the ledger never wrote "
                f"({_keys(ledger.unexpected)})"
            )
        violations = ledger.integrity_violations
        if problems:
            sentence = f"{run.scenario} write-ledger integrity violated: " + "; ".join(problems)
        else:
            sentence = (
                f"{run.scenario} write-ledger integrity holds: {count(ledger.written)} writes, "
                "no duplicate, no failed write present, no unexpected key"
            )
        bad = set(ledger.failed_present) | {key for key, _ in ledger.duplicates}
        refs = _ranges(LEDGER_SERIES, (i for i, r in enumerate(run.ledger) if r.key in bad))
        return self.verdict(
            VerdictKind.INVARIANT,
            violations == 0,
            sentence,
            window=_ledger_window(run.ledger),
            target=0.0,
            measured=float(violations),
            unit="keys",
            refs=refs,
        )

    def degraded(self, figures: PhaseSlo, limit_ms: float) -> Verdict:
        """A critical flow's p95 while the fault stands, against the family's degraded p95.

        Failed samples are the RTO's and availability's business; this judges how slow
        the flow was when it did answer. No OK sample at all passes (nothing answered
        slowly: the outage is judged by the RTO).
        """
        measured = figures.p95_ms
        during = "while the fault stood" if figures.phase is Phase.FAULT else "while recovering"
        where = (
            f"{during} ({self.clock(figures.t_from_ns)}-"
            f"{self.clock(figures.t_to_ns)}, {count(figures.ok)} OK samples)"
        )
        if measured is None:
            met = True
            text = f"{self.run.scenario} {figures.flow} had no OK sample {where}"
        else:
            met = measured <= limit_ms
            verb = "within" if met else "exceeds"
            text = (
                f"{self.run.scenario} {figures.flow} p95 latency {figure(measured, limit_ms, 0)} "
                f"ms {verb} the degraded target {plain(limit_ms)} ms {where}"
            )
        return self.verdict(
            VerdictKind.SLO,
            met,
            text,
            window=(figures.t_from_ns, figures.t_to_ns),
            target=limit_ms,
            measured=measured,
            unit="ms",
            refs=(SampleRange(figures.flow, figures.first_index, figures.stop_index),),
        )

    def slo(self, figures: PhaseSlo, target: FlowTarget) -> list[Verdict]:
        name = self.run.scenario
        window = (figures.t_from_ns, figures.t_to_ns)
        refs = (SampleRange(figures.flow, figures.first_index, figures.stop_index),)
        where = (
            f"in {figures.phase.value} ({self.clock(figures.t_from_ns)}-"
            f"{self.clock(figures.t_to_ns)}, {count(figures.count)} samples"
        )
        if figures.availability_pct is None:
            sentence = (
                f"{name} {figures.flow} had no samples {where}): nothing shows it met its "
                "targets; check that its probe ran"
            )
            return [
                self.verdict(
                    VerdictKind.SLO,
                    False,
                    sentence,
                    window=window,
                    target=target.availability_pct,
                    unit="%",
                    refs=refs,
                )
            ]
        burn = figures.budget_burn
        burn_text = "inf" if burn == float("inf") else figure(burn or 0.0, None, 2)
        avail_verb = "meets" if figures.availability_met else "misses"
        result = [
            self.verdict(
                VerdictKind.SLO,
                figures.availability_met,
                f"{name} {figures.flow} availability "
                f"{figure(figures.availability_pct, target.availability_pct, 2)} % {avail_verb} "
                f"target {plain(target.availability_pct)} % {where}, error-budget burn "
                f"{burn_text})",
                window=window,
                target=target.availability_pct,
                measured=figures.availability_pct,
                unit="%",
                refs=refs,
            )
        ]
        for label, measured, limit, met in (
            ("p95", figures.p95_ms, target.p95_ms, figures.p95_met),
            ("p99", figures.p99_ms, target.p99_ms, figures.p99_met),
        ):
            if limit is None:
                continue
            if measured is None:
                text = f"{name} {figures.flow} {label} latency has no OK sample {where})"
            else:
                verb = "within" if met else "exceeds"
                text = (
                    f"{name} {figures.flow} {label} latency {figure(measured, limit, 0)} ms "
                    f"{verb} target {plain(limit)} ms {where})"
                )
            result.append(
                self.verdict(
                    VerdictKind.SLO,
                    met,
                    text,
                    window=window,
                    target=limit,
                    measured=measured,
                    unit="ms",
                    refs=refs,
                )
            )
        return result


def _ledger_window(records: Sequence[WriteRecord]) -> tuple[int, int]:
    if not records:
        return (0, 0)
    return (min(r.t_invoke_ns for r in records), max(r.t_complete_ns for r in records))


def evaluate_run(run: RunData) -> RunVerdicts:
    """Every verdict of one run, with the reports they were computed from."""
    until = observation_end(run.timeline, run.flows)
    judge = _Judge(run, until)
    verdicts = judge.aborts() + judge.landed()
    injected = run.timeline.first(EventKind.FAULT_INJECTED)
    t_inject = None if injected is None else injected.t_ns

    ledger: LedgerReport | None = None
    if run.read_back is not None:
        ledger = reconcile(run.ledger, run.read_back, t_inject)

    recovery = analyse_recovery(
        run.flows, run.flow_targets, run.steady, run.timeline, until, load=run.load
    )
    if recovery is not None and run.recovery_target is not None:
        verdicts.extend(judge.rto(recovery, run.recovery_target, ledger))
    if ledger is not None:
        verdicts.append(judge.rpo(ledger))
        if run.durable_flows:
            verdicts.append(judge.durable(ledger))
        verdicts.append(judge.integrity(ledger))
    elif run.ledger:
        verdicts.append(judge.no_read_back())

    windows = run.timeline.phases(until)
    slo = slo_by_phase(run.flows, run.flow_targets, windows)
    by_name = {t.name: t for t in run.flow_targets}
    degraded = None if run.recovery_target is None else run.recovery_target.degraded_p95_ms
    for figures in slo:
        if figures.phase in run.gating_phases:
            verdicts.extend(judge.slo(figures, by_name[figures.flow]))
        elif (
            figures.phase in (Phase.FAULT, Phase.RECOVERY)
            and degraded is not None
            and by_name[figures.flow].critical
        ):
            verdicts.append(judge.degraded(figures, degraded))
    return RunVerdicts(tuple(verdicts), recovery, slo, ledger, until)
