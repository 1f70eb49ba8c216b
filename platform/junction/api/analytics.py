"""API views over the analytics: a site's rollups with their coverage, a day's engineering
measures, and a region's anomalies with their triage (acknowledge, resolve).

Site views are scoped as the count view is (`ScopedView` judges the site). Anomalies live in
a region's database, so their views take the region from the path, have `ScopedView.region()`
judge it (403 with the reason), and only then read that one database: an anomaly id is only
ever looked up inside the region named, never searched for across regions.

Acknowledging and resolving need the operator role in the region. Operators run the region's
devices and answer its alerts; a triage state silences an anomaly for everyone, so analysts,
who read and export the data, see anomalies but do not close them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from junction.analytics import selectors
from junction.analytics.anomalies import anomaly_acknowledge, anomaly_resolve
from junction.analytics.models import Anomaly, Period
from junction.analytics.windows import local_day
from junction.api import serializers
from junction.api.filters import AnomalyFilter
from junction.api.openapi import answers
from junction.api.pagination import Pages
from junction.api.scoping import ScopedView
from junction.api.site_query import SiteQueryView
from junction.residency.scoping import Action

PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="page number, from 1"),
    OpenApiParameter(
        "page_size",
        int,
        description=f"windows per page (default {Pages.page_size}, at most {Pages.max_page_size})",
    ),
]


class SiteRollupsView(SiteQueryView):
    """Rollup totals of one site per window, each window with its coverage: a half-measured
    hour says so (status partial, coverage 0.5) and an unmeasured one has no count at all."""

    serializer_class = serializers.SiteRollupsSerializer
    query_serializer_class = serializers.RollupQuerySerializer
    pagination_class = Pages

    @extend_schema(
        parameters=[serializers.RollupQuerySerializer, *PAGE_PARAMETERS],
        responses=serializers.SiteRollupsSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        site, params = self.site_and_query(request)
        grid = selectors.window_grid(
            period=params["period"],
            start=params["start"],
            end=params["end"],
            tz=ZoneInfo(site.timezone),
        )
        # Paginate the window grid first, so only the page's windows are read.
        pages = self.paginator
        assert isinstance(pages, Pages)  # pagination_class, which always sets a page size
        page = pages.paginate_queryset(grid, request, view=self) or []
        windows = selectors.rollup_windows(
            region=site.region.code,
            site_id=site.pk,
            period=params["period"],
            windows=page,
            counter=params.get("counter"),
            road_user=params.get("road_user"),
        )
        answer = {
            "site": site.slug,
            "region": site.region.code,
            "timezone": site.timezone,
            "period": params["period"],
            "start": grid[0][0],
            "end": params["end"],
            "count": len(grid),
            "next": pages.get_next_link(),
            "previous": pages.get_previous_link(),
            "results": windows,
        }
        return Response(self.get_serializer(answer).data)


class SiteMeasuresView(SiteQueryView):
    """One local day of a site: peak hour and PHF, TMC per 15 minutes, v85 per hour."""

    serializer_class = serializers.SiteMeasuresSerializer
    query_serializer_class = serializers.MeasuresQuerySerializer

    @extend_schema(
        parameters=[serializers.MeasuresQuerySerializer],
        responses=serializers.SiteMeasuresSerializer,
    )
    def get(self, request: Request, slug: str) -> Response:
        site, params = self.site_and_query(request)
        day, counters = params["date"], params.get("counter")
        zone = ZoneInfo(site.timezone)
        start, end = local_day(datetime.combine(day, time(), tzinfo=zone), zone)
        measures = selectors.day_measures(
            region=site.region.code, site_id=site.pk, start=start, end=end, counters=counters
        )
        peak = measures.peak
        quarters = selectors.window_grid(period=Period.QUARTER_HOUR, start=start, end=end, tz=zone)
        answer = {
            "site": site.slug,
            "region": site.region.code,
            "timezone": site.timezone,
            "date": day,
            "start": start,
            "end": end,
            "coverage": measures.coverage,
            "status": selectors.coverage_status(measures.coverage),
            "counters": counters or None,
            "peak_hour": peak
            and {
                "start": peak.start,
                "end": peak.start + timedelta(hours=1),
                "volume": peak.volume,
                "busiest_quarter": peak.busiest_quarter,
                "phf": peak.phf,
            },
            "tmc": [
                {
                    "start": quarter,
                    "coverage": measures.quarter_coverage.get(quarter),
                    "status": selectors.coverage_status(measures.quarter_coverage.get(quarter)),
                    "movements": measures.tmc.get(quarter, {}),
                }
                for quarter, _ in quarters
            ],
            "v85": [{"hour": hour, "v85_kmh": v85} for hour, v85 in measures.v85.items()],
        }
        return Response(self.get_serializer(answer).data)


class AnomalyView(ScopedView):
    """Views under regions/{code}/anomalies: the region is judged (`region()`) before any of its
    data is read."""

    def anomalies_data(self, anomalies: list[Anomaly]) -> list[dict]:
        return serializers.anomalies_represent(anomalies, self.get_serializer_context())


class RegionAnomalyListView(AnomalyView, generics.ListAPIView):
    """A region's anomalies, newest first; filter by state, kind and site."""

    serializer_class = serializers.AnomalySerializer
    filterset_class = AnomalyFilter
    pagination_class = Pages

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no region to read
            return Anomaly.objects.none()
        # Appending the id makes the order total, so pages never repeat or skip a row.
        return selectors.anomaly_list(region=self.region().code).order_by(
            "-start", "site_id", "counter", "-pk"
        )

    def list(self, request: Request, *args, **kwargs) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset())) or []
        return self.get_paginated_response(self.anomalies_data(page))


