from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "junction.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        # Ingest announces stored batches with a signal; analytics only listens, so ingest never
        # imports analytics. Absent (ingest not yet built), rollups still run from beat.
        from junction.analytics import receivers

        receivers.connect()
