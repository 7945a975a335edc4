"""Samples: columnar storage, one sort, validation."""

from __future__ import annotations

import pytest

from harness.core.samples import FlowSamples, MeasurementError, Outcome, ProbeSample, SampleSeries


def test_freeze_sorts_out_of_order_samples_by_start_once() -> None:
    series = SampleSeries("checkout")
    series.add(300, 350, Outcome.OK)
    series.append(ProbeSample("checkout", 100, 400, Outcome.TIMEOUT, "read timeout"))
    series.add(200, 210, Outcome.ERROR, "500")
    frozen = series.freeze()
    assert list(frozen.starts) == [100, 200, 300]
    assert list(frozen.ends) == [400, 210, 350]
    assert frozen.sample(0) == ProbeSample("checkout", 100, 400, Outcome.TIMEOUT, "read timeout")
    assert frozen.sample(1).detail == "500"
    assert frozen.end_order() == [1, 2, 0]


def test_already_sorted_series_keeps_arrival_order_for_equal_starts() -> None:
    frozen = FlowSamples.of(
        "pick",
        [
            ProbeSample("pick", 100, 150, Outcome.OK, "first"),
            ProbeSample("pick", 100, 120, Outcome.ERROR, "second"),
        ],
    )
    assert frozen.details == ("first", "second")
    assert frozen.sample(1).latency_ns == 20


def test_a_sample_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(MeasurementError, match="expected t_end_ns >= t_start_ns"):
        ProbeSample("pick", 200, 100, Outcome.OK)
    with pytest.raises(MeasurementError, match="monotonic_ns"):
        SampleSeries("pick").add(200, 100, Outcome.OK)


def test_a_sample_of_another_flow_is_refused() -> None:
    with pytest.raises(MeasurementError, match="one SampleSeries per flow"):
        SampleSeries("pick").append(ProbeSample("pack", 1, 2, Outcome.OK))
