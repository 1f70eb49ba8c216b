from django.apps import AppConfig


class SitesConfig(AppConfig):
    name = "junction.sites"
    label = "sites"
