from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "junction.api"
    label = "api"
    verbose_name = "REST API"
