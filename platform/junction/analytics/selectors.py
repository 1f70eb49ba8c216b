"""Reads of analytics data: rollups, measures computed from them, anomalies, coverage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Avg, Max, QuerySet, Sum
from django.db.models.functions import Trunc, TruncHour

from junction.analytics import measures
from junction.analytics.models import (
    Anomaly,
    DeviceCoverage,
    DirtyWindow,
    Period,
    Rollup,
    WindowCoverage,
)
from junction.analytics.rollups import counter_feeds, site_timezone
from junction.analytics.windows import HOUR, QUARTER, days_touching, floor_hour, floor_quarter
from junction.sites.models import Site
from junction.sites.selectors import site_cameras
from junction.traffic.coverage import Watch, analysed_seconds
from junction.traffic.models import OccupancySummary, SpeedHistogram

# A window analysed for at least this share is read as complete (the share a day needs to
# enter an average daily traffic); below it, its total is shown beside its coverage as partial.
COMPLETE_COVERAGE = measures.COMPLETE_DAY_COVERAGE


def rollup_list(
    *, region: str, site_id: int, period: str, start: datetime, end: datetime
) -> QuerySet[Rollup]:
    return (
        Rollup.objects.in_region(region)
        .filter(site_id=site_id, period=period, start__gte=start, start__lt=end)
        .order_by("start", "counter", "direction", "road_user")
    )


def coverage_by_window(
    *,
    region: str,
    site_id: int,
    period: str,
    start: datetime,
    end: datetime,
    counter: str | None = None,
) -> dict[datetime, float]:
    """{window start: analysed share} of the site, or of the cameras that count `counter`:
    when one camera of two is dark, its counters are unmeasured and the other's are whole.

    The rollups stored both (junction.traffic.coverage): the site's share as a window row, and
    each camera's, from which a counter's share is taken as the rollups take it."""
    feeds = counter_feeds(region=region, site_id=site_id) if counter else {}
    if not feeds.get(counter or ""):
        sites = coverage_by_site(
            region=region, site_ids=[site_id], period=period, start=start, end=end
        )
        return sites.get(site_id, {})
    cameras: dict[datetime, dict[str, float]] = defaultdict(dict)
    for window, device_id, share in (
        DeviceCoverage.objects.in_region(region)
        .filter(
            site_id=site_id,
            period=period,
            start__gte=start,
            start__lt=end,
        )
        .values_list("start", "device_id", "coverage")
    ):
        cameras[window][device_id] = share
    return {
        window: Watch(covered=covered, feeds=feeds).counter_coverage(counter or "")
        for window, covered in cameras.items()
    }


def window_volumes(
    *,
    region: str,
    site_id: int,
    period: str,
    start: datetime,
    end: datetime,
    counters: list[str] | None = None,
) -> dict[datetime, int]:
    """All-class volume per window of `period` (optionally of some counters only); a window
    with no rollup row is absent, which is not a zero (see coverage_by_window)."""
    rows = Rollup.objects.in_region(region).filter(
        site_id=site_id, period=period, start__gte=start, start__lt=end
    )
    if counters:
        rows = rows.filter(counter__in=counters)
    return dict(
        rows.values("start").annotate(volume=Sum("count")).order_by().values_list("start", "volume")
    )


def volumes_by_site(
    *, region: str, site_ids: list[int], period: str, start: datetime, end: datetime
) -> dict[int, dict[datetime, int]]:
    """window_volumes of many sites in one query (a region's overview)."""
    answer: dict[int, dict[datetime, int]] = defaultdict(dict)
    for site_id, window, volume in (
        Rollup.objects.in_region(region)
        .filter(
            site_id__in=site_ids,
            period=period,
            start__gte=start,
            start__lt=end,
        )
        .values("site_id", "start")
        .annotate(volume=Sum("count"))
        .order_by()
        .values_list("site_id", "start", "volume")
    ):
        answer[site_id][window] = volume
    return answer


def coverage_by_site(
    *, region: str, site_ids: list[int], period: str, start: datetime, end: datetime
) -> dict[int, dict[datetime, float]]:
    """The sites' own analysed share per window (coverage_by_window without a counter), in
    one query."""
    answer: dict[int, dict[datetime, float]] = defaultdict(dict)
    for site_id, window, share in (
        WindowCoverage.objects.in_region(region)
        .filter(
            site_id__in=site_ids,
            period=period,
            start__gte=start,
            start__lt=end,
        )
        .values_list("site_id", "start", "coverage")
    ):
        answer[site_id][window] = share
    return answer


def quarter_volumes(
    *, region: str, site_id: int, start: datetime, end: datetime, counters: list[str] | None = None
) -> dict[datetime, int]:
    """All-class volume per 15-minute window (optionally of some counters only)."""
    return window_volumes(
        region=region,
        site_id=site_id,
        period=Period.QUARTER_HOUR,
        start=start,
        end=end,
        counters=counters,
    )


def peak_hour(
    *, region: str, site_id: int, start: datetime, end: datetime, counters: list[str] | None = None
) -> measures.PeakHour | None:
    return measures.peak_hour(
        quarter_volumes(region=region, site_id=site_id, start=start, end=end, counters=counters)
    )


def turning_movement_counts(*, region: str, site_id: int, start: datetime, end: datetime) -> dict:
    rows = (
        Rollup.objects.in_region(region)
        .filter(site_id=site_id, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end)
        .values_list("start", "counter", "direction", "road_user", "count")
    )
    return measures.turning_movement_counts(
        (s, f"{counter}:{direction}" if direction else counter, user, count)
        for s, counter, direction, user, count in rows
    )


def average_daily_traffic(
    *, region: str, site_id: int, start: datetime, end: datetime, counters: list[str] | None = None
) -> dict[str, dict]:
    tz = site_timezone(site_id)
    rows = Rollup.objects.in_region(region).filter(
        site_id=site_id, period=Period.DAY, start__gte=start, start__lt=end
    )
    if counters:
        rows = rows.filter(counter__in=counters)
    volumes = dict(
        rows.values("start").annotate(volume=Sum("count")).order_by().values_list("start", "volume")
    )
    coverage = coverage_by_window(
        region=region, site_id=site_id, period=Period.DAY, start=start, end=end
    )
    return measures.average_daily_traffic(
        (day.astimezone(tz).date(), volumes.get(day, 0), cover) for day, cover in coverage.items()
    )


def v85_by_hour(
    *,
    region: str,
    site_id: int,
    start: datetime,
    end: datetime,
    counter: str | None = None,
    road_user: str | None = None,
) -> dict[datetime, float | None]:
    """85th-percentile speed per hour; histograms are small, so they are summed here."""
    rows = SpeedHistogram.objects.in_region(region).filter(
        site_id=site_id, start__gte=start, start__lt=end
    )
    if counter:
        rows = rows.filter(counter=counter)
    if road_user:
        rows = rows.filter(road_user=road_user)
    by_hour: dict[datetime, list] = defaultdict(list)
    for hour, edges, counts in (
        rows.annotate(hour=TruncHour("start")).values_list("hour", "edges_kmh", "counts").order_by()
    ):
        by_hour[hour].append((edges, counts))
    return {hour: measures.v85(hists) for hour, hists in sorted(by_hour.items())}


@dataclass(frozen=True)
class SpeedSummary:
    v85: dict[datetime, float | None]  # per UTC hour
    edges_kmh: list[float]  # the period's histogram, of its most populated bin layout
    counts: list[int]


def speed_summary(
    *, region: str, site_id: int, start: datetime, end: datetime
) -> SpeedSummary | None:
    """v85 per hour and the period's speed histogram from one read of the histograms (the
    rules are measures.v85 and measures.merge_histograms); None where no speed was measured."""
    by_hour: dict[datetime, list] = defaultdict(list)
    for hour, edges, counts in (
        SpeedHistogram.objects.in_region(region)
        .filter(
            site_id=site_id,
            start__gte=start,
            start__lt=end,
        )
        .annotate(hour=TruncHour("start"))
        .values_list("hour", "edges_kmh", "counts")
        .order_by()
    ):
        by_hour[hour].append((edges, counts))
    if not by_hour:
        return None
    merged = measures.merge_histograms(h for hists in by_hour.values() for h in hists)
    edges, counts = max(merged.items(), key=lambda item: sum(item[1]))
    return SpeedSummary(
        v85={hour: measures.v85(hists) for hour, hists in sorted(by_hour.items())},
        edges_kmh=list(edges),
        counts=counts,
    )


def occupancy_profile(
    *, region: str, site_id: int, start: datetime, end: datetime, period: str = "hour"
) -> list[dict]:
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


def anomaly_list(
    *,
    region: str,
    state: str | None = None,
    site_id: int | None = None,
    since: datetime | None = None,
) -> QuerySet[Anomaly]:
    rows = Anomaly.objects.in_region(region).all()
    if state:
        rows = rows.filter(state=state)
    if site_id is not None:
        rows = rows.filter(site_id=site_id)
    if since is not None:
        rows = rows.filter(end__gte=since)
    return rows.order_by("-start", "site_id", "counter")


# --- windows with their coverage, for readers (API, dashboard) ------------------------------

Window = tuple[datetime, datetime]


def window_grid(*, period: str, start: datetime, end: datetime, tz: ZoneInfo) -> list[Window]:
    """Every window of `period` that overlaps [start, end): days are the site's local days,
    quarter hours and hours are cut in UTC as the rollups are."""
    if period == Period.DAY:
        return days_touching(start, end, tz) if start < end else []
    step = QUARTER if period == Period.QUARTER_HOUR else HOUR
    moment = floor_quarter(start) if period == Period.QUARTER_HOUR else floor_hour(start)
    windows = []
    while moment < end:
        windows.append((moment, moment + step))
        moment += step
    return windows


def coverage_status(coverage: float | None) -> str:
    if not coverage:
        return "no_data"
    return "complete" if coverage >= COMPLETE_COVERAGE else "partial"


@dataclass(frozen=True)
class RollupWindow:
    """One window's rollups. `coverage` None: nothing was ever delivered for it; `pending`:
    late buckets arrived and the window waits for its recompute, so its total may grow."""

    start: datetime
    end: datetime
    coverage: float | None
    pending: bool
    rows: list[dict]  # {"counter", "direction" (None for movements), "road_user", "count"}

    @property
    def status(self) -> str:
        return coverage_status(self.coverage)

    @property
    def count(self) -> int | None:
        # No data is not zero traffic: without coverage and rows there is no total to give.
        if not self.rows and not self.coverage:
            return None
        return sum(row["count"] for row in self.rows)


def rollup_windows(
    *,
    region: str,
    site_id: int,
    period: str,
    windows: list[Window],
    counter: str | None = None,
    road_user: str | None = None,
) -> list[RollupWindow]:
    """Rollups of `windows` (from window_grid, contiguous) with coverage and pending marks,
    every window present even when nothing was counted in it. Three queries."""
    if not windows:
        return []
    first, last = windows[0][0], windows[-1][1]
    rows = rollup_list(region=region, site_id=site_id, period=period, start=first, end=last)
    if counter is not None:
        rows = rows.filter(counter=counter)
    if road_user is not None:
        rows = rows.filter(road_user=road_user)
    by_window: dict[datetime, list[dict]] = defaultdict(list)
    for start, name, direction, user, count in rows.values_list(
        "start", "counter", "direction", "road_user", "count"
    ):
        by_window[start].append(
            {"counter": name, "direction": direction or None, "road_user": user, "count": count}
        )
    coverage = coverage_by_window(
        region=region, site_id=site_id, period=period, start=first, end=last, counter=counter
    )
    dirty = set(
        DirtyWindow.objects.in_region(region)
        .filter(site_id=site_id, start__gte=floor_hour(first), start__lt=last)
        .values_list("start", flat=True)
    )
    return [
        RollupWindow(
            start=start,
            end=end,
            coverage=coverage.get(start),
            pending=any(start - HOUR < hour < end for hour in dirty),
            rows=by_window.get(start, []),
        )
        for start, end in windows
    ]


def measured_peak_hour(
    *, region: str, site_id: int, start: datetime, end: datetime, counters: list[str] | None = None
) -> measures.PeakHour | None:
    """Peak hour over the quarter hours that were measured in full (two queries)."""
    return measures.peak_hour(
        measured_quarters(region=region, site_id=site_id, start=start, end=end, counters=counters)
    )


def measured_quarters(
    *, region: str, site_id: int, start: datetime, end: datetime, counters: list[str] | None = None
) -> dict[datetime, int]:
    """Volume of each quarter hour measured in full, the peak hour's candidates (two queries).

    A quarter analysed for half its length would pull its hour down and its PHF off, so only
    complete quarters are candidates; a complete quarter with nothing counted is a real 0.
    """
    volumes = quarter_volumes(
        region=region, site_id=site_id, start=start, end=end, counters=counters
    )
    coverage = coverage_by_window(
        region=region, site_id=site_id, period=Period.QUARTER_HOUR, start=start, end=end
    )
    return {
        quarter: volumes.get(quarter, 0)
        for quarter, cover in coverage.items()
        if cover >= COMPLETE_COVERAGE
    }


@dataclass(frozen=True)
class DayMeasures:
    start: datetime
    end: datetime
    coverage: float | None  # of the local day, from its daily window
    peak: measures.PeakHour | None
    quarter_coverage: dict[datetime, float]
    tmc: dict[datetime, dict[str, dict[str, int]]]
    v85: dict[datetime, float | None]


def day_measures(
    *, region: str, site_id: int, start: datetime, end: datetime, counters: list[str] | None = None
) -> DayMeasures:
    """A day's engineering measures from its rollups: peak hour and PHF (of `counters`, all
    by default), TMC per 15 minutes and v85 per hour."""
    quarter_coverage = coverage_by_window(
        region=region, site_id=site_id, period=Period.QUARTER_HOUR, start=start, end=end
    )
    day_coverage = coverage_by_window(
        region=region, site_id=site_id, period=Period.DAY, start=start, end=end
    )
    return DayMeasures(
        start=start,
        end=end,
        coverage=day_coverage.get(start),
        peak=measured_peak_hour(
            region=region, site_id=site_id, start=start, end=end, counters=counters
        ),
        quarter_coverage=quarter_coverage,
        tmc=turning_movement_counts(region=region, site_id=site_id, start=start, end=end),
        v85=v85_by_hour(region=region, site_id=site_id, start=start, end=end),
    )


def delivered_coverage(
    *,
    region: str,
    site_id: int,
    windows: list[Window],
    start: datetime,
    end: datetime,
    interval: str,
    tz: ZoneInfo,
) -> dict[datetime, float]:
    """{window start: analysed share} of raw buckets, for reads that do not wait for rollups.

    `windows` are local hours or days of the site (`tz`), as the raw counts are cut.

    The share is of the window's part inside [start, end), computed as rollups compute theirs
    (junction.traffic.coverage): a camera that sent half an hour of buckets reads 0.5, not 1.0.
    A window missing from the answer received no bucket at all.
    """
    if not windows:
        return {}
    cameras = site_cameras(site_id=site_id)
    analysed: dict[datetime, dict[str, float]] = defaultdict(dict)
    # Cut on the site's clock, like the counts these shares go with (local_hours_touching).
    for row in analysed_seconds(
        region=region,
        site_id=site_id,
        start=start,
        end=end,
        window=Trunc("start", interval, tzinfo=tz),
    ):
        analysed[row["window"]][row["device_id"]] = row["analysed"] or 0.0
    spans = {
        w_start: (min(w_end, end) - max(w_start, start)).total_seconds()
        for w_start, w_end in windows
    }
    return {
        window: Watch.of(
            analysed=seconds, window_seconds=spans[window], cameras=cameras
        ).site_coverage()
        for window, seconds in analysed.items()
        if spans.get(window)
    }


def site_slugs(site_ids: set[int]) -> dict[int, str]:
    """Slugs of the sites region rows name by id (sites are control plane): one query."""
    if not site_ids:
        return {}
    return dict(Site.objects.filter(pk__in=site_ids).values_list("pk", "slug"))
