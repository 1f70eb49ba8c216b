"""What a site page shows over a period (a traffic study): the flow per window with its
coverage, the site's normal beside it, a compared period, mode share, direction split, AM and
PM peak hours per local day, and the period's anomalies. Every read is bounded by the period
(and, for the normal, the four weeks before it), never by how much is stored."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from edge_worker.contract import ROAD_USER_CLASSES
from junction.analytics import measures
from junction.analytics import selectors as analytics
from junction.analytics.models import Anomaly, Period
from junction.dashboard.periods import Span
from junction.sites.models import Site

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NORMAL_WEEKS = 4
# The normal of a window needs this many complete weeks among the four before it.
NORMAL_LEAST_WEEKS = 2
NOON = 12
# A day-of-week x hour map says something once every weekday is in the period.
HEATMAP_DAYS = 7
DAILY_AVERAGE_DAYS = 7  # an ADT of fewer days than a week leans on which weekdays they were
SHADES = 10


@dataclass(frozen=True)
class Normal:
    low: float  # first quartile
    median: float
    high: float  # third quartile
    weeks: int  # complete same-weekday windows it was taken from


@dataclass(frozen=True)
class FlowPoint:
    start: datetime  # in the site's zone
    end: datetime
    count: int | None  # None: no data, which is not zero traffic
    coverage: float | None
    status: str  # complete | partial | no_data
    pending: bool
    normal: Normal | None
    compared: int | None  # the compared period's window at the same offset


@dataclass(frozen=True)
class Share:
    label: str
    count: int
    share: float


@dataclass(frozen=True)
class DayPeaks:
    day: date
    am: measures.PeakHour | None  # start in UTC; the template shows it in the site's zone
    pm: measures.PeakHour | None


@dataclass(frozen=True)
class HeatCell:
    value: float | None  # mean volume of a local hour; None: no such hour measured in full
    shade: int  # 0-9 of the busiest cell of the map, -1 for None


@dataclass(frozen=True)
class HeatRow:
    weekday: str
    cells: list[HeatCell]  # local hours 0-23


@dataclass(frozen=True)
class MovementRow:
    start: datetime  # in the site's zone
    status: str
    counts: list[int | None]  # per movement of Study.movements; None: no data


@dataclass(frozen=True)
class Study:
    site: Site
    span: Span
    points: list[FlowPoint]
    modes: list[Share]
    directions: list[Share]
    peaks: list[DayPeaks]
    anomalies: list[Anomaly]
    heatmap: list[HeatRow]
    movements: list[str]  # the site's turning movements counted in the period
    tmc: list[MovementRow]  # per 15 minutes, for periods read in 15-minute windows
    speed: analytics.SpeedSummary | None
    # ADT and AWDT of the period's complete local days (from a week on; empty before)
    daily: dict[str, measures.DailyAverage] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(point.count or 0 for point in self.points)

    @property
    def coverage(self) -> float:
        """The share of the period that was analysed (window-length weighted)."""
        seconds = sum((p.end - p.start).total_seconds() for p in self.points)
        analysed = sum((p.end - p.start).total_seconds() * (p.coverage or 0) for p in self.points)
        return analysed / seconds if seconds else 0.0


def site_study(site: Site, span: Span) -> Study:
    region, zone = site.region.code, span.zone
    grid = analytics.window_grid(period=span.granularity, start=span.start, end=span.end, tz=zone)
    windows = analytics.rollup_windows(
        region=region, site_id=site.pk, period=span.granularity, windows=grid
    )
    normals = site_normals(site, span, grid)
    compared = compared_counts(site, span)
    points = []
    for window in windows:
        local = window.start.astimezone(zone)
        points.append(
            FlowPoint(
                start=local,
                end=window.end.astimezone(zone),
                count=window.count,
                coverage=window.coverage,
                status=window.status,
                pending=window.pending,
                normal=normals.get(wall(local)),
                compared=compared.get(wall(local) - wall_day(span.first)),
            )
        )
    modes: dict[str, int] = defaultdict(int)
    directions: dict[str, int] = defaultdict(int)
    for window in windows:
        for row in window.rows:
            modes[row["road_user"]] += row["count"]
            directions[
                f"{row['counter']} {row['direction']}" if row["direction"] else row["counter"]
            ] += row["count"]
    # Movements (N>E) are the rows without a direction; TMC tables are per 15 minutes.
    movements = []
    if span.granularity == Period.QUARTER_HOUR:
        movements = sorted(
            {row["counter"] for w in windows for row in w.rows if row["direction"] is None}
        )
    anomalies = list(
        analytics.anomaly_list(region=region, site_id=site.pk)
        .filter(start__lt=span.end, end__gt=span.start)
        .order_by("start", "pk")
    )
    return Study(
        site=site,
        span=span,
        points=points,
        modes=shares({c: modes[c] for c in ROAD_USER_CLASSES if modes.get(c)}),
        directions=shares(dict(sorted(directions.items()))),
        peaks=day_peaks(site, span),
        anomalies=anomalies,
        heatmap=week_heatmap(site, span) if span.days >= HEATMAP_DAYS else [],
        movements=movements,
        tmc=movement_rows(points, windows, movements),
        speed=analytics.speed_summary(
            region=region, site_id=site.pk, start=span.start, end=span.end
        ),
        daily=daily_traffic(points) if span.days >= DAILY_AVERAGE_DAYS else {},
    )


def daily_traffic(points: list[FlowPoint]) -> dict[str, measures.DailyAverage]:
    """ADT and AWDT from the flow's own windows, summed per local day; a day's coverage is
    the mean of its windows' (all one length within a day), so a day with an outage is left
    out by the measures' completeness rule rather than counted as a quiet day."""
    days: dict[date, list[FlowPoint]] = defaultdict(list)
    for point in points:
        days[point.start.date()].append(point)
    return measures.daily_averages(
        (day, sum(p.count or 0 for p in ps), sum(p.coverage or 0.0 for p in ps) / len(ps))
        for day, ps in days.items()
    )


