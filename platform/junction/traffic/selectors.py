"""Reads of count data, always from the site's own region database (`in_region`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import ExpressionWrapper, F, FloatField, Sum
from django.db.models.functions import Trunc

from junction.sites.models import Site
from junction.traffic.models import CountBucket, CountRow

INTERVALS = ("bucket", "hour", "day")
BREAKDOWN = ("counter", "direction", "road_user")


def count_totals(*, site: Site, start: datetime, end: datetime, counter: str | None = None,
                 road_user: str | None = None, interval: str | None = "bucket",
                 by: Sequence[str] = BREAKDOWN) -> list[dict]:
    """Summed counts of `site` in [start, end), per period of `interval` (None: the whole
    range) and per `by` fields, ordered by period then `by`.

    `interval` "hour" and "day" are cut in the site's own time zone, so a day is the local
    day a traffic engineer means. Reads MisdirectedRegion on a node that does not serve the
    site's region.
    """
    rows = CountRow.objects.in_region(site.region.code).filter(
        site_id=site.pk, start__gte=start, start__lt=end
    )
    if counter is not None:
        rows = rows.filter(counter=counter)
    if road_user is not None:
        rows = rows.filter(road_user=road_user)
    group: dict = {}
    if interval == "bucket":
        group["period"] = F("start")
    elif interval in ("hour", "day"):
        group["period"] = Trunc("start", interval, tzinfo=ZoneInfo(site.timezone))
    elif interval is not None:
        raise ValueError(f"interval must be one of {INTERVALS} or None, not {interval!r}")
    if not (group or by):
        return [{"count": rows.aggregate(count=Sum("count"))["count"] or 0}]
    order = [*(["period"] if group else []), *by]
    return list(
        rows.values(*by, **group).annotate(count=Sum("count")).order_by(*order)
    )


def bucket_coverage(*, site: Site, start: datetime, end: datetime,
                    interval: str = "hour") -> dict[datetime, float]:
    """{period start: fraction of delivered bucket time that was analysed} for `site`.

    A period missing from the answer received no bucket at all; one at 0.0 was an announced
    outage. Either way it is "no data", never zero traffic.
    """
    buckets = CountBucket.objects.in_region(site.region.code).filter(
        site_id=site.pk, start__gte=start, start__lt=end
    )
    rows = (
        buckets.values(period=Trunc("start", interval, tzinfo=ZoneInfo(site.timezone)))
        .annotate(delivered=Sum("seconds"),
                  analysed=Sum(ExpressionWrapper(F("seconds") * F("uptime"),
                                                 output_field=FloatField())))
        .order_by("period")
    )
    return {row["period"]: (row["analysed"] or 0.0) / row["delivered"] for row in rows
            if row["delivered"]}
