"""Bucketing: alignment, uptime from analysed spans, outages as uptime-0 buckets, histograms."""

from __future__ import annotations

import pytest

from edge_worker.buckets import (
    DWELL_EDGES_S,
    SPEED_EDGES_KMH,
    BucketAggregator,
    align,
    histogram_bin,
)
from edge_worker.events import CountEvent, DwellEvent, FrameResult, ZoneOccupancy

T0 = 1_800_000_000  # a multiple of 60 and of 10


def frames(start: float, end: float, step: float, **extra) -> list[FrameResult]:
    n = int(round((end - start) / step))
    return [FrameResult(t=start + i * step, **extra) for i in range(n + 1)]


def run(aggregator: BucketAggregator, results: list[FrameResult]):
    closed = []
    for result in results:
        closed += aggregator.add(result)
    return closed


@pytest.mark.parametrize(
    "edges, value, expected",
    [
        (SPEED_EDGES_KMH, 0.0, 0),
        (SPEED_EDGES_KMH, 9.99, 0),
        (SPEED_EDGES_KMH, 10.0, 1),
        (SPEED_EDGES_KMH, 79.9, 7),
        (SPEED_EDGES_KMH, 80.0, 7),  # overflow goes to the open-ended last bin
        (SPEED_EDGES_KMH, 250.0, 7),
        (SPEED_EDGES_KMH, -3.0, 0),
        (DWELL_EDGES_S, 4.0, 0),
        (DWELL_EDGES_S, 3600.0, len(DWELL_EDGES_S) - 2),
    ],
)
def test_it_puts_values_in_the_right_bin(edges, value, expected):
    assert histogram_bin(edges, value) == expected


@pytest.mark.parametrize(
    "t, seconds, expected",
    [(T0 + 59.9, 60, T0), (T0 + 60, 60, T0 + 60), (T0 + 0.5, 1, T0), (T0 - 0.5, 60, T0 - 60)],
)
def test_it_aligns_bucket_starts_to_the_bucket_length(t, seconds, expected):
    assert align(t, seconds) == expected


def test_it_gives_full_uptime_to_a_bucket_analysed_throughout():
    aggregator = BucketAggregator(seconds=10, start=T0)
    closed = run(aggregator, frames(T0, T0 + 20, 0.2))
    assert [(b.start, b.uptime) for b in closed] == [(T0, 1.0), (T0 + 10, 1.0)]


def test_it_emits_uptime_zero_buckets_for_an_outage_instead_of_a_gap():
    aggregator = BucketAggregator(seconds=10, start=T0, max_gap_s=2.0)
    results = frames(T0, T0 + 5, 0.5) + frames(T0 + 35, T0 + 45, 0.5)
    closed = run(aggregator, results)
    assert [(b.start - T0, b.uptime) for b in closed] == [(0, 0.5), (10, 0.0), (20, 0.0), (30, 0.5)]


def test_it_closes_buckets_whose_time_has_passed_without_any_frame():
    aggregator = BucketAggregator(seconds=10, start=T0)
    assert aggregator.close_until(T0 + 9.9) == []
    closed = aggregator.close_until(T0 + 30)
    assert [(b.start - T0, b.uptime, b.counts) for b in closed] == [
        (0, 0.0, ()),
        (10, 0.0, ()),
        (20, 0.0, ()),
    ]


def test_it_counts_events_per_counter_direction_and_class_in_the_bucket_of_their_time():
    aggregator = BucketAggregator(seconds=10, start=T0)
    results = frames(T0, T0 + 20, 1.0)
    results[2] = FrameResult(
        t=T0 + 2,
        events=(
            CountEvent("stop", "in", "car", T0 + 2),
            CountEvent("stop", "in", "car", T0 + 2),
            CountEvent("stop", "out", "bus", T0 + 2),
            CountEvent("N>E", None, "bicycle", T0 + 2),
        ),
    )
    results[12] = FrameResult(t=T0 + 12, events=(CountEvent("stop", "in", "car", T0 + 12),))
    first, second = run(aggregator, results)
    assert first.counts == (
        ("N>E", None, "bicycle", 1),
        ("stop", "in", "car", 2),
        ("stop", "out", "bus", 1),
    )
    assert second.counts == (("stop", "in", "car", 1),)


