"""Reads of analytics data: rollups, measures computed from them, anomalies, coverage."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Avg, Max, QuerySet, Sum
from django.db.models.functions import Trunc, TruncHour

from junction.analytics import measures
from junction.analytics.models import Anomaly, Period, Rollup, WindowCoverage
from junction.analytics.rollups import site_timezone
from junction.traffic.models import OccupancySummary, SpeedHistogram


def rollup_list(*, region: str, site_id: int, period: str, start: datetime,
                end: datetime) -> QuerySet[Rollup]:
    return Rollup.objects.in_region(region).filter(
        site_id=site_id, period=period, start__gte=start, start__lt=end
    ).order_by("start", "counter", "direction", "road_user")


def coverage_by_window(*, region: str, site_id: int, period: str, start: datetime,
                       end: datetime) -> dict[datetime, float]:
    return dict(WindowCoverage.objects.in_region(region).filter(
        site_id=site_id, period=period, start__gte=start, start__lt=end
    ).values_list("start", "coverage"))


def quarter_volumes(*, region: str, site_id: int, start: datetime, end: datetime,
                    counters: list[str] | None = None) -> dict[datetime, int]:
    """All-class volume per 15-minute window (optionally of some counters only)."""
    rows = Rollup.objects.in_region(region).filter(
        site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end)
    if counters:
        rows = rows.filter(counter__in=counters)
    return dict(rows.values("start").annotate(volume=Sum("count")).order_by()
                .values_list("start", "volume"))


def peak_hour(*, region: str, site_id: int, start: datetime, end: datetime,
              counters: list[str] | None = None) -> measures.PeakHour | None:
    return measures.peak_hour(quarter_volumes(region=region, site_id=site_id, start=start,
                                              end=end, counters=counters))


def turning_movement_counts(*, region: str, site_id: int, start: datetime,
                            end: datetime) -> dict:
    rows = (
        Rollup.objects.in_region(region)
        .filter(site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end)
        .values_list("start", "counter", "direction", "road_user", "count")
    )
    return measures.turning_movement_counts(
        (s, f"{counter}:{direction}" if direction else counter, user, count)
        for s, counter, direction, user, count in rows
    )


def average_daily_traffic(*, region: str, site_id: int, start: datetime, end: datetime,
                          counters: list[str] | None = None) -> dict[str, dict]:
    tz = site_timezone(site_id)
    rows = Rollup.objects.in_region(region).filter(
        site_id=site_id, period=Period.DAY, start__gte=start, start__lt=end)
    if counters:
        rows = rows.filter(counter__in=counters)
    volumes = dict(rows.values("start").annotate(volume=Sum("count")).order_by()
                   .values_list("start", "volume"))
    coverage = coverage_by_window(region=region, site_id=site_id, period=Period.DAY,
                                  start=start, end=end)
    return measures.average_daily_traffic(
        (day.astimezone(tz).date(), volumes.get(day, 0), cover)
        for day, cover in coverage.items()
    )


def v85_by_hour(*, region: str, site_id: int, start: datetime, end: datetime,
                counter: str | None = None, road_user: str | None = None) -> dict[
                    datetime, float | None]:
    """85th-percentile speed per hour; histograms are small, so they are summed here."""
    rows = SpeedHistogram.objects.in_region(region).filter(
        site_id=site_id, start__gte=start, start__lt=end)
    if counter:
        rows = rows.filter(counter=counter)
    if road_user:
        rows = rows.filter(road_user=road_user)
    by_hour: dict[datetime, list] = defaultdict(list)
    for hour, edges, counts in rows.annotate(hour=TruncHour("start")).values_list(
            "hour", "edges_kmh", "counts").order_by():
        by_hour[hour].append((edges, counts))
    return {hour: measures.v85(hists) for hour, hists in sorted(by_hour.items())}


def occupancy_profile(*, region: str, site_id: int, start: datetime, end: datetime,
                      period: str = "hour") -> list[dict]:
    """Mean and peak occupancy per zone, road user and hour (or day): a curve per zone."""
    tz = site_timezone(site_id)
    return list(
        OccupancySummary.objects.in_region(region)
        .filter(site_id=site_id, start__gte=start, start__lt=end)
        .annotate(window=Trunc("start", period, tzinfo=tz))
        .values("window", "zone", "road_user")
        .annotate(mean=Avg("mean"), peak=Max("max"))
        .order_by("zone", "road_user", "window")
    )


def anomaly_list(*, region: str, state: str | None = None, site_id: int | None = None,
                 since: datetime | None = None) -> QuerySet[Anomaly]:
    rows = Anomaly.objects.in_region(region).all()
    if state:
        rows = rows.filter(state=state)
    if site_id is not None:
        rows = rows.filter(site_id=site_id)
    if since is not None:
        rows = rows.filter(end__gte=since)
    return rows.order_by("-start", "site_id", "counter")
