"""Daily rollups as rollups_recompute would leave them, written straight to the region's
database from a hand-made window x category table (the rollup path has its own tests)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from junction.analytics.models import Period, Rollup, WindowCoverage
from junction.sites.models import Site

Category = tuple[str, str, str]  # counter, direction ("" for movements), road user


def store_days(
    site: Site, first: date, table: dict[Category, list[int]], coverage: list[float] | None = None
) -> None:
    """table[category][i] is the count of local day first + i; coverage[i] that day's share
    (default 1.0; 0 writes nothing at all for the day, as for a day no batch reached)."""
    zone = ZoneInfo(site.timezone)
    days = len(next(iter(table.values())))
    starts = [datetime.combine(first + timedelta(days=i), time(), tzinfo=zone) for i in range(days)]
    store_windows(site, Period.DAY, starts, table, coverage)


def store_windows(
    site: Site,
    period: str,
    starts: list[datetime],
    table: dict[Category, list[int]],
    coverage: list[float] | None = None,
) -> None:
    """table[category][i] is the count of the window at starts[i] (see store_days)."""
    region = site.region.code
    coverage = coverage or [1.0] * len(starts)
    seconds = 86400 if period == Period.DAY else 3600
    rollups, covers = [], []
    for i, (start, cover) in enumerate(zip(starts, coverage, strict=True)):
        if cover <= 0:
            continue
        covers.append(
            WindowCoverage(
                region=region,
                site_id=site.pk,
                period=period,
                start=start,
                analysed_seconds=seconds * cover,
                devices=1,
                coverage=cover,
            )
        )
        rollups.extend(
            Rollup(
                region=region,
                site_id=site.pk,
                period=period,
                start=start,
                counter=counter,
                direction=direction,
                road_user=road_user,
                count=counts[i],
                coverage=cover,
            )
            for (counter, direction, road_user), counts in table.items()
            if counts[i]
        )
    Rollup.objects.in_region(region).bulk_create(rollups)
    WindowCoverage.objects.in_region(region).bulk_create(covers)
