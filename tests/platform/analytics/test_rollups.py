"""Rollups equal the buckets they summarise, recompute only what a late bucket touched, and
carry the coverage that keeps a half-measured hour from reading as a quiet one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum

from junction.analytics import rollups
from junction.analytics.models import DirtyWindow, Period, Rollup, WindowCoverage
from junction.traffic.models import CountRow
from tests.platform.analytics.factories import store_buckets

DAY = datetime(2026, 11, 24, tzinfo=UTC)  # a Tuesday
EU = "eu-west"


def varying_counts(moment: datetime) -> dict:
    m = moment.minute
    return {
        ("north-stopline", "in", "car"): 5 + m % 7,
        ("north-stopline", "out", "car"): 3 + m % 3,
        ("north-stopline", "in", "bus"): 1 if m % 10 == 0 else 0,
        ("N>E", None, "bicycle"): m % 2,
    }


def rollup_table(period: str) -> dict:
    return {
        (r.start, r.counter, r.direction, r.road_user): r.count
        for r in Rollup.objects.in_region(EU).filter(period=period)
    }


@pytest.fixture
def three_hours(eu_site):
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=DAY + timedelta(hours=7),
        minutes=180,
        counts=varying_counts,
    )
    rollups.rollups_recompute(
        region=EU, site_id=eu_site.pk, start=DAY + timedelta(hours=7), end=DAY + timedelta(hours=10)
    )
    return eu_site


def test_it_makes_every_period_total_equal_the_sum_of_the_buckets(three_hours):
    raw = CountRow.objects.in_region(EU).aggregate(total=Sum("count"))["total"]
    for period in Period.values:
        total = Rollup.objects.in_region(EU).filter(period=period).aggregate(t=Sum("count"))["t"]
        assert total == raw, period
    per_key = dict(
        CountRow.objects.in_region(EU)
        .filter(counter="north-stopline", direction="in", road_user="car")
        .values_list("counter")
        .annotate(t=Sum("count"))
    )
    day = Rollup.objects.in_region(EU).get(
        period=Period.DAY, counter="north-stopline", direction="in", road_user="car"
    )
    assert day.count == per_key["north-stopline"]


def test_it_keeps_movements_apart_from_line_directions(three_hours):
    movement = Rollup.objects.in_region(EU).filter(period=Period.HOUR, counter="N>E")
    assert {r.direction for r in movement} == {""}
    assert movement.count() == 3


def test_it_gives_each_quarter_hour_its_own_minutes(three_hours):
    quarter = Rollup.objects.in_region(EU).get(
        period=Period.QUARTER_HOUR,
        start=DAY + timedelta(hours=7, minutes=15),
        counter="north-stopline",
        direction="in",
        road_user="car",
    )
    assert quarter.count == sum(5 + m % 7 for m in range(15, 30))


def test_it_gives_the_same_rows_when_a_window_is_recomputed(three_hours):
    before = {p: rollup_table(p) for p in Period.values}
    rollups.rollups_recompute(
        region=EU, site_id=three_hours.pk, start=DAY, end=DAY + timedelta(days=1)
    )
    assert {p: rollup_table(p) for p in Period.values} == before


def test_it_recomputes_only_the_windows_a_late_bucket_falls_in(three_hours):
    untouched = {
        r.pk: r.count
        for r in Rollup.objects.in_region(EU)
        .filter(period__in=[Period.QUARTER_HOUR, Period.HOUR])
        .exclude(start__gte=DAY + timedelta(hours=8), start__lt=DAY + timedelta(hours=9))
    }
    before = {p: rollup_table(p) for p in Period.values}
    late = store_buckets(
        region=EU,
        site_id=three_hours.pk,
        device_id="dev-2",
        start=DAY + timedelta(hours=8, minutes=37),
        minutes=1,
        counts={("north-stopline", "in", "car"): 40},
    )
    rollups.dirty_windows_mark(region=EU, site_id=three_hours.pk, starts=[late[0].start])

    rollups.dirty_windows_rollup(region=EU)

    after = {p: rollup_table(p) for p in Period.values}
    key = ("north-stopline", "in", "car")
    changed = {p: {k for k in after[p] if after[p][k] != before[p].get(k)} for p in after}
    assert changed[Period.QUARTER_HOUR] == {(DAY + timedelta(hours=8, minutes=30), *key)}
    assert changed[Period.HOUR] == {(DAY + timedelta(hours=8), *key)}
    assert changed[Period.DAY] == {(DAY, *key)}
    assert after[Period.HOUR][(DAY + timedelta(hours=8), *key)] == (
        before[Period.HOUR][(DAY + timedelta(hours=8), *key)] + 40
    )
    # Rows of other hours were not even rewritten.
    still = dict(Rollup.objects.in_region(EU).filter(pk__in=untouched).values_list("pk", "count"))
    assert still == untouched
    assert not DirtyWindow.objects.in_region(EU).exists()


def test_it_keeps_a_mark_made_again_while_its_window_was_being_recomputed(eu_site, monkeypatch):
    hour = DAY + timedelta(hours=7)
    rollups.dirty_windows_mark(region=EU, site_id=eu_site.pk, starts=[hour])
    real = rollups.rollups_recompute

    def recompute_while_a_bucket_arrives(**kwargs):
        result = real(**kwargs)
        rollups.dirty_windows_mark(region=EU, site_id=eu_site.pk, starts=[hour])
        return result

    monkeypatch.setattr(rollups, "rollups_recompute", recompute_while_a_bucket_arrives)
    rollups.dirty_windows_rollup(region=EU)

    mark = DirtyWindow.objects.in_region(EU).get()
    assert mark.state == DirtyWindow.State.PENDING


def test_it_lets_only_one_run_claim_a_dirty_window(eu_site):
    rollups.dirty_windows_mark(region=EU, site_id=eu_site.pk, starts=[DAY])
    _, first = rollups.dirty_windows_claim(region=EU)
    _, second = rollups.dirty_windows_claim(region=EU)
    assert len(first) == 1 and second == []


def test_it_reports_coverage_for_a_partly_missing_hour(eu_site):
    hour = DAY + timedelta(hours=14)
    # 14:00-14:30 delivered and analysed, 14:30-14:45 delivered with the camera dark (uptime 0),
    # 14:45-15:00 never delivered.
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=hour,
        minutes=45,
        counts={("north-stopline", "in", "car"): 10},
        uptime=lambda m: 1.0 if m < hour + timedelta(minutes=30) else 0.0,
    )
    rollups.rollups_recompute(
        region=EU, site_id=eu_site.pk, start=hour, end=hour + timedelta(hours=1)
    )

    hourly = Rollup.objects.in_region(EU).get(period=Period.HOUR)
    assert hourly.count == 300
    assert hourly.coverage == pytest.approx(0.5)
    quarters = dict(
        WindowCoverage.objects.in_region(EU)
        .filter(period=Period.QUARTER_HOUR)
        .values_list("start", "coverage")
    )
    assert quarters == {
        hour: 1.0,
        hour + timedelta(minutes=15): 1.0,
        hour + timedelta(minutes=30): 0.0,
    }
    day = WindowCoverage.objects.in_region(EU).get(period=Period.DAY)
    assert day.coverage == pytest.approx(1800 / 86400)


def test_it_counts_partial_uptime_as_partial_coverage(eu_site):
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=DAY,
        minutes=60,
        counts={("north-stopline", "in", "car"): 2},
        uptime=0.75,
    )
    rollups.rollups_recompute(
        region=EU, site_id=eu_site.pk, start=DAY, end=DAY + timedelta(hours=1)
    )
    assert Rollup.objects.in_region(EU).get(period=Period.HOUR).coverage == pytest.approx(0.75)


def test_it_uses_the_sites_local_day(eu_site):
    eu_site.timezone = "Europe/Paris"
    eu_site.save()
    # 23:30 UTC on the 24th is 00:30 on the 25th in Paris.
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=DAY + timedelta(hours=23, minutes=30),
        minutes=10,
        counts={("north-stopline", "in", "car"): 1},
    )
    rollups.rollups_recompute(
        region=EU,
        site_id=eu_site.pk,
        start=DAY + timedelta(hours=23),
        end=DAY + timedelta(hours=24),
    )
    day = Rollup.objects.in_region(EU).get(period=Period.DAY)
    assert day.start == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # Paris midnight
    assert day.count == 10


def test_it_marks_recently_received_buckets_dirty_when_the_signal_was_missed(eu_site):
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=DAY,
        minutes=5,
        counts={("north-stopline", "in", "car"): 1},
    )
    marked = rollups.dirty_windows_sweep(region=EU, received_since=DAY)
    assert marked == 1
    assert DirtyWindow.objects.in_region(EU).get().start == DAY


def test_it_rolls_up_with_debug_query_logging_on(eu_site, settings):
    # `make demo` runs with DEBUG on, where Django formats every logged query with `%`: the
    # quarter-hour SQL must survive that as well as execution.
    settings.DEBUG = True
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=DAY + timedelta(hours=7),
        minutes=30,
        counts=varying_counts,
    )
    rollups.rollups_recompute(
        region=EU, site_id=eu_site.pk, start=DAY + timedelta(hours=7), end=DAY + timedelta(hours=8)
    )
    assert rollup_table(Period.QUARTER_HOUR)
