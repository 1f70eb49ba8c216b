from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "junction.ingest"
    label = "ingest"

    def ready(self) -> None:
        # Retention (analytics) expires the buckets and announces it; ingest expires its own
        # idempotency records, so analytics never imports ingest.
        from junction.ingest.retention import on_buckets_expired
        from junction.traffic.signals import buckets_expired

        buckets_expired.connect(on_buckets_expired, dispatch_uid="ingest.on_buckets_expired")
