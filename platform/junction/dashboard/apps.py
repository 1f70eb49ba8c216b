from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "junction.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
