"""Rollup services: recompute any window from the stored buckets, and the dirty-window queue.

The counting is done by the database (one GROUP BY per contiguous range of hours); Python only
turns the grouped totals into rollup rows. A recompute deletes and re-inserts its windows in
one transaction, so running it twice gives the same rows, and readers never see half a window.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, DateTimeField, F, FloatField, Func, Q, Sum, Value
from django.db.models.functions import Coalesce, Trunc, TruncHour
from django.utils import timezone

from junction.analytics.models import PERIOD_SECONDS, DirtyWindow, Period, Rollup, WindowCoverage
from junction.analytics.windows import (
    HOUR,
    days_touching,
    floor_hour,
    hour_ranges,
)
from junction.ingest.bulk import region_rows_insert
from junction.residency.planes import served_alias
from junction.sites.models import Device, Site
from junction.traffic.models import CountBucket, CountRow

log = logging.getLogger(__name__)

INSERT_BATCH = 5000
# Marks one rollup run claims: a worker coalesces the hours of many batches into few recomputes.
CLAIM_LIMIT = 2000
# Rollups are written with COPY on PostgreSQL (bulk_create elsewhere): preparing values one by
# one in the ORM cost more than the GROUP BY that produced them.
ROLLUP_FIELDS = ("site_id", "period", "start", "counter", "direction", "road_user", "count",
                 "coverage", "computed_at")
COVERAGE_FIELDS = ("site_id", "period", "start", "analysed_seconds", "devices", "coverage")
Key = tuple[str, str, str]  # counter, direction ("" for movements), road user


@dataclass(frozen=True)
class RecomputeResult:
    site_id: int
    start: datetime
    end: datetime
    rollups: int


def site_timezone(site_id: int) -> ZoneInfo:
    name = Site.objects.filter(pk=site_id).values_list("timezone", flat=True).first()
    return ZoneInfo(name or "UTC")


def _expected_devices(site_id: int) -> int:
    # The site's registered devices, not the ones that happened to report: a site with two
    # cameras and one of them dark for the hour is half covered, not fully covered.
    return max(1, Device.objects.filter(site_id=site_id, revoked_at__isnull=True).count())


class QuarterHour(Func):
    """The start of the 15-minute window holding a UTC timestamp, as one expression.

    One expression to group by instead of an hour truncation plus a minute extraction: on
    PostgreSQL `date_bin` halves the cost of the rollup query.
    """

    output_field = DateTimeField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection,
                           template="date_bin('15 minutes', %(expressions)s, "
                                    "TIMESTAMPTZ '2000-01-01 00:00:00+00')", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as 'YYYY-MM-DD HH:MM:SS' text in UTC; rebuild it with the minutes floored.
        # `%%%%` survives the template (-> `%%`), then the backend turns `%%` into `%` when it
        # executes, and DEBUG's query logging (`sql % params`) reads `%%` as a literal `%`.
        return self.as_sql(compiler, connection,
                           template="strftime('%%%%Y-%%%%m-%%%%d %%%%H:', %(expressions)s) || "
                                    "printf('%%%%02d', CAST(strftime('%%%%M', %(expressions)s) "
                                    "AS INTEGER) / 15 * 15) || ':00'", **extra)


def _count_totals(region: str, site_id: int, start: datetime, end: datetime):
    return (
        CountRow.objects.in_region(region)
        .filter(site_id=site_id, start__gte=start, start__lt=end)
        .annotate(quarter=QuarterHour("start"), dir=Coalesce("direction", Value("")))
        .values("quarter", "counter", "dir", "road_user")
        .annotate(total=Sum("count"))
        .order_by()
    )


def _analysed_seconds(region: str, site_id: int, start: datetime, end: datetime):
    return (
        CountBucket.objects.in_region(region)
        .filter(site_id=site_id, start__gte=start, start__lt=end)
        .annotate(quarter=QuarterHour("start"))
        .values("quarter")
        .annotate(analysed=Sum(F("seconds") * F("uptime"), output_field=FloatField()),
                  devices=Count("device_id", distinct=True))
        .order_by()
    )


def _coverage(analysed: float, window_seconds: float, devices: int) -> float:
    return min(1.0, analysed / (window_seconds * devices)) if window_seconds else 0.0


def rollups_recompute(*, region: str, site_id: int, start: datetime,
                      end: datetime) -> RecomputeResult:
    """Recompute 15-minute and hourly windows in [start, end) (hour aligned) and the site's
    local days touching it."""
    start, end = floor_hour(start), floor_hour(end)
    alias = served_alias(region)
    tz = site_timezone(site_id)
    devices = _expected_devices(site_id)
    quarter_totals: dict[datetime, dict[Key, int]] = defaultdict(dict)
    hour_totals: dict[datetime, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
    for row in _count_totals(region, site_id, start, end).iterator():
        key = (row["counter"], row["dir"], row["road_user"])
        quarter_totals[row["quarter"]][key] = row["total"]
        hour_totals[floor_hour(row["quarter"])][key] += row["total"]
    quarter_seconds: dict[datetime, tuple[float, int]] = {}
    hour_seconds: dict[datetime, list[float]] = defaultdict(lambda: [0.0, 0])
    for row in _analysed_seconds(region, site_id, start, end).iterator():
        quarter_seconds[row["quarter"]] = (row["analysed"], row["devices"])
        hour = hour_seconds[floor_hour(row["quarter"])]
        hour[0] += row["analysed"]
        hour[1] = max(hour[1], row["devices"])

    now = timezone.now()

    def build(period: Period, totals, seconds) -> tuple[list[tuple], list[tuple]]:
        rollups: list[tuple] = []
        coverages: list[tuple] = []
        window_seconds = PERIOD_SECONDS[period]
        for window in sorted(set(totals) | set(seconds)):
            analysed, seen = seconds.get(window, (0.0, 0))
            cover = _coverage(analysed, window_seconds, max(devices, seen))
            coverages.append((site_id, period, window, analysed, seen, cover))
            rollups.extend(
                (site_id, period, window, counter, direction, road_user, count, cover, now)
                for (counter, direction, road_user), count in totals.get(window, {}).items()
            )
        return rollups, coverages

    quarter_rollups, quarter_cover = build(Period.QUARTER_HOUR, quarter_totals, quarter_seconds)
    hour_rollups, hour_cover = build(
        Period.HOUR, hour_totals, {h: tuple(v) for h, v in hour_seconds.items()}
    )
    with transaction.atomic(using=alias):
        window = Q(site_id=site_id, period__in=[Period.QUARTER_HOUR, Period.HOUR],
                   start__gte=start, start__lt=end)
        Rollup.objects.in_region(region).filter(window).delete()
        WindowCoverage.objects.in_region(region).filter(window).delete()
        region_rows_insert(Rollup, region=region, fields=ROLLUP_FIELDS,
                           rows=quarter_rollups + hour_rollups)
        region_rows_insert(WindowCoverage, region=region, fields=COVERAGE_FIELDS,
                           rows=quarter_cover + hour_cover)
        daily = _days_recompute(region=region, site_id=site_id, start=start, end=end, tz=tz,
                                devices=devices)
    total = len(quarter_rollups) + len(hour_rollups) + daily
    log.info("recomputed site %s %s..%s in %s: %s rollups", site_id, start, end, region, total)
    return RecomputeResult(site_id=site_id, start=start, end=end, rollups=total)


def _days_recompute(*, region: str, site_id: int, start: datetime, end: datetime, tz: ZoneInfo,
                    devices: int) -> int:
    """Daily windows from the hourly rollups (24 rows a key, not 1,440 buckets)."""
    days = days_touching(start, end, tz)
    first, last = days[0][0], days[-1][1]
    hourly = Rollup.objects.in_region(region).filter(
        site_id=site_id, period=Period.HOUR, start__gte=first, start__lt=last)
    totals = (
        hourly.annotate(day=Trunc("start", "day", tzinfo=tz))
        .values("day", "counter", "direction", "road_user")
        .annotate(total=Sum("count")).order_by()
    )
    analysed = (
        WindowCoverage.objects.in_region(region)
        .filter(site_id=site_id, period=Period.HOUR, start__gte=first, start__lt=last)
        .annotate(day=Trunc("start", "day", tzinfo=tz))
        .values("day").annotate(seconds=Sum("analysed_seconds")).order_by()
    )
    day_length = {day_start: (day_end - day_start).total_seconds() for day_start, day_end in days}
    seconds = {row["day"]: row["seconds"] for row in analysed}
    cover = {
        day: _coverage(seconds.get(day, 0.0), length, devices) for day, length in day_length.items()
    }
    now = timezone.now()
    rollups = [
        (site_id, Period.DAY.value, row["day"], row["counter"], row["direction"],
         row["road_user"], row["total"], cover.get(row["day"], 0.0), now)
        for row in totals
    ]
    coverages = [
        (site_id, Period.DAY.value, day, seconds.get(day, 0.0), devices, cover[day])
        for day in day_length
    ]
    window = Q(site_id=site_id, period=Period.DAY, start__gte=first, start__lt=last)
    Rollup.objects.in_region(region).filter(window).delete()
    WindowCoverage.objects.in_region(region).filter(window).delete()
    region_rows_insert(Rollup, region=region, fields=ROLLUP_FIELDS, rows=rollups)
    region_rows_insert(WindowCoverage, region=region, fields=COVERAGE_FIELDS, rows=coverages)
    return len(rollups)


def dirty_windows_mark(*, region: str, site_id: int, starts: Iterable[datetime]) -> int:
    """Mark the hours holding these bucket starts for recompute (idempotent upsert)."""
    now = timezone.now()
    marks = [
        DirtyWindow(region=region, site_id=site_id, start=hour, marked_at=now,
                    state=DirtyWindow.State.PENDING, claim_token=None)
        for hour in sorted({floor_hour(start) for start in starts})
    ]
    with transaction.atomic(using=served_alias(region)):
        DirtyWindow.objects.in_region(region).bulk_create(
            marks, update_conflicts=True, unique_fields=["site_id", "start"],
            update_fields=["state", "marked_at", "claim_token"], batch_size=INSERT_BATCH,
        )
    return len(marks)


def dirty_windows_sweep(*, region: str, received_since: datetime) -> int:
    """Mark every hour with a bucket received since `received_since`.

    A backstop for the ingest signal: a process that stored a batch and died before
    announcing it still gets its hours rolled up on the next scheduled run.
    """
    hours = (
        CountBucket.objects.in_region(region).filter(received_at__gte=received_since)
        .annotate(hour=TruncHour("start")).values_list("site_id", "hour").distinct().order_by()
    )
    by_site: dict[int, list[datetime]] = defaultdict(list)
    for site_id, hour in hours:
        by_site[site_id].append(hour)
    return sum(dirty_windows_mark(region=region, site_id=site_id, starts=site_hours)
               for site_id, site_hours in by_site.items())


def dirty_windows_claim(*, region: str,
                        limit: int = CLAIM_LIMIT) -> tuple[uuid.UUID, list[DirtyWindow]]:
    """Claim up to `limit` pending marks (and marks whose claimer died) for this run.

    filter().update() with a fresh token is the claim: two workers never get the same mark.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    marks = DirtyWindow.objects.in_region(region)
    claimable = Q(state=DirtyWindow.State.PENDING) | Q(state=DirtyWindow.State.CLAIMED,
                                                       claimed_at__lt=stale)
    # Newest marks first: a request that rolls up in-process claims its own batch's hours even
    # when a failed run left older marks behind (those follow, a few per request).
    ids = list(marks.filter(claimable).order_by("-marked_at", "site_id", "start")
               .values_list("pk", flat=True)[:limit])
    token = uuid.uuid4()
    marks.filter(claimable, pk__in=ids).update(state=DirtyWindow.State.CLAIMED, claimed_at=now,
                                               claim_token=token)
    return token, list(marks.filter(claim_token=token).order_by("site_id", "start"))


