"""Measures match values computed by hand on a small fixture: peak hour, PHF, TMC, v85, ADT."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from junction.analytics import measures, rollups, selectors
from tests.platform.analytics.factories import (
    MORNING,
    SPEED_EDGES,
    store_buckets,
    store_measured_morning,
)

EU = "eu-west"


@pytest.fixture
def morning(eu_site):
    return store_measured_morning(region=EU, site=eu_site)


def test_it_finds_the_peak_hour_and_its_peak_hour_factor(morning):
    peak = selectors.peak_hour(
        region=EU,
        site_id=morning.pk,
        start=MORNING,
        end=MORNING + timedelta(hours=2),
        counters=["north-stopline"],
    )
    assert peak == measures.PeakHour(
        start=MORNING + timedelta(minutes=15), volume=560, busiest_quarter=160, phf=0.875
    )


def test_it_tables_turning_movement_counts_per_quarter_hour(morning):
    table = selectors.turning_movement_counts(
        region=EU, site_id=morning.pk, start=MORNING, end=MORNING + timedelta(hours=2)
    )
    assert len(table) == 8
    assert table[MORNING + timedelta(minutes=30)] == {
        "north-stopline:in": {"car": 150},
        "N>E": {"car": 3, "bicycle": 1},
    }


def test_it_interpolates_the_85th_percentile_speed_within_its_bin(morning):
    v85 = selectors.v85_by_hour(
        region=EU,
        site_id=morning.pk,
        start=MORNING,
        end=MORNING + timedelta(hours=2),
        road_user="car",
    )
    assert v85 == {MORNING: pytest.approx(38.67), MORNING + timedelta(hours=1): 47.0}


@pytest.mark.parametrize(
    ("counts", "p", "expected"),
    [
        ([0, 1, 4, 6, 1, 0, 0, 0], 0.85, 38.67),
        ([0, 0, 0, 2, 2, 0, 0, 0], 0.85, 47.0),
        ([0, 0, 0, 0, 10, 0, 0, 0], 0.5, 45.0),
        ([0, 0, 0, 0, 0, 0, 0, 0], 0.85, None),
    ],
)
def test_it_computes_speed_percentiles_from_a_histogram(counts, p, expected):
    assert measures.speed_percentile(SPEED_EDGES, counts, p) == expected


def test_it_ignores_a_peak_hour_with_a_missing_quarter():
    quarters = {
        MORNING: 100,
        MORNING + timedelta(minutes=15): 100,
        MORNING + timedelta(minutes=45): 400,
        MORNING + timedelta(minutes=60): 100,
    }
    assert measures.peak_hour(quarters) is None


def test_it_averages_daily_traffic_over_complete_days_only():
    days = [
        (date(2026, 11, 2), 1000, 1.0),
        (date(2026, 11, 9), 1200, 0.99),
        (date(2026, 11, 3), 900, 0.5),
        (date(2026, 12, 7), 1400, 1.0),
    ]
    adt = measures.average_daily_traffic(days)
    assert adt["weekday"] == {"Monday": {"adt": 1200.0, "days": 3}}
    assert adt["month"] == {
        "2026-11": {"adt": 1100.0, "days": 2},
        "2026-12": {"adt": 1400.0, "days": 1},
    }


def test_it_reads_average_daily_traffic_from_daily_rollups(eu_site):
    monday = datetime(2026, 11, 23, tzinfo=UTC)
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=monday,
        minutes=1440,
        counts={("north-stopline", "in", "car"): 2},
    )
    rollups.rollups_recompute(
        region=EU, site_id=eu_site.pk, start=monday, end=monday + timedelta(days=1)
    )
    adt = selectors.average_daily_traffic(
        region=EU, site_id=eu_site.pk, start=monday, end=monday + timedelta(days=1)
    )
    assert adt["weekday"] == {"Monday": {"adt": 2880.0, "days": 1}}


def test_it_profiles_zone_occupancy_per_hour(morning):
    from junction.traffic.models import CountBucket, OccupancySummary

    for minute, mean in ((0, 0.5), (1, 1.5), (60, 2.0)):
        bucket = CountBucket.objects.in_region(EU).get(start=MORNING + timedelta(minutes=minute))
        OccupancySummary(
            region=EU,
            bucket=bucket,
            site_id=morning.pk,
            start=bucket.start,
            zone="crosswalk-north",
            road_user="person",
            mean=mean,
            max=int(mean * 2),
        ).save()
    profile = selectors.occupancy_profile(
        region=EU, site_id=morning.pk, start=MORNING, end=MORNING + timedelta(hours=2)
    )
    assert [(p["window"], p["mean"], p["peak"]) for p in profile] == [
        (MORNING, 1.0, 3),
        (MORNING + timedelta(hours=1), 2.0, 4),
    ]
