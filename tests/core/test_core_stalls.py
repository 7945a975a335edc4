"""Stalls: a hung exchange marks its run as not answered, from the moment it was sent.

The probes start a run at every 200 ms slot, overlapping runs still waiting; these
tests build those runs synthetically, turn each into its sample and measure outages
with the core's own arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.core.recovery import outages
from harness.core.samples import FlowSamples, Outcome, SampleSeries
from harness.core.stalls import Exchange, FlowRun, answered_from, run_sample

MS = 1_000_000
STALL = 400 * MS
INTERVAL = 200 * MS
LATENCY = 20 * MS
TIMEOUT = 2_000 * MS


def served(frozen_from: int, thaw: int) -> Callable[[int], FlowRun]:
    """Runs of a one-call flow against a component frozen in ``[frozen_from, thaw)``:
    a request sent then is answered at the thaw, or times out first."""

    def run(t: int) -> FlowRun:
        if frozen_from <= t < thaw:
            if thaw - t >= TIMEOUT:
                exchange = Exchange("search_read", t, t + TIMEOUT)
                return FlowRun("scan", Outcome.TIMEOUT, t, t + TIMEOUT, "OdooTimeout", (exchange,))
            exchange = Exchange("search_read", t, thaw + LATENCY)
            answered = answered_from(t, (exchange,), LATENCY)
            return FlowRun("scan", Outcome.OK, t, thaw + LATENCY, "", (exchange,), answered)
        exchange = Exchange("search_read", t, t + LATENCY)
        return FlowRun("scan", Outcome.OK, t, t + LATENCY, "", (exchange,), t)

    return run


def probed(make: Callable[[int], FlowRun], until: int) -> FlowSamples:
    series = SampleSeries("scan")
    for slot in range(0, until, INTERVAL):
        series.append(run_sample(make(slot), STALL))
    return series.freeze()


def test_hung_then_answered_within_the_timeout_is_down_from_send_to_answer() -> None:
    # Frozen 1,000-2,500 ms: a request sent at 1,000 ms is answered at 2,520 ms, within
    # its 2 s timeout. Without stalls it was an OK sample that merely took long.
    hung = served(1000 * MS, 2500 * MS)(1000 * MS)
    sample = run_sample(hung, STALL)
    assert (sample.outcome, sample.t_start_ns, sample.t_end_ns) == (
        Outcome.STALL,
        1000 * MS,
        2520 * MS,
    )
    assert sample.detail == "stalled: search_read unanswered for 1520 ms (stall threshold 400 ms)"
    (outage,) = outages(probed(served(1000 * MS, 2500 * MS), 5000 * MS), 5000 * MS)
    # Down from the first request into the freeze to the thaw: the run sent at 2,200 ms
    # waited only 320 ms (under the threshold), so it is OK, answered from the thaw.
    assert (outage.start_ns, outage.end_ns) == (1000 * MS, 2500 * MS)


def test_hung_then_timed_out_is_counted_once_from_its_send() -> None:
    timed_out = FlowRun(
        "scan",
        Outcome.TIMEOUT,
        1100 * MS,
        3100 * MS,
        "OdooTimeout (read)",
        (Exchange("auth", 1000 * MS, 1100 * MS), Exchange("search_read", 1100 * MS, 3100 * MS)),
    )
    sample = run_sample(timed_out, STALL)
    assert (sample.outcome, sample.t_start_ns, sample.detail) == (
        Outcome.TIMEOUT,
        1100 * MS,
        "OdooTimeout (read)",
    )


def test_a_hang_longer_than_the_timeout_reads_as_its_whole_length() -> None:
    # Frozen 1,000-7,000 ms with a 2 s timeout: runs time out, the last ones stall.
    flows = probed(served(1000 * MS, 7000 * MS), 9000 * MS)
    (outage,) = outages(flows, 9000 * MS)
    assert (outage.start_ns, outage.end_ns) == (1000 * MS, 7000 * MS)
    failed = {Outcome(o) for o in flows.outcomes} - {Outcome.OK}
    assert failed == {Outcome.TIMEOUT, Outcome.STALL}


def test_one_run_stuck_on_an_instance_routed_around_is_no_outage_beyond_it() -> None:
    # One run lands on an instance frozen for 5 s; the ingress sends the next ones elsewhere.
    base = served(0, 0)

    def routed_around(t: int) -> FlowRun:
        if t == 1000 * MS:
            return served(1000 * MS, 6000 * MS)(t)
        return base(t)

    flows = probed(routed_around, 8000 * MS)
    (outage,) = outages(flows, 8000 * MS)
    # From the stuck request to the next run, answered at once: one interval.
    assert (outage.start_ns, outage.end_ns) == (1000 * MS, 1200 * MS)


def test_a_slow_multi_call_flow_that_never_stalled_is_ok_with_its_latency() -> None:
    # Four calls of 350 ms each: the flow takes 1.4 s, no exchange passes 400 ms.
    calls = tuple(
        Exchange(f"call-{i}", (1000 + 350 * i) * MS, (1350 + 350 * i) * MS) for i in range(4)
    )
    slow = FlowRun("scan", Outcome.OK, 1000 * MS, 2400 * MS, "", calls)
    sample = run_sample(slow, STALL)
    assert (sample.outcome, sample.latency_ns) == (Outcome.OK, 1400 * MS)


def test_an_error_after_a_stall_is_dated_from_the_stall() -> None:
    # A request hangs 2 s, then the connection is closed: down from the send, not the error.
    failed = FlowRun(
        "scan",
        Outcome.ERROR,
        3000 * MS,
        3000 * MS,
        "RemoteProtocolError",
        (Exchange("search_read", 1000 * MS, 3000 * MS),),
    )
    sample = run_sample(failed, STALL)
    assert (sample.outcome, sample.t_start_ns, sample.t_end_ns) == (
        Outcome.ERROR,
        1000 * MS,
        3000 * MS,
    )
    assert sample.detail.startswith("RemoteProtocolError after stalled: search_read")


def test_a_run_is_answered_from_its_first_answer_less_the_usual_wait() -> None:
    prompt = (Exchange("e", 1000 * MS, 1020 * MS), Exchange("f", 1020 * MS, 1400 * MS))
    assert answered_from(1000 * MS, prompt, 20 * MS) == 1000 * MS
    held = (Exchange("e", 1000 * MS, 1320 * MS),)
    assert answered_from(1000 * MS, held, 20 * MS) == 1300 * MS
    assert answered_from(1000 * MS, (), 20 * MS) == 1000 * MS


def _stall(start_ms: int, answered_ms: int) -> FlowRun:
    """A one-call run whose only request hung from ``start_ms`` and was answered OK late."""
    exchange = Exchange("search_read", start_ms * MS, answered_ms * MS)
    return FlowRun("scan", Outcome.OK, start_ms * MS, answered_ms * MS, "", (exchange,))


def _ok(start_ms: int) -> FlowRun:
    exchange = Exchange("search_read", start_ms * MS, start_ms * MS + LATENCY)
    return FlowRun(
        "scan", Outcome.OK, start_ms * MS, start_ms * MS + LATENCY, "", (exchange,), start_ms * MS
    )


def _samples(*runs: FlowRun) -> FlowSamples:
    series = SampleSeries("scan")
    for run in runs:
        series.append(run_sample(run, STALL))
    return series.freeze()


def test_the_first_late_answer_of_a_stalled_run_ends_the_outage() -> None:
    # Frozen 1,000-2,500 ms; every run in flight waited (the probe starts no more than
    # its cap), the backlog is answered from 2,520 ms on, and the next fresh run only
    # starts at 2,800 ms. The stack was answering from its first late answer.
    flows = _samples(
        _ok(800),
        _stall(1000, 2560),
        _stall(1200, 2520),
        _stall(1400, 2590),
        _stall(1600, 2620),
        _ok(2800),
    )
    sample = run_sample(_stall(1200, 2520), STALL)
    assert (sample.outcome, sample.answered_ns) == (Outcome.STALL, 2520 * MS)
    (outage,) = outages(flows, 4000 * MS)
    assert (outage.start_ns, outage.end_ns, outage.stop_index) == (1000 * MS, 2520 * MS, 2)


def test_a_failure_after_the_late_answer_opens_the_next_outage() -> None:
    timed_out = FlowRun(
        "scan",
        Outcome.TIMEOUT,
        1800 * MS,
        3800 * MS,
        "OdooTimeout (read)",
        (Exchange("search_read", 1800 * MS, 3800 * MS),),
    )
    flows = _samples(_ok(800), _stall(1000, 1500), timed_out, _ok(4000))
    first, second = outages(flows, 5000 * MS)
    assert (first.start_ns, first.end_ns, first.first_index, first.stop_index) == (
        1000 * MS,
        1500 * MS,
        1,
        1,
    )
    assert (second.start_ns, second.end_ns, second.first_index, second.stop_index) == (
        1800 * MS,
        4000 * MS,
        2,
        3,
    )


def test_a_stalled_run_that_then_failed_was_never_answered() -> None:
    # Stalled 600 ms on its first call, then an error: no answer shows the flow serving.
    failed = FlowRun(
        "scan",
        Outcome.ERROR,
        1000 * MS,
        1700 * MS,
        "HTTP 502",
        (Exchange("auth", 1000 * MS, 1600 * MS), Exchange("search_read", 1600 * MS, 1700 * MS)),
    )
    sample = run_sample(failed, STALL)
    assert sample.answered_ns is None
    (outage,) = outages(_samples(_ok(800), failed, _ok(3000)), 4000 * MS)
    assert (outage.start_ns, outage.end_ns) == (1000 * MS, 3000 * MS)


def test_a_late_answer_still_pending_at_the_end_closes_the_outage_it_ended() -> None:
    # The last samples of the observation: a stall answered at 2,520 ms, nothing after.
    (outage,) = outages(_samples(_ok(800), _stall(1000, 2520)), 3000 * MS)
    assert (outage.start_ns, outage.end_ns, outage.closed) == (1000 * MS, 2520 * MS, True)
