from django.apps import AppConfig


class FleetConfig(AppConfig):
    name = "junction.fleet"
    label = "fleet"
