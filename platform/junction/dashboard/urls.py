"""Dashboard pages and the staff login (at settings.LOGIN_URL's default, /accounts/login/)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from junction.dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("sites/<slug:slug>/", views.site, name="site"),
    path("accounts/login/",
         auth_views.LoginView.as_view(template_name="dashboard/login.html",
                                      redirect_authenticated_user=True, next_page="/"),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="/accounts/login/"),
         name="logout"),
]
