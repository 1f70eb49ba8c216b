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
from django.db.models import DateTimeField, Func, Q, Sum, Value
from django.db.models.functions import Coalesce, Trunc, TruncHour
from django.utils import timezone

from junction.analytics.models import (
    PERIOD_SECONDS,
    CounterFeed,
    DeviceCoverage,
    DirtyWindow,
    Period,
    Rollup,
    WindowCoverage,
)
from junction.analytics.windows import (
    HOUR,
    days_touching,
    floor_hour,
    hour_ranges,
)
from junction.residency.bulk import region_rows_insert
from junction.residency.planes import served_alias
from junction.sites.models import Site
from junction.sites.selectors import site_cameras
from junction.traffic.coverage import Watch, analysed_seconds
from junction.traffic.models import CountBucket, CountRow

log = logging.getLogger(__name__)

INSERT_BATCH = 5000
# Marks one rollup run claims: a worker coalesces the hours of many batches into few recomputes.
CLAIM_LIMIT = 2000
# Rollups are written with COPY on PostgreSQL (bulk_create elsewhere): preparing values one by
# one in the ORM cost more than the GROUP BY that produced them.
ROLLUP_FIELDS = (
    "site_id",
    "period",
    "start",
    "counter",
    "direction",
    "road_user",
    "count",
    "coverage",
    "computed_at",
)
COVERAGE_FIELDS = ("site_id", "period", "start", "analysed_seconds", "devices", "coverage")
CAMERA_COVERAGE_FIELDS = (
    "site_id",
    "device_id",
    "period",
    "start",
    "analysed_seconds",
    "coverage",
    "computed_at",
)
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


class QuarterHour(Func):
    """The start of the 15-minute window holding a UTC timestamp, as one expression.

    One expression to group by instead of an hour truncation plus a minute extraction: on
    PostgreSQL `date_bin` halves the cost of the rollup query.
    """

    output_field = DateTimeField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler,
            connection,
            template="date_bin('15 minutes', %(expressions)s, "
            "TIMESTAMPTZ '2000-01-01 00:00:00+00')",
            **extra,
        )

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as 'YYYY-MM-DD HH:MM:SS' text in UTC; rebuild it with the minutes floored.
        # `%%%%` survives the template (-> `%%`), then the backend turns `%%` into `%` when it
        # executes, and DEBUG's query logging (`sql % params`) reads `%%` as a literal `%`.
        return self.as_sql(
            compiler,
            connection,
            template="strftime('%%%%Y-%%%%m-%%%%d %%%%H:', %(expressions)s) || "
            "printf('%%%%02d', CAST(strftime('%%%%M', %(expressions)s) "
            "AS INTEGER) / 15 * 15) || ':00'",
            **extra,
        )


def _count_totals(region: str, site_id: int, start: datetime, end: datetime):
    return (
        CountRow.objects.in_region(region)
        .filter(site_id=site_id, start__gte=start, start__lt=end)
        .annotate(quarter=QuarterHour("start"), dir=Coalesce("direction", Value("")))
        .values("quarter", "counter", "dir", "road_user", "bucket__device_id")
        .annotate(total=Sum("count"))
        .order_by()
    )


def counter_feeds(*, region: str, site_id: int) -> dict[str, set[str]]:
    feeds: dict[str, set[str]] = defaultdict(set)
    for counter, device_id in (
        CounterFeed.objects.in_region(region)
        .filter(site_id=site_id)
        .values_list("counter", "device_id")
    ):
        feeds[counter].add(device_id)
    return feeds


def _counter_feeds_learn(
    *, region: str, site_id: int, seen: dict[tuple[str, str], datetime]
) -> None:
    """Remember which camera delivered rows for which counter (upsert, newest sighting)."""
    existing = {
        (f.counter, f.device_id): f
        for f in CounterFeed.objects.in_region(region).filter(site_id=site_id)
    }
    new, newer = [], []
    for (counter, device_id), last_seen in seen.items():
        feed = existing.get((counter, device_id))
        if feed is None:
            new.append(
                CounterFeed(
                    region=region,
                    site_id=site_id,
                    counter=counter,
                    device_id=device_id,
                    last_seen=last_seen,
                )
            )
        elif feed.last_seen < last_seen:
            feed.last_seen = last_seen
            newer.append(feed)
    CounterFeed.objects.in_region(region).bulk_create(new, ignore_conflicts=True)
    CounterFeed.objects.in_region(region).bulk_update(newer, ["last_seen"])


