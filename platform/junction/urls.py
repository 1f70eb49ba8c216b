from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from junction.api.docs import ApiDocsView, ApiRedocView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", ApiRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/v1/", include("junction.api.urls")),
    path("api/v1/ingest/", include("junction.ingest.urls")),
    path("api/v1/fleet/", include("junction.fleet.urls")),
    path("", include("junction.dashboard.urls")),
]

# An API client asking for a path that does not exist gets JSON, not an HTML page.
handler404 = "junction.middleware.not_found"
