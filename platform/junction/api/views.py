"""Registry and count views: declarative viewsets for regions, sites and devices (paginated),
one class per count query. Analytics views are in junction.api.analytics.

Region scoping is not written here: `ScopedView` (junction.api.scoping) applies it to every
view, and count reads go through `in_region` in the selector.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from junction.accounts.services import transfer_grant
from junction.analytics.selectors import coverage_status, delivered_coverage
from junction.analytics.windows import days_touching, local_hours_touching
from junction.api import serializers
from junction.api.filters import DeviceFilter, SiteFilter
from junction.api.pagination import Pages
from junction.api.scoping import ScopedView
from junction.api.site_query import SiteQueryView
from junction.residency.errors import TransferRefused
from junction.residency.models import Region, TransferLevel
from junction.residency.scoping import record_or_404
from junction.sites.models import Device, Site
from junction.traffic.selectors import count_totals


class RegionViewSet(ScopedView, viewsets.ReadOnlyModelViewSet):
    pagination_class = Pages
    queryset = Region.objects.all()
    serializer_class = serializers.RegionSerializer
    lookup_field = "code"


class SiteViewSet(ScopedView, viewsets.ReadOnlyModelViewSet):
    pagination_class = Pages
    queryset = Site.objects.select_related("region").prefetch_related("counters")
    serializer_class = serializers.SiteSerializer
    filterset_class = SiteFilter
    lookup_field = "slug"


class DeviceViewSet(ScopedView, viewsets.ReadOnlyModelViewSet):
    pagination_class = Pages
    queryset = Device.objects.select_related("site__region")
    serializer_class = serializers.DeviceSerializer
    filterset_class = DeviceFilter
    lookup_field = "device_id"


class SiteCountsView(SiteQueryView):
    """Count totals of one site, read from the site's region database."""

    serializer_class = serializers.SiteCountsSerializer
    query_serializer_class = serializers.CountQuerySerializer

    @extend_schema(
        parameters=[serializers.CountQuerySerializer], responses=serializers.SiteCountsSerializer
    )
    def get(self, request: Request, slug: str) -> Response:
        site, params = self.site_and_query(request)
        start, end = params["start"], params["end"]
        results = count_totals(
            site=site,
            start=start,
            end=end,
            counter=params.get("counter"),
            road_user=params.get("road_user"),
            interval=params["interval"],
        )
        answer = {
            "site": site.slug,
            "region": site.region.code,
            "timezone": site.timezone,
            "start": start,
            "end": end,
            "interval": params["interval"],
            "results": results,
            "coverage": _coverage(site, start, end, params["interval"]),
        }
        return Response(self.get_serializer(answer).data)


def _coverage(site: Site, start: datetime, end: datetime, interval: str) -> list[dict]:
    """Every hour (local day for interval=day) of the range with its analysed share, read
    from the raw buckets like the counts themselves, so it never lags behind them."""
    zone = ZoneInfo(site.timezone)
    by_day = interval == "day"
    # The site's own hours, as its counts are cut (a half-hour zone's hour starts at :30 UTC).
    grid = (
        (days_touching(start, end, zone) if by_day else local_hours_touching(start, end, zone))
        if start < end
        else []
    )
    shares = delivered_coverage(
        region=site.region.code,
        site_id=site.pk,
        windows=grid,
        start=start,
        end=end,
        interval="day" if by_day else "hour",
        tz=zone,
    )
    return [
        {
            "start": max(w_start, start),
            "end": min(w_end, end),
            "coverage": shares.get(w_start, 0.0),
            "status": coverage_status(shares.get(w_start)),
        }
        for w_start, w_end in grid
    ]


class SiteTotalsView(SiteQueryView):
    """Daily totals of one site: for its region's staff, and for staff of another region when
    a transfer rule allows daily site totals to reach it (audited; days below k withheld)."""

    queryset = Site.objects.select_related("region")
    serializer_class = serializers.SiteTotalsSerializer
    query_serializer_class = serializers.SiteTotalsQuerySerializer
    transfer_level = TransferLevel.DAILY_SITE_TOTALS

    @extend_schema(
        parameters=[serializers.SiteTotalsQuerySerializer],
        responses=serializers.SiteTotalsSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        site = record_or_404(self.get_queryset(), slug=slug)
        try:
            # Membership of the site's region (None), or a transfer rule to one of the user's
            # regions; either way across regions, the grant or refusal is audited.
            rule = transfer_grant(
                user=request.user, source=site.region.code, level=self.transfer_level
            )
        except TransferRefused as exc:
            raise PermissionDenied(str(exc)) from None
        params = self.query(request, site)
        start, end = params["start"], params["end"]
        zone = ZoneInfo(site.timezone)
        days = count_totals(
            site=site,
            by=(),
            interval="day",
            start=datetime.combine(start, time(), tzinfo=zone),
            end=datetime.combine(end, time(), tzinfo=zone),
        )
        k = rule.min_count if rule else 0
        results = [
            {
                "date": day["period"].astimezone(zone).date(),
                "count": day["count"] if day["count"] >= k else None,
                "withheld": day["count"] < k,
            }
            for day in days
        ]
        answer = {
            "site": site.slug,
            "region": site.region.code,
            "timezone": site.timezone,
            "start": start,
            "end": end,
            "transfer": rule,
            "results": results,
        }
        return Response(self.get_serializer(answer).data)