def rollups_recompute(
    *, region: str, site_id: int, start: datetime, end: datetime
) -> RecomputeResult:
    """Recompute 15-minute and hourly windows in [start, end) (hour aligned) and the site's
    local days touching it, with each window's coverage per camera and per counter."""
    start, end = floor_hour(start), floor_hour(end)
    alias = served_alias(region)
    tz = site_timezone(site_id)
    cameras = site_cameras(site_id=site_id)
    quarter_totals: dict[datetime, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
    hour_totals: dict[datetime, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
    seen: dict[tuple[str, str], datetime] = {}
    for row in _count_totals(region, site_id, start, end).iterator():
        key = (row["counter"], row["dir"], row["road_user"])
        quarter_totals[row["quarter"]][key] += row["total"]
        hour_totals[floor_hour(row["quarter"])][key] += row["total"]
        feed = (row["counter"], row["bucket__device_id"])
        seen[feed] = max(seen.get(feed, row["quarter"]), row["quarter"])
    quarter_seconds: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    hour_seconds: dict[datetime, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in analysed_seconds(
        region=region, site_id=site_id, start=start, end=end, window=QuarterHour("start")
    ).iterator():
        quarter_seconds[row["window"]][row["device_id"]] += row["analysed"]
        hour_seconds[floor_hour(row["window"])][row["device_id"]] += row["analysed"]

    now = timezone.now()
    with transaction.atomic(using=alias):
        _counter_feeds_learn(region=region, site_id=site_id, seen=seen)
        feeds = counter_feeds(region=region, site_id=site_id)
        quarter = _windows_build(
            site_id, Period.QUARTER_HOUR, quarter_totals, quarter_seconds, cameras, feeds, now
        )
        hour = _windows_build(site_id, Period.HOUR, hour_totals, hour_seconds, cameras, feeds, now)
        window = Q(
            site_id=site_id,
            period__in=[Period.QUARTER_HOUR, Period.HOUR],
            start__gte=start,
            start__lt=end,
        )
        _windows_replace(region, window, [quarter, hour])
        daily = _days_recompute(
            region=region,
            site_id=site_id,
            start=start,
            end=end,
            tz=tz,
            cameras=cameras,
            feeds=feeds,
            now=now,
        )
    total = len(quarter.rollups) + len(hour.rollups) + daily
    log.info("recomputed site %s %s..%s in %s: %s rollups", site_id, start, end, region, total)
    return RecomputeResult(site_id=site_id, start=start, end=end, rollups=total)


@dataclass
class WindowRows:
    rollups: list[tuple]
    coverages: list[tuple]
    camera_coverages: list[tuple]


def _windows_build(
    site_id: int,
    period: Period,
    totals: dict[datetime, dict[Key, int]],
    seconds: dict[datetime, dict[str, float]],
    cameras: set[str],
    feeds: dict[str, set[str]],
    now: datetime,
    lengths: dict[datetime, float] | None = None,
) -> WindowRows:
    """Rollup, site coverage and camera coverage rows of one period's windows."""
    rows = WindowRows([], [], [])
    for window in sorted(set(totals) | set(seconds)):
        analysed = dict(seconds.get(window, {}))
        length = lengths[window] if lengths else PERIOD_SECONDS[period]
        watch = Watch.of(analysed=analysed, window_seconds=length, cameras=cameras, feeds=feeds)
        covered = watch.covered
        rows.coverages.append(
            (site_id, period, window, sum(analysed.values()), len(covered), watch.site_coverage())
        )
        rows.camera_coverages.extend(
            (site_id, device, period, window, analysed.get(device, 0.0), cover, now)
            for device, cover in sorted(covered.items())
        )
        rows.rollups.extend(
            (
                site_id,
                period,
                window,
                counter,
                direction,
                road_user,
                count,
                watch.counter_coverage(counter),
                now,
            )
            for (counter, direction, road_user), count in totals.get(window, {}).items()
        )
    return rows


def _windows_replace(region: str, window: Q, built: list[WindowRows]) -> None:
    for model in (Rollup, WindowCoverage, DeviceCoverage):
        model.objects.in_region(region).filter(window).delete()
    region_rows_insert(
        Rollup, region=region, fields=ROLLUP_FIELDS, rows=[r for b in built for r in b.rollups]
    )
    region_rows_insert(
        WindowCoverage,
        region=region,
        fields=COVERAGE_FIELDS,
        rows=[r for b in built for r in b.coverages],
    )
    region_rows_insert(
        DeviceCoverage,
        region=region,
        fields=CAMERA_COVERAGE_FIELDS,
        rows=[r for b in built for r in b.camera_coverages],
    )


def _days_recompute(
    *,
    region: str,
    site_id: int,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
    cameras: set[str],
    feeds: dict[str, set[str]],
    now: datetime,
) -> int:
    """Daily windows from the hourly rollups (24 rows a key, not 1,440 buckets)."""
    days = days_touching(start, end, tz)
    first, last = days[0][0], days[-1][1]
    hourly = Rollup.objects.in_region(region).filter(
        site_id=site_id, period=Period.HOUR, start__gte=first, start__lt=last
    )
    totals: dict[datetime, dict[Key, int]] = defaultdict(dict)
    for row in (
        hourly.annotate(day=Trunc("start", "day", tzinfo=tz))
        .values("day", "counter", "direction", "road_user")
        .annotate(total=Sum("count"))
        .order_by()
    ):
        totals[row["day"]][(row["counter"], row["direction"], row["road_user"])] = row["total"]
    seconds: dict[datetime, dict[str, float]] = {day: {} for day, _ in days}
    for row in (
        DeviceCoverage.objects.in_region(region)
        .filter(site_id=site_id, period=Period.HOUR, start__gte=first, start__lt=last)
        .annotate(day=Trunc("start", "day", tzinfo=tz))
        .values("day", "device_id")
        .annotate(seconds=Sum("analysed_seconds"))
        .order_by()
    ):
        seconds[row["day"]][row["device_id"]] = row["seconds"]
    lengths = {day_start: (day_end - day_start).total_seconds() for day_start, day_end in days}
    built = _windows_build(site_id, Period.DAY, totals, seconds, cameras, feeds, now, lengths)
    _windows_replace(
        region, Q(site_id=site_id, period=Period.DAY, start__gte=first, start__lt=last), [built]
    )
    return len(built.rollups)


def dirty_windows_mark(*, region: str, site_id: int, starts: Iterable[datetime]) -> int:
    """Mark the hours holding these bucket starts for recompute (idempotent upsert)."""
    now = timezone.now()
    marks = [
        DirtyWindow(
            region=region,
            site_id=site_id,
            start=hour,
            marked_at=now,
            state=DirtyWindow.State.PENDING,
            claim_token=None,
        )
        for hour in sorted({floor_hour(start) for start in starts})
    ]
    with transaction.atomic(using=served_alias(region)):
        DirtyWindow.objects.in_region(region).bulk_create(
            marks,
            update_conflicts=True,
            unique_fields=["site_id", "start"],
            update_fields=["state", "marked_at", "claim_token"],
            batch_size=INSERT_BATCH,
        )
    return len(marks)


def dirty_windows_sweep(*, region: str, received_since: datetime) -> int:
    """Mark every hour with a bucket received since `received_since`.

    A backstop for the ingest signal: a process that stored a batch and died before
    announcing it still gets its hours rolled up on the next scheduled run.
    """
    hours = (
        CountBucket.objects.in_region(region)
        .filter(received_at__gte=received_since)
        .annotate(hour=TruncHour("start"))
        .values_list("site_id", "hour")
        .distinct()
        .order_by()
    )
    by_site: dict[int, list[datetime]] = defaultdict(list)
    for site_id, hour in hours:
        by_site[site_id].append(hour)
    return sum(
        dirty_windows_mark(region=region, site_id=site_id, starts=site_hours)
        for site_id, site_hours in by_site.items()
    )


def dirty_windows_claim(
    *, region: str, limit: int = CLAIM_LIMIT
) -> tuple[uuid.UUID, list[DirtyWindow]]:
    """Claim up to `limit` pending marks (and marks whose claimer died) for this run.

    filter().update() with a fresh token is the claim: two workers never get the same mark.
    """
    now = timezone.now()
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    marks = DirtyWindow.objects.in_region(region)
    claimable = Q(state=DirtyWindow.State.PENDING) | Q(
        state=DirtyWindow.State.CLAIMED, claimed_at__lt=stale
    )
    # Newest marks first: a request that rolls up in-process claims its own batch's hours even
    # when a failed run left older marks behind (those follow, a few per request).
    ids = list(
        marks.filter(claimable)
        .order_by("-marked_at", "site_id", "start")
        .values_list("pk", flat=True)[:limit]
    )
    token = uuid.uuid4()
    marks.filter(claimable, pk__in=ids).update(
        state=DirtyWindow.State.CLAIMED, claimed_at=now, claim_token=token
    )
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
        claim_token=token, state=DirtyWindow.State.CLAIMED
    ).delete()
    return results


def rollups_recompute_range(
    *, region: str, since: datetime, until: datetime
) -> list[RecomputeResult]:
    """Recompute every site of the region holding buckets in [since, until)."""
    start, end = floor_hour(since), floor_hour(until - timedelta(microseconds=1)) + HOUR
    site_ids = (
        CountBucket.objects.in_region(region)
        .filter(start__gte=start, start__lt=end)
        .values_list("site_id", flat=True)
        .distinct()
        .order_by("site_id")
    )
    return [
        rollups_recompute(region=region, site_id=site_id, start=start, end=end)
        for site_id in list(site_ids)
    ]