def dirty_windows_rollup(*, region: str, limit: int = CLAIM_LIMIT) -> list[RecomputeResult]:
    """Recompute the claimed hours; a mark made again mid-recompute stays for the next run."""
    token, claimed = dirty_windows_claim(region=region, limit=limit)
    by_site: dict[int, list[datetime]] = defaultdict(list)
    for mark in claimed:
        by_site[mark.site_id].append(mark.start)
    results = [
        rollups_recompute(region=region, site_id=site_id, start=start, end=end)
        for site_id, hours in by_site.items()
        for start, end in hour_ranges(hours)
    ]
    # Re-marked rows had their token cleared by the upsert, so they survive this delete.
    DirtyWindow.objects.in_region(region).filter(
        claim_token=token, state=DirtyWindow.State.CLAIMED).delete()
    return results


def rollups_recompute_range(*, region: str, since: datetime, until: datetime) -> list[
        RecomputeResult]:
    """Recompute every site of the region holding buckets in [since, until)."""
    start, end = floor_hour(since), floor_hour(until - timedelta(microseconds=1)) + HOUR
    site_ids = (CountBucket.objects.in_region(region).filter(start__gte=start, start__lt=end)
                .values_list("site_id", flat=True).distinct().order_by("site_id"))
    return [rollups_recompute(region=region, site_id=site_id, start=start, end=end)
            for site_id in list(site_ids)]
