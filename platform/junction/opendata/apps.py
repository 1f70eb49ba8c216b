from django.apps import AppConfig


class OpendataConfig(AppConfig):
    name = "junction.opendata"
    label = "opendata"
    verbose_name = "Open data"
