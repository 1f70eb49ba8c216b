"""Reads of count data, always from the site's own region database (`in_region`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import F, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Trunc

from junction.sites.models import Site
from junction.traffic.models import CountBucket, CountRow

INTERVALS = ("bucket", "hour", "day")
BREAKDOWN = ("counter", "direction", "road_user")
# Beyond this many separate stretches of time in one batch, the lookup reads one range from the
# earliest to the latest instead (a sparse batch; the statement stays small).
_MAX_STRETCHES = 16


def count_totals(
    *,
    site: Site,
    start: datetime,
    end: datetime,
    counter: str | None = None,
    road_user: str | None = None,
    interval: str | None = "bucket",
    by: Sequence[str] = BREAKDOWN,
) -> list[dict]:
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
    return list(rows.values(*by, **group).annotate(count=Sum("count")).order_by(*order))


def device_buckets_near(
    *,
    region: str,
    site_id: int,
    device_id: str,
    stretches: Sequence[tuple[datetime, datetime]],
) -> list[tuple[datetime, int]]:
    """(start, seconds) of the device's stored buckets that may overlap the given stretches.

    One statement for the whole batch. For each stretch [a, b) it reads the buckets starting in
    [a, b) plus the last one starting before a: stored buckets of a device do not overlap each
    other (junction.traffic.services), so that one is the only earlier bucket that can reach
    past a.
    Each part is a range of the unique index (site_id, device_id, start, seconds); the "last one
    before a" is one backward index probe, not a look-back of a day of buckets. The caller
    decides which of the returned buckets actually overlap.
    """
    if not stretches:
        return []
    if len(stretches) > _MAX_STRETCHES:
        stretches = [(min(a for a, _ in stretches), max(b for _, b in stretches))]
    device_buckets = CountBucket.objects.in_region(region).filter(
        site_id=site_id, device_id=device_id
    )
    near = Q()
    for a, b in stretches:
        before = device_buckets.filter(start__lt=a).order_by("-start").values("start")[:1]
        near |= Q(start__lt=b, start__gte=Coalesce(Subquery(before), Value(a)))
    return list(device_buckets.filter(near).values_list("start", "seconds"))
