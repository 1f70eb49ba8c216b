from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`manage.py demo_seed`: the demo's regions, sites, staff and weeks of history. The top
    layer, as it drives ingest and analytics the way a device and the workers would."""

    name = "junction.demo"
    label = "demo"
    verbose_name = "Demo"
