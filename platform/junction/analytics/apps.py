from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "junction.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # The store of count data (junction.traffic) announces stored batches with a signal;
        # analytics only listens, so neither ingest nor traffic imports analytics. Absent,
        # rollups still run from beat.
        from junction.analytics import receivers

        receivers.connect()