class RegionAnomalyDetailView(AnomalyView):
    serializer_class = serializers.AnomalySerializer

    def get(self, request: Request, code: str, pk: int) -> Response:
        region = self.region()
        anomaly = _anomaly_or_404(region.code, pk)
        return Response(self.anomalies_data([anomaly])[0])


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class AnomalyTransitionView(AnomalyView):
    """POST with no body; the service records who and when. 409 when the state does not
    allow the step (already acknowledged, already resolved)."""

    serializer_class = serializers.AnomalySerializer
    # The whole judgement is the region's (`region()`), so an analyst asking to triage learns
    # that the region needs the operator role, not merely that nothing allows it.
    permission_classes = [IsAuthenticated]
    scope_action = Action.WRITE
    transition: Callable[..., Anomaly]  # the step each subclass takes

    @extend_schema(request=None, responses={200: serializers.AnomalySerializer, **answers(409)})
    def post(self, request: Request, code: str, pk: int) -> Response:
        region = self.region()
        try:
            anomaly = self.transition(
                region=region.code, anomaly_id=pk, user=request.user.get_username()
            )
        except Anomaly.DoesNotExist:
            raise NotFound(f"region {region.code!r} has no anomaly {pk}") from None
        except ValidationError as exc:
            raise Conflict(" ".join(exc.message_dict.get("state", exc.messages))) from None
        return Response(self.anomalies_data([anomaly])[0])


class AnomalyAcknowledgeView(AnomalyTransitionView):
    """open -> acknowledged, recording who and when. Needs the operator role in the region;
    409 when the anomaly is not open."""

    transition = staticmethod(anomaly_acknowledge)


class AnomalyResolveView(AnomalyTransitionView):
    """open or acknowledged -> resolved, recording who and when. Needs the operator role in
    the region; 409 when the anomaly is already resolved."""

    transition = staticmethod(anomaly_resolve)


def _anomaly_or_404(region: str, pk: int) -> Anomaly:
    anomaly = selectors.anomaly_list(region=region).filter(pk=pk).first()
    if anomaly is None:
        raise NotFound(f"region {region!r} has no anomaly {pk}")
    return anomaly
