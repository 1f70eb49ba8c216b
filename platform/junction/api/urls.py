"""/api/v1/ endpoints for staff and integrators (ingest mounts its own path beside these)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from junction.api import analytics, views
from junction.api.fiware import SiteFiwareView
from junction.api.opendata import RegionOpenDataView

router = SimpleRouter(trailing_slash=False)
router.register("regions", views.RegionViewSet, basename="region")
router.register("sites", views.SiteViewSet, basename="site")
router.register("devices", views.DeviceViewSet, basename="device")

app_name = "api"
urlpatterns = [
    path("sites/<slug:slug>/counts", views.SiteCountsView.as_view(), name="site-counts"),
    path(
        "sites/<slug:slug>/daily-totals", views.SiteTotalsView.as_view(), name="site-daily-totals"
    ),
    path("sites/<slug:slug>/rollups", analytics.SiteRollupsView.as_view(), name="site-rollups"),
    path("sites/<slug:slug>/measures", analytics.SiteMeasuresView.as_view(), name="site-measures"),
    path("sites/<slug:slug>/fiware", SiteFiwareView.as_view(), name="site-fiware"),
    path(
        "regions/<slug:code>/anomalies",
        analytics.RegionAnomalyListView.as_view(),
        name="region-anomalies",
    ),
    path(
        "regions/<slug:code>/anomalies/<int:pk>",
        analytics.RegionAnomalyDetailView.as_view(),
        name="region-anomaly",
    ),
    path("regions/<slug:code>/opendata", RegionOpenDataView.as_view(), name="region-opendata"),
    path(
        "regions/<slug:code>/anomalies/<int:pk>/acknowledge",
        analytics.AnomalyAcknowledgeView.as_view(),
        name="anomaly-acknowledge",
    ),
    path(
        "regions/<slug:code>/anomalies/<int:pk>/resolve",
        analytics.AnomalyResolveView.as_view(),
        name="anomaly-resolve",
    ),
    *router.urls,
]
