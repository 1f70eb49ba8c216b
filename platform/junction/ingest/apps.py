from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "junction.ingest"
    label = "ingest"
