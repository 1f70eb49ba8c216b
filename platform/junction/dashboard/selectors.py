"""What the dashboard pages show, read through the region scoping rule (junction.accounts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404

from junction.accounts.scoping import member_regions, region_denial, restrict
from junction.residency.models import VEHICLE_CLASSES, Region
from junction.sites.models import Device, Site
from junction.traffic.selectors import bucket_coverage, count_totals

# A device that has sent nothing for this long is flagged on the dashboard.
LATE_AFTER = timedelta(minutes=15)


def regions_for(user: User | AnonymousUser) -> QuerySet[Region]:
    return restrict(Region.objects.all(), user)


def sites_for(user: User | AnonymousUser) -> QuerySet[Site]:
    return restrict(Site.objects.select_related("region"), user).annotate(
        counter_count=Count("counters", distinct=True),
        device_count=Count("devices", distinct=True),
    )


def devices_for(user: User | AnonymousUser, site: Site | None = None) -> QuerySet[Device]:
    devices = restrict(Device.objects.select_related("site__region"), user)
    return devices.filter(site=site) if site is not None else devices


def site_for(user: User | AnonymousUser, slug: str) -> Site:
    """The site, or 404 when it does not exist, or 403 with the reason when it is not the
    user's to see."""
    site = Site.objects.select_related("region").filter(slug=slug).first()
    if site is None:
        raise Http404(f"no site {slug!r}")
    reason = region_denial(user, site.region.code)
    if reason:
        raise PermissionDenied(reason)
    return site


def roles_for(user: User | AnonymousUser) -> dict[str, str]:
    return member_regions(user)


@dataclass(frozen=True)
class HourBar:
    start: datetime
    count: int
    coverage: float | None  # None: no bucket received in this hour


@dataclass(frozen=True)
class SiteDay:
    """The last 24 hours of a site: totals per counter/direction/class and per hour."""

    start: datetime
    end: datetime
    classes: list[str]
    rows: list[dict]  # {"counter", "direction", "cells": [count per class], "total"}
    hours: list[HourBar]

    @property
    def total(self) -> int:
        return sum(row["total"] for row in self.rows)


def site_day(site: Site, now: datetime) -> SiteDay:
    # Whole local hours, the current one included; arithmetic in UTC so a DST change in the
    # site's zone neither drops nor doubles an hour.
    local = now.astimezone(ZoneInfo(site.timezone))
    end = local.replace(minute=0, second=0, microsecond=0).astimezone(UTC) + timedelta(hours=1)
    start = end - timedelta(hours=24)
    totals = count_totals(site=site, start=start, end=end, interval=None)
    classes = [c for c in VEHICLE_CLASSES if any(t["road_user"] == c for t in totals)]
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

    hourly = {t["period"]: t["count"]
              for t in count_totals(site=site, start=start, end=end, interval="hour", by=())}
    coverage = bucket_coverage(site=site, start=start, end=end)
    hours = []
    for i in range(24):
        hour = start + timedelta(hours=i)
        # Periods come back in the site's zone; aware datetimes hash and compare as instants.
        hours.append(HourBar(start=hour.astimezone(ZoneInfo(site.timezone)),
                             count=hourly.get(hour, 0), coverage=coverage.get(hour)))
    return SiteDay(start=start, end=end, classes=classes, rows=table, hours=hours)