def test_it_keeps_speeds_only_as_a_histogram_with_overflow_in_the_last_bin():
    aggregator = BucketAggregator(seconds=10, start=T0)
    speeds = [5.0, 12.0, 14.0, 95.0, None]
    results = [
        FrameResult(t=T0 + i, events=(CountEvent("stop", "in", "car", T0 + i, speed),))
        for i, speed in enumerate(speeds)
    ]
    (bucket,) = run(aggregator, results) + aggregator.close_until(T0 + 10)
    assert bucket.speeds == (("stop", "car", (1, 2, 0, 0, 0, 0, 0, 1)),)
    assert sum(n for *_, n in bucket.counts) == 5  # the vehicle without speed still counts


def test_it_averages_occupancy_over_analysed_time_only():
    aggregator = BucketAggregator(seconds=10, start=T0, max_gap_s=2.0)
    two = (ZoneOccupancy("crosswalk", "person", 2, 0.0),)
    # Frames to 4 s see two people, held until the next frame at 4.5 s; then none until 5 s;
    # 5-10 s the camera is down. Mean over the 5 analysed seconds: 2 * 4.5 / 5.
    results = [FrameResult(t=T0 + i * 0.5, occupancy=two) for i in range(9)]
    results += [FrameResult(t=T0 + 4.5), FrameResult(t=T0 + 5.0)]
    (bucket,) = run(aggregator, results) + aggregator.close_until(T0 + 10)
    assert bucket.uptime == 0.5
    assert bucket.occupancy == (("crosswalk", "person", 1.8, 2),)


def test_it_histograms_dwell_times():
    aggregator = BucketAggregator(seconds=10, start=T0)
    dwell = (DwellEvent("box", "car", 3.0, T0 + 1), DwellEvent("box", "car", 700.0, T0 + 1))
    (bucket,) = run(aggregator, [FrameResult(t=T0 + 1, dwell=dwell)]) + aggregator.close_until(
        T0 + 10
    )
    assert bucket.dwell == (("box", "car", (1, 0, 0, 0, 0, 0, 1)),)


def test_it_ignores_results_before_its_resume_point_but_still_tracks_frame_time():
    # After a restart the spool says buckets before T0+10 are spooled; a replayed file starts
    # at T0 and its earlier events must not be counted twice.
    aggregator = BucketAggregator(seconds=10, start=T0 + 10)
    results = frames(T0, T0 + 20, 0.5)
    results[4] = FrameResult(t=T0 + 2, events=(CountEvent("stop", "in", "car", T0 + 2),))
    results[24] = FrameResult(t=T0 + 12, events=(CountEvent("stop", "in", "car", T0 + 12),))
    (bucket,) = run(aggregator, results)
    assert (bucket.start, bucket.uptime, bucket.counts) == (
        T0 + 10,
        1.0,
        (("stop", "in", "car", 1),),
    )


def test_it_closes_the_last_partial_bucket_when_a_file_ends():
    aggregator = BucketAggregator(seconds=10, start=T0)
    closed = run(aggregator, frames(T0, T0 + 14, 0.5))
    closed += aggregator.finish(T0 + 14)
    assert [(b.start - T0, b.uptime) for b in closed] == [(0, 1.0), (10, 0.4)]


def test_it_emits_nothing_past_the_end_of_a_file_that_was_fully_spooled():
    aggregator = BucketAggregator(seconds=10, start=T0 + 20)
    run(aggregator, frames(T0, T0 + 14, 0.5))
    assert aggregator.finish(T0 + 14) == []


def test_it_never_reports_a_mean_occupancy_above_the_max():
    aggregator = BucketAggregator(seconds=10, start=T0)
    busy = (ZoneOccupancy("box", "car", 3, 0.0),)
    closed = run(aggregator, [FrameResult(t=T0 + 9.5, occupancy=busy), FrameResult(t=T0 + 10.5)])
    closed += aggregator.close_until(T0 + 20)
    second = closed[1]
    assert second.occupancy[0][2] <= second.occupancy[0][3]


@pytest.mark.parametrize("seconds, error", [(0, ValueError), (-5, ValueError)])
def test_it_refuses_a_bucket_length_that_is_not_positive(seconds, error):
    with pytest.raises(error):
        BucketAggregator(seconds=seconds, start=T0)
