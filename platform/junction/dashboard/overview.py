"""A region's overview: every site with its last 7 local days against its normal, today's
total and coverage, and its open anomalies. A fixed number of queries for the whole region
(the sites' daily rollups and coverage over the 7 days and the 4 weeks before, one count of
open anomalies), however many sites it has."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count

from junction.analytics import selectors as analytics
from junction.analytics.models import Period
from junction.dashboard.periods import day_bounds
from junction.dashboard.selectors import UNRESOLVED
from junction.dashboard.study import NORMAL_WEEKS, Normal, normal_of
from junction.sites.models import Site

SPARK_DAYS = 7


@dataclass(frozen=True)
class DayTotal:
    day: date
    count: int | None  # None: no data, not zero
    coverage: float | None
    status: str
    normal: Normal | None


@dataclass(frozen=True)
class SiteCard:
    site: Site
    days: list[DayTotal]  # the last 7 local days, today last
    open_anomalies: int

    @property
    def today(self) -> DayTotal:
        return self.days[-1]


def region_overview(region: str, sites: list[Site], now: datetime) -> list[SiteCard]:
    if not sites:
        return []
    ids = [site.pk for site in sites]
    # Wide enough for every site's zone: local days start up to 14 hours either side of UTC.
    start = now - timedelta(days=SPARK_DAYS + 7 * NORMAL_WEEKS + 1)
    end = now + timedelta(days=1)
    volumes = analytics.volumes_by_site(
        region=region, site_ids=ids, period=Period.DAY, start=start, end=end
    )
    coverage = analytics.coverage_by_site(
        region=region, site_ids=ids, period=Period.DAY, start=start, end=end
    )
    anomalies = dict(
        analytics.anomaly_list(region=region)
        .filter(site_id__in=ids, state__in=UNRESOLVED)
        .values("site_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("site_id", "n")
    )
    return [
        SiteCard(
            site=site,
            days=site_days(site, now, volumes.get(site.pk, {}), coverage.get(site.pk, {})),
            open_anomalies=anomalies.get(site.pk, 0),
        )
        for site in sites
    ]


def site_days(
    site: Site, now: datetime, volumes: dict[datetime, int], coverage: dict[datetime, float]
) -> list[DayTotal]:
    zone = ZoneInfo(site.timezone)
    today = now.astimezone(zone).date()

    def total(day: date) -> tuple[int | None, float | None]:
        start = day_bounds(day, zone)[0]
        share = coverage.get(start)
        count = volumes.get(start)
        return (count if count is not None else (0 if share else None)), share

    days = []
    for back in range(SPARK_DAYS - 1, -1, -1):
        day = today - timedelta(days=back)
        count, share = total(day)
        history = [total(day - timedelta(weeks=k)) for k in range(1, NORMAL_WEEKS + 1)]
        complete = [c or 0 for c, s in history if s and s >= analytics.COMPLETE_COVERAGE]
        days.append(
            DayTotal(
                day=day,
                count=count,
                coverage=share,
                status=analytics.coverage_status(share),
                normal=normal_of(complete),
            )
        )
    return days
