"""Bulk traffic for analytics tests: one-minute buckets and their count rows, written the way
ingest stores them (one bucket per device and minute, rows repeating site and start)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from junction.analytics import rollups
from junction.traffic.models import CountBucket, CountRow, SpeedHistogram

MINUTE = timedelta(minutes=1)
Counts = dict[tuple[str, str | None, str], int]  # (counter, direction, road user) -> count


def store_buckets(
    *,
    region: str,
    site_id: int,
    start: datetime,
    minutes: int,
    counts: Callable[[datetime], Counts] | Counts,
    uptime: Callable[[datetime], float] | float = 1.0,
    device_id: str = "dev-1",
    seconds: int = 60,
) -> list[CountBucket]:
    """One bucket per `seconds` from `start`; counts and uptime may vary with the bucket start."""
    batch_id = uuid.uuid4()
    step = timedelta(seconds=seconds)
    starts = [start + i * step for i in range(minutes * 60 // seconds)]
    buckets = [
        CountBucket(
            region=region,
            site_id=site_id,
            device_id=device_id,
            batch_id=batch_id,
            start=moment,
            seconds=seconds,
            uptime=uptime(moment) if callable(uptime) else uptime,
        )
        for moment in starts
    ]
    CountBucket.objects.in_region(region).bulk_create(buckets, batch_size=2000)
    saved = {
        b.start: b
        for b in CountBucket.objects.in_region(region).filter(
            site_id=site_id, device_id=device_id, start__in=starts
        )
    }
    rows = []
    for moment in starts:
        bucket = saved[moment]
        if bucket.uptime == 0:
            continue
        table = counts(moment) if callable(counts) else counts
        rows.extend(
            CountRow(
                region=region,
                bucket=bucket,
                site_id=site_id,
                start=moment,
                counter=counter,
                direction=direction,
                road_user=road_user,
                count=n,
            )
            for (counter, direction, road_user), n in table.items()
            if n
        )
    CountRow.objects.in_region(region).bulk_create(rows, batch_size=5000)
    return [saved[m] for m in starts]


def store_speeds(
    *,
    region: str,
    bucket: CountBucket,
    counter: str,
    road_user: str,
    edges_kmh: Iterable[float],
    counts: Iterable[int],
) -> SpeedHistogram:
    histogram = SpeedHistogram(
        region=region,
        bucket=bucket,
        site_id=bucket.site_id,
        start=bucket.start,
        counter=counter,
        road_user=road_user,
        edges_kmh=list(edges_kmh),
        counts=list(counts),
    )
    histogram.save()
    return histogram


def store_quarter_series(
    *,
    region: str,
    site_id: int,
    start: datetime,
    volumes,
    coverage,
    counter: str = "north-stopline",
    device_id: str = "dev-1",
    computed_at: datetime | None = None,
) -> None:
    """15-minute rollups and coverage as rollups_recompute would leave them for one camera,
    written directly (weeks of one-minute buckets would make detection tests slow for no extra
    truth). A window with coverage 0 gets no coverage row: no batch ever arrived for it."""
    from junction.analytics.models import (
        CounterFeed,
        DeviceCoverage,
        Period,
        Rollup,
        WindowCoverage,
    )

    quarter = timedelta(minutes=15)
    now = computed_at or datetime.now(UTC)
    rollups, covers, cameras = [], [], []
    for i, (volume, cover) in enumerate(zip(volumes, coverage, strict=True)):
        moment = start + i * quarter
        if cover <= 0:
            continue
        covers.append(
            WindowCoverage(
                region=region,
                site_id=site_id,
                period=Period.QUARTER_HOUR,
                start=moment,
                analysed_seconds=900 * cover,
                devices=1,
                coverage=cover,
            )
        )
        cameras.append(
            DeviceCoverage(
                region=region,
                site_id=site_id,
                device_id=device_id,
                period=Period.QUARTER_HOUR,
                start=moment,
                analysed_seconds=900 * cover,
                coverage=cover,
                computed_at=now,
            )
        )
        if volume:
            rollups.append(
                Rollup(
                    region=region,
                    site_id=site_id,
                    period=Period.QUARTER_HOUR,
                    start=moment,
                    counter=counter,
                    direction="in",
                    road_user="car",
                    count=int(volume),
                    coverage=cover,
                )
            )
    for model, rows in ((Rollup, rollups), (WindowCoverage, covers), (DeviceCoverage, cameras)):
        window = {
            "site_id": site_id,
            "period": Period.QUARTER_HOUR,
            "start__in": [row.start for row in rows],
        }
        if model is Rollup:
            window["counter"] = counter
        if model is DeviceCoverage:
            window["device_id"] = device_id
        model.objects.in_region(region).filter(**window).delete()  # a late delivery replaces
        model.objects.in_region(region).bulk_create(rows, batch_size=5000)
    CounterFeed.objects.in_region(region).bulk_create(
        [
            CounterFeed(
                region=region,
                site_id=site_id,
                counter=counter,
                device_id=device_id,
                last_seen=start,
            )
        ],
        ignore_conflicts=True,
    )


# The measured morning both measures tests use: through volume per 15 minutes, 07:00-09:00.
# Hourly sums by start: 07:00 500, 07:15 560, 07:30 550, 07:45 490, 08:00 440 -> peak hour
# 07:15-08:15, 560 vehicles, busiest quarter 160, PHF = 560 / (4 x 160) = 0.875.
MORNING = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
MORNING_QUARTERS = [100, 120, 150, 130, 160, 110, 90, 80]
SPEED_EDGES = [0, 10, 20, 30, 40, 50, 60, 70, 80]


def morning_counts(moment: datetime) -> Counts:
    """Each quarter's whole volume in its first minute: rollups must still put it right."""
    index = int((moment - MORNING) / timedelta(minutes=15))
    first_minute = moment.minute % 15 == 0
    return {
        ("north-stopline", "in", "car"): MORNING_QUARTERS[index] if first_minute else 0,
        ("N>E", None, "car"): 3 if first_minute else 0,
        ("N>E", None, "bicycle"): 1 if first_minute else 0,
    }


def store_measured_morning(*, region: str, site, uptime: Callable[[datetime], float] | float = 1.0):
    """MORNING's two hours of buckets with their speed histograms, rolled up.

    07:xx: two histograms [0,1,4,6,1,...] -> 24 cars, v85 at 20.4 -> 38.67 km/h.
    08:xx: one histogram [0,0,0,2,2,...] -> 4 cars, v85 at 3.4 -> 47.0 km/h."""
    buckets = store_buckets(
        region=region,
        site_id=site.pk,
        start=MORNING,
        minutes=120,
        counts=morning_counts,
        uptime=uptime,
    )
    histograms = [(buckets[0], [0, 1, 4, 6, 1, 0, 0, 0]), (buckets[30], [0, 1, 4, 6, 1, 0, 0, 0])]
    histograms.append((buckets[60], [0, 0, 0, 2, 2, 0, 0, 0]))
    for bucket, counts in histograms:
        store_speeds(
            region=region,
            bucket=bucket,
            counter="north-stopline",
            road_user="car",
            edges_kmh=SPEED_EDGES,
            counts=counts,
        )
    rollups.rollups_recompute(
        region=region, site_id=site.pk, start=MORNING, end=MORNING + timedelta(hours=2)
    )
    return site
