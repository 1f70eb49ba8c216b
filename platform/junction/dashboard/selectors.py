"""What the dashboard pages show, read through the region scoping rule
(`restrict`, junction.residency.scoping)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, QuerySet
from django.http import Http404

from edge_worker.contract import ROAD_USER_CLASSES
from junction.accounts.scoping import member_regions
from junction.analytics import selectors as analytics
from junction.analytics.models import Anomaly, Period
from junction.analytics.windows import local_day
from junction.residency.models import Region
from junction.residency.scoping import Action, AnyUser, may
from junction.sites.models import Device, Site
from junction.traffic.selectors import count_totals

# A device that has sent nothing for this long is flagged on the dashboard.
LATE_AFTER = timedelta(minutes=15)


def regions_for(user: AnyUser) -> QuerySet[Region]:
    return Region.objects.restrict(user)


def sites_for(user: AnyUser) -> QuerySet[Site]:
    return Site.objects.select_related("region").restrict(user).annotate(
        counter_count=Count("counters", distinct=True),
        device_count=Count("devices", distinct=True),
    )


def devices_for(user: AnyUser, site: Site | None = None) -> QuerySet[Device]:
    devices = Device.objects.select_related("site__region").restrict(user)
    return devices.filter(site=site) if site is not None else devices


def roles_for(user: AnyUser) -> dict[str, str]:
    return member_regions(user)


@dataclass(frozen=True)
class HourBar:
    start: datetime  # in the site's zone
    count: int | None  # None: no data, which is not zero traffic
    coverage: float | None  # None: no bucket ever received for this hour
    status: str  # complete | partial | no_data
    pending: bool  # late buckets wait for their recompute: the bar may still grow


@dataclass(frozen=True)
class PeakHour:
    date: date  # the site's local day it was taken over
    start: datetime  # in the site's zone
    end: datetime
    volume: int
    phf: float


@dataclass(frozen=True)
class SiteDay:
    """The last 24 hours of a site: totals per counter/direction/class (as delivered), the
    hourly flow from the rollups with each hour's coverage, and today's peak hour."""

    start: datetime
    end: datetime
    classes: list[str]
    rows: list[dict]  # {"counter", "direction", "cells": [count per class], "total"}
    hours: list[HourBar]
    peak_date: date
    peak: PeakHour | None
    open_anomalies: int

    @property
    def total(self) -> int:
        return sum(row["total"] for row in self.rows)


def site_day(site: Site, now: datetime) -> SiteDay:
    # Whole local hours, the current one included; arithmetic in UTC so a DST change in the
    # site's zone neither drops nor doubles an hour.
    zone = ZoneInfo(site.timezone)
    local = now.astimezone(zone)
    end = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC) + timedelta(hours=1)
    start = end - timedelta(hours=24)
    region = site.region.code
    totals = count_totals(site=site, start=start, end=end, interval=None)
    classes: list[str] = [c for c in ROAD_USER_CLASSES if any(t["road_user"] == c for t in totals)]
    rows: dict[tuple, dict] = {}
    for total in totals:
        key = (total["counter"], total["direction"])
        row = rows.setdefault(key, {"counter": key[0], "direction": key[1],
                                    "by_class": {}, "total": 0})
        row["by_class"][total["road_user"]] = total["count"]
        row["total"] += total["count"]
    # Sorted here, not in SQL: databases disagree on where a NULL direction sorts.
    table = [{**row, "cells": [row["by_class"].get(c, 0) for c in classes]}
             for _, row in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))]

    grid = analytics.window_grid(period=Period.HOUR, start=start, end=end, tz=zone)
    hours = [HourBar(start=w.start.astimezone(zone), count=w.count, coverage=w.coverage,
                     status=w.status, pending=w.pending)
             for w in analytics.rollup_windows(region=region, site_id=site.pk,
                                               period=Period.HOUR, windows=grid)]
    day_start, day_end = local_day(now, zone)
    peak = analytics.measured_peak_hour(region=region, site_id=site.pk, start=day_start,
                                        end=day_end)
    open_anomalies = analytics.anomaly_list(region=region, site_id=site.pk).filter(
        state__in=UNRESOLVED).count()
    return SiteDay(
        start=start, end=end, classes=classes, rows=table, hours=hours,
        peak_date=local.date(), open_anomalies=open_anomalies,
        peak=PeakHour(date=local.date(), start=peak.start.astimezone(zone),
                      end=(peak.start + timedelta(hours=1)).astimezone(zone),
                      volume=peak.volume, phf=peak.phf) if peak is not None else None,
    )


# --- a region's anomalies ---------------------------------------------------------------

UNRESOLVED = (Anomaly.State.OPEN, Anomaly.State.ACKNOWLEDGED)
# The page's state tabs: (value of ?state=, label, states shown).
ANOMALY_TABS = (
    ("", "Unresolved", UNRESOLVED),
    ("open", "Open", (Anomaly.State.OPEN,)),
    ("acknowledged", "Acknowledged", (Anomaly.State.ACKNOWLEDGED,)),
    ("resolved", "Resolved", (Anomaly.State.RESOLVED,)),
)


def can_triage(user: AnyUser, region: str) -> bool:
    # Acknowledge and resolve are writes (see junction.api.analytics); no query, the
    # memberships are cached on the user by the region check before it.
    return may(user, region, Action.WRITE)


def region_site(region: Region, slug: str) -> Site | None:
    """The site of `region` a page is narrowed to (None: the whole region); 404 for a site
    that is not the region's, rather than an empty list that would read as all clear."""
    if not slug:
        return None
    site = Site.objects.filter(region=region, slug=slug).first()
    if site is None:
        raise Http404(f"region {region.code!r} has no site {slug!r}")
    return site


def region_anomalies(region: str, states: tuple[str, ...],
                     site: Site | None = None) -> QuerySet[Anomaly]:
    anomalies = analytics.anomaly_list(region=region, site_id=site.pk if site else None)
    return anomalies.filter(state__in=states).order_by("-start", "site_id", "counter", "-pk")


def site_slugs(anomalies: list[Anomaly]) -> dict[int, str]:
    return analytics.site_slugs({anomaly.site_id for anomaly in anomalies})
