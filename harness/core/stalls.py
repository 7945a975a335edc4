"""Stalls: when a flow was not answering, judged per HTTP exchange.

A stack that hangs is as down as one that refuses. A probe's timeout cannot be what
decides whether a hang counts: a request sent into a frozen ingress and answered
after the thaw, within the timeout, is an OK answer that came far too late. So:

- An exchange (one HTTP request and its answer, ``Exchange``) that took longer than
  the flow's stall threshold marks the flow as not answering from when it was sent,
  whether it then answered (OK or an error) or never did.
- A run of the flow that completed but had a stalled exchange is one ``Outcome.STALL``
  sample, from the first stalled exchange's send to the end of the last one: it failed
  to be served in time, and is charged to availability and outages, not to latency
  (the core never counts a failure twice). Its ``answered_ns`` is that end: the stack
  answered it then, so the flow was answering again from there on (an outage closes at
  the first such answer, ``harness.core.recovery.outages``), as it closes at an OK
  sample's. A run that failed after a stall is dated from the stall's send, with its
  own outcome, and was never answered.
- A timed-out exchange is the run's TIMEOUT (dated at its send), not a second stall.
- Judged per exchange, not per flow: a multi-call flow that is slow in total but whose
  every exchange stayed under the threshold is an OK sample with its whole latency.

The probes start a run at every cadence slot even while earlier runs are still
waiting (``harness.probes``, "Schedule"), so one request stuck on a frozen instance
that the ingress has already routed around is one stalled sample among answered ones
(no outage beyond it), while a frozen ingress stalls every run and reads as down for
as long as it was frozen.

Pure: the probe gives the run's outcome and exchanges, this gives its sample.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.samples import Outcome, ProbeSample

_NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP exchange: when its request was sent and when it ended (answer or failure)."""

    endpoint: str
    sent_ns: int
    ended_ns: int

    @property
    def duration_ns(self) -> int:
        return self.ended_ns - self.sent_ns


@dataclass(frozen=True, slots=True)
class FlowRun:
    """One run of a flow as its probe saw it."""

    flow: str
    outcome: Outcome
    t_start_ns: int
    """The run's start, or when its failure is dated (an error when it came back, a
    timeout at the timed-out request's send)."""
    t_end_ns: int
    detail: str
    exchanges: tuple[Exchange, ...]
    answered_ns: int | None = None
    """For an OK run: from when the flow was answered (``answered_from``)."""


def answered_from(t_start_ns: int, exchanges: tuple[Exchange, ...], usual_ns: int) -> int:
    """When an OK run was being answered: its first answer less the usual wait for it.

    A run whose first request waited for a thawing component is answered from the thaw,
    not from its send; any other run from its start.
    """
    if not exchanges:
        return t_start_ns
    first = exchanges[0]
    return min(max(t_start_ns, first.ended_ns - usual_ns), first.ended_ns)


def stalled(run: FlowRun, stall_ns: int) -> tuple[Exchange, ...]:
    """The exchanges of ``run`` that stalled (not the one its TIMEOUT sample stands for)."""
    found = [x for x in run.exchanges if x.duration_ns > stall_ns]
    if run.outcome is Outcome.TIMEOUT:
        found = [x for x in found if x.sent_ns != run.t_start_ns]
    return tuple(found)


def stall_detail(stall: Exchange, stall_ns: int) -> str:
    return (
        f"stalled: {stall.endpoint} unanswered for {stall.duration_ns / _NS_PER_MS:.0f} ms "
        f"(stall threshold {stall_ns / _NS_PER_MS:.0f} ms)"
    )


def run_sample(run: FlowRun, stall_ns: int) -> ProbeSample:
    """The one sample a run of a flow yields (see the module docstring)."""
    stalls = stalled(run, stall_ns)
    if not stalls:
        return ProbeSample(
            run.flow, run.t_start_ns, run.t_end_ns, run.outcome, run.detail, run.answered_ns
        )
    first = stalls[0]
    why = stall_detail(first, stall_ns)
    if run.outcome is Outcome.OK:
        end = max(x.ended_ns for x in stalls)
        return ProbeSample(run.flow, first.sent_ns, end, Outcome.STALL, why, end)
    start = min(first.sent_ns, run.t_start_ns)
    return ProbeSample(run.flow, start, run.t_end_ns, run.outcome, f"{run.detail} after {why}")
