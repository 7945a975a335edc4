"""Benchmark of the measurement core: ``evaluate_run`` on synthetic runs of growing size.

Each run has 5 probed flows (3 critical), one 30 s outage injected at 40 % of the run
and a recovery, occasional baseline errors and slow probes, and a write ledger with
100,000 records (some lost before the fault, some unknown). Samples arrive slightly
out of order, so ``SampleSeries.freeze`` (the one sort) is timed separately.

    .venv/bin/python bench/core.py [--out FILE]

Runs on one core (pinned when the OS allows) and writes JSON (default
``bench/results/core.json``). Target: 10^6 samples + 10^5 records in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

from harness.core import (
    EventKind,
    FlowSamples,
    FlowTarget,
    Outcome,
    Phase,
    ReadBack,
    RecoveryTarget,
    RunData,
    SampleSeries,
    SteadyStateSpec,
    Timeline,
    TimelineEvent,
    WriteOutcome,
    WriteRecord,
    evaluate_run,
)

MS = 1_000_000
S = 1_000 * MS
EVERY = 200 * MS
FLOWS = (
    FlowTarget("checkout", True, 99.0, 250.0, 900.0),
    FlowTarget("pick", True, 99.0, 250.0),
    FlowTarget("stock", True, 99.0, 300.0),
    FlowTarget("report", False, 95.0, 1500.0),
    FlowTarget("login", False, 99.0, 250.0),
)
SIZES = (10_000, 100_000, 1_000_000)
LEDGER = 100_000
OUTAGE = 30 * S


@dataclass(frozen=True)
class Figures:
    samples: int
    ledger_records: int
    freeze_s: float
    evaluate_s: float
    verdicts: int
    failed_verdicts: int
    rto_s: float | None
    outage_s: float | None
    lost_writes: int


def synthetic_flow(name: str, count: int, inject: int, rng: random.Random) -> SampleSeries:
    series = SampleSeries(name)
    late: list[tuple[int, int, Outcome]] = []
    for i in range(count):
        start = i * EVERY + rng.randrange(5 * MS)
        if inject + 200 * MS <= start < inject + OUTAGE:
            sample = (start, start + S, Outcome.TIMEOUT)
        elif rng.random() < 0.00002:
            sample = (start, start + 5 * MS, Outcome.ERROR)
        else:
            slow = rng.random() < 0.002
            sample = (start, start + (400 if slow else rng.randrange(10, 80)) * MS, Outcome.OK)
        # Every 50th result is reported after the next one: slight disorder to sort out.
        if i % 50 == 0:
            late.append(sample)
            continue
        series.add(*sample)
        while late:
            series.add(*late.pop())
    for sample in late:
        series.add(*sample)
    return series


def synthetic_run(samples: int, rng: random.Random) -> tuple[RunData, float]:
    per_flow = samples // len(FLOWS)
    duration = per_flow * EVERY
    inject = duration * 4 // 10
    arrived = [synthetic_flow(t.name, per_flow, inject, rng) for t in FLOWS]
    tick = time.perf_counter()
    flows: dict[str, FlowSamples] = {series.flow: series.freeze() for series in arrived}
    freeze_s = time.perf_counter() - tick

    records: list[WriteRecord] = []
    copies: dict[str, int] = {}
    step = duration // LEDGER
    for i in range(LEDGER):
        key = f"so-{i:06d}"
        invoke = i * step
        in_outage = inject <= invoke < inject + OUTAGE
        outcome = WriteOutcome.UNKNOWN if in_outage else WriteOutcome.OK
        records.append(WriteRecord(key, "sale", invoke, invoke + 30 * MS, outcome))
        lost_before_fault = inject - 2 * S <= invoke < inject
        if not lost_before_fault and not (in_outage and i % 2):
            copies[key] = 1
    events = (
        TimelineEvent(EventKind.PHASE_START, 0, "baseline", Phase.BASELINE),
        TimelineEvent(EventKind.PHASE_START, inject, "fault", Phase.FAULT),
        TimelineEvent(EventKind.FAULT_INJECTED, inject, "kill node-a"),
        TimelineEvent(EventKind.FAULT_LANDED, inject + S, "primary gone"),
        TimelineEvent(EventKind.DB_TIMELINE_SWITCH, inject + 12 * S, "timeline 2"),
        TimelineEvent(EventKind.PHASE_START, inject + OUTAGE, "recovery", Phase.RECOVERY),
        TimelineEvent(EventKind.FAULT_REVERTED, inject + OUTAGE, "node-a back"),
        TimelineEvent(EventKind.PHASE_START, inject + OUTAGE + 60 * S, "after", Phase.AFTER),
        TimelineEvent(EventKind.RUN_END, duration, "end"),
    )
    run = RunData(
        scenario="db-failover",
        family="db-failover",
        timeline=Timeline(0, 1_700_049_600 * S, events),
        flows=flows,
        flow_targets=FLOWS,
        steady=SteadyStateSpec(10.0, 30.0),
        recovery_target=RecoveryTarget("db-failover", 60.0, 0.0, 0),
        ledger=tuple(records),
        read_back=ReadBack(copies),
    )
    return run, freeze_s


def measure(samples: int) -> Figures:
    run, freeze_s = synthetic_run(samples, random.Random(samples))
    tick = time.perf_counter()
    result = evaluate_run(run)
    evaluate_s = time.perf_counter() - tick
    recovery = result.recovery
    rto = None if recovery is None or recovery.rto_ns is None else recovery.rto_ns / S
    return Figures(
        samples=sum(len(f) for f in run.flows.values()),
        ledger_records=len(run.ledger),
        freeze_s=round(freeze_s, 3),
        evaluate_s=round(evaluate_s, 3),
        verdicts=len(result.verdicts),
        failed_verdicts=len(result.failed),
        rto_s=rto,
        outage_s=None if recovery is None else recovery.outage_ns / S,
        lost_writes=0 if result.ledger is None else len(result.ledger.lost),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/core.json"))
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = [measure(n) for n in SIZES]
    print(f"{'samples':>10} {'ledger':>8} {'freeze s':>9} {'evaluate s':>11} {'verdicts':>9}")
    for row in rows:
        print(
            f"{row.samples:>10,} {row.ledger_records:>8,} {row.freeze_s:>9.3f} "
            f"{row.evaluate_s:>11.3f} {row.verdicts:>9}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {"target_s": 5.0, "runs": [row.__dict__ for row in rows]}
    args.out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