def wall(moment: datetime) -> datetime:
    """A local instant as the wall-clock time a traffic engineer compares weeks by."""
    return moment.replace(tzinfo=None)


def wall_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def shares(counts: dict[str, int]) -> list[Share]:
    total = sum(counts.values())
    return [
        Share(label=label, count=count, share=count / total if total else 0.0)
        for label, count in counts.items()
    ]


def site_normals(site: Site, span: Span, grid: list[analytics.Window]) -> dict[datetime, Normal]:
    """{local wall time: median and inter-quartile band} of the same weekday and time over
    the four weeks before each window, from windows measured in full only (a half-watched
    window would drag the normal down as an outage drags a count). Two queries."""
    region = site.region.code
    start = span.start - timedelta(weeks=NORMAL_WEEKS)
    end = span.end - timedelta(weeks=1)
    volumes = analytics.window_volumes(
        region=region, site_id=site.pk, period=span.granularity, start=start, end=end
    )
    coverage = analytics.coverage_by_window(
        region=region, site_id=site.pk, period=span.granularity, start=start, end=end
    )
    history = {
        wall(moment.astimezone(span.zone)): volumes.get(moment, 0)
        for moment, cover in coverage.items()
        if cover >= analytics.COMPLETE_COVERAGE
    }
    normals = {}
    for moment in (wall(w.astimezone(span.zone)) for w, _ in grid):
        values = [
            history[moment - timedelta(weeks=k)]
            for k in range(1, NORMAL_WEEKS + 1)
            if moment - timedelta(weeks=k) in history
        ]
        normal = normal_of(values)
        if normal is not None:
            normals[moment] = normal
    return normals


def normal_of(values: list[int]) -> Normal | None:
    """Median and inter-quartile band of the same window in the weeks before, or None when
    too few of those weeks were measured in full to say what is normal."""
    if len(values) < NORMAL_LEAST_WEEKS:
        return None
    low, median, high = statistics.quantiles(values, n=4, method="inclusive")
    return Normal(low=low, median=median, high=high, weeks=len(values))


def compared_counts(site: Site, span: Span) -> dict[timedelta, int | None]:
    """{offset from the first local day: count} of the compared period (none: {})."""
    if span.compare is None:
        return {}
    other = span.shifted(span.compare)
    grid = analytics.window_grid(
        period=span.granularity, start=other.start, end=other.end, tz=span.zone
    )
    windows = analytics.rollup_windows(
        region=site.region.code, site_id=site.pk, period=span.granularity, windows=grid
    )
    origin = wall_day(other.first)
    return {wall(w.start.astimezone(span.zone)) - origin: w.count for w in windows}


def day_peaks(site: Site, span: Span) -> list[DayPeaks]:
    """AM and PM peak hour with PHF of each local day, over quarters measured in full: a
    morning and an afternoon peak are what a signal timing study asks for. Two queries."""
    quarters = analytics.measured_quarters(
        region=site.region.code, site_id=site.pk, start=span.start, end=span.end
    )
    halves: dict[tuple[date, bool], dict[datetime, int]] = defaultdict(dict)
    for quarter, volume in quarters.items():
        local = quarter.astimezone(span.zone)
        halves[(local.date(), local.hour < NOON)][quarter] = volume
    days = [span.first + timedelta(days=i) for i in range(span.days)]
    return [
        DayPeaks(
            day=day,
            am=measures.peak_hour(halves.get((day, True), {})),
            pm=measures.peak_hour(halves.get((day, False), {})),
        )
        for day in days
    ]


def week_heatmap(site: Site, span: Span) -> list[HeatRow]:
    """Mean volume per local weekday and hour over the period's hours measured in full (a
    half-watched hour would read as a quiet one). Two queries."""
    region = site.region.code
    volumes = analytics.window_volumes(
        region=region, site_id=site.pk, period=Period.HOUR, start=span.start, end=span.end
    )
    coverage = analytics.coverage_by_window(
        region=region, site_id=site.pk, period=Period.HOUR, start=span.start, end=span.end
    )
    sums: dict[tuple[int, int], list[int]] = defaultdict(list)
    for hour, cover in coverage.items():
        if cover >= analytics.COMPLETE_COVERAGE:
            local = hour.astimezone(span.zone)
            sums[(local.weekday(), local.hour)].append(volumes.get(hour, 0))
    means = {key: sum(values) / len(values) for key, values in sums.items()}
    top = max(means.values(), default=0) or 1
    rows = []
    for weekday in range(7):
        values = [means.get((weekday, hour)) for hour in range(24)]
        rows.append(
            HeatRow(
                weekday=WEEKDAYS[weekday],
                cells=[
                    HeatCell(
                        value=v, shade=-1 if v is None else min(SHADES - 1, int(v / top * SHADES))
                    )
                    for v in values
                ],
            )
        )
    return rows


def movement_rows(
    points: list[FlowPoint], windows: list[analytics.RollupWindow], movements: list[str]
) -> list[MovementRow]:
    if not movements:
        return []
    rows = []
    for point, window in zip(points, windows, strict=True):
        counted: dict[str, int] = defaultdict(int)
        for row in window.rows:
            if row["direction"] is None:
                counted[row["counter"]] += row["count"]
        rows.append(
            MovementRow(
                start=point.start,
                status=point.status,
                counts=[None if point.count is None else counted.get(m, 0) for m in movements],
            )
        )
    return rows
