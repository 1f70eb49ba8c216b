"""Dashboard pages and the staff login (at settings.LOGIN_URL's default, /accounts/login/)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from junction.dashboard import api_tokens, fleet, views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("sites/<slug:slug>/", views.site, name="site"),
    path("regions/<slug:code>/", views.region, name="region"),
    path("regions/<slug:code>/anomalies/", views.region_anomalies, name="region-anomalies"),
    path("regions/<slug:code>/anomalies/<int:pk>/", views.anomaly, name="anomaly"),
    path("regions/<slug:code>/fleet/", fleet.region_fleet, name="region-fleet"),
    path(
        "regions/<slug:code>/anomalies/<int:pk>/acknowledge/",
        views.anomaly_triage,
        {"step": "acknowledge"},
        name="anomaly-acknowledge",
    ),
    path(
        "regions/<slug:code>/anomalies/<int:pk>/resolve/",
        views.anomaly_triage,
        {"step": "resolve"},
        name="anomaly-resolve",
    ),
    path("api-tokens/", api_tokens.api_tokens, name="api-tokens"),
    path("api-tokens/<int:pk>/revoke/", api_tokens.api_token_revoke, name="api-token-revoke"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="dashboard/login.html", redirect_authenticated_user=True, next_page="/"
        ),
        name="login",
    ),
    path(
        "accounts/logout/",
        auth_views.LogoutView.as_view(next_page="/accounts/login/"),
        name="logout",
    ),
]
