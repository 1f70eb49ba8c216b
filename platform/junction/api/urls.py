"""/api/v1/ read-only endpoints (ingest mounts its own path beside these)."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from junction.api import views

router = SimpleRouter(trailing_slash=False)
router.register("regions", views.RegionViewSet, basename="region")
router.register("sites", views.SiteViewSet, basename="site")
router.register("devices", views.DeviceViewSet, basename="device")

app_name = "api"
urlpatterns = [
    path("sites/<slug:slug>/counts", views.SiteCountsView.as_view(), name="site-counts"),
    path("sites/<slug:slug>/daily-totals", views.SiteTotalsView.as_view(),
         name="site-daily-totals"),
    *router.urls,
]
