from django.apps import AppConfig


class ResidencyConfig(AppConfig):
    name = "junction.residency"
    label = "residency"
    verbose_name = "Residency"
