"""Read-only API views: declarative viewsets for the registry, one class for count queries.

Region scoping is not written here: `RegionScopedMixin` and `RegionMember` (junction.accounts)
apply it to every view, and count reads go through `in_region` in the selector.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from drf_spectacular.utils import extend_schema
from rest_framework import generics, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from junction.accounts.permissions import RegionMemberOrTransfer, RegionScopedMixin
from junction.api import serializers
from junction.api.filters import DeviceFilter, SiteFilter
from junction.residency.models import Region, TransferLevel
from junction.sites.models import Device, Site
from junction.traffic.selectors import count_totals


class RegionViewSet(RegionScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Region.objects.all()
    serializer_class = serializers.RegionSerializer
    lookup_field = "code"


class SiteViewSet(RegionScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Site.objects.select_related("region").prefetch_related("counters")
    serializer_class = serializers.SiteSerializer
    filterset_class = SiteFilter
    lookup_field = "slug"


class DeviceViewSet(RegionScopedMixin, viewsets.ReadOnlyModelViewSet):
    queryset = Device.objects.select_related("site__region")
    serializer_class = serializers.DeviceSerializer
    filterset_class = DeviceFilter
    lookup_field = "device_id"


class SiteCountsView(RegionScopedMixin, generics.GenericAPIView):
    """Count totals of one site, read from the site's region database."""

    queryset = Site.objects.select_related("region").prefetch_related("counters")
    serializer_class = serializers.SiteCountsSerializer
    lookup_field = "slug"
    filter_backends: list = []

    @extend_schema(parameters=[serializers.CountQuerySerializer],
                   responses=serializers.SiteCountsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        site = self.get_object()
        query = serializers.CountQuerySerializer(data=request.query_params,
                                                 context={"site": site})
        query.is_valid(raise_exception=True)
        params = query.validated_data
        results = count_totals(site=site, start=params["start"], end=params["end"],
                               counter=params.get("counter"),
                               road_user=params.get("road_user"),
                               interval=params["interval"])
        answer = {"site": site.slug, "region": site.region.code, "timezone": site.timezone,
                  "start": params["start"], "end": params["end"],
                  "interval": params["interval"], "results": results}
        return Response(self.get_serializer(answer).data)


class SiteTotalsView(RegionScopedMixin, generics.GenericAPIView):
    """Daily totals of one site: for its region's staff, and for staff of another region when
    a transfer rule allows daily site totals to reach it (audited; days below k withheld)."""

    queryset = Site.objects.select_related("region")
    serializer_class = serializers.SiteTotalsSerializer
    permission_classes = [RegionMemberOrTransfer]
    transfer_level = TransferLevel.DAILY_SITE_TOTALS
    lookup_field = "slug"
    filter_backends: list = []

    @extend_schema(parameters=[serializers.SiteTotalsQuerySerializer],
                   responses=serializers.SiteTotalsSerializer)
    def get(self, request: Request, slug: str) -> Response:
        site = self.get_object()  # checks membership or a transfer rule (and audits it)
        query = serializers.SiteTotalsQuerySerializer(data=request.query_params,
                                                      context={"site": site})
        query.is_valid(raise_exception=True)
        start, end = query.validated_data["start"], query.validated_data["end"]
        zone = ZoneInfo(site.timezone)
        days = count_totals(site=site, by=(), interval="day",
                            start=datetime.combine(start, time(), tzinfo=zone),
                            end=datetime.combine(end, time(), tzinfo=zone))
        rule = request.transfer_rule
        k = rule.min_count if rule else 0
        results = [{"date": day["period"].astimezone(zone).date(),
                    "count": day["count"] if day["count"] >= k else None,
                    "withheld": day["count"] < k} for day in days]
        answer = {"site": site.slug, "region": site.region.code, "timezone": site.timezone,
                  "start": start, "end": end, "transfer": rule, "results": results}
        return Response(self.get_serializer(answer).data)
