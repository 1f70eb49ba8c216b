from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/", include("junction.api.urls")),
    path("api/v1/ingest/", include("junction.ingest.urls")),
    path("", include("junction.dashboard.urls")),
]
