"""The ingest idempotency record: one row per stored batch, in the region's own database."""

from __future__ import annotations

from django.db import models

from junction.residency.base import RegionModel


class IngestBatch(RegionModel):
    """A batch that was stored, written in the same transaction as its buckets.

    There is deliberately no "processing" state: a record exists exactly when the batch's data
    is committed, so a crash can never leave a half-claimed batch behind. A batch being stored
    right now is marked by a short-lived cache lock instead (see junction.ingest.replay).
    """

    batch_id = models.UUIDField(unique=True)
    device_id = models.CharField(max_length=100)
    site_id = models.BigIntegerField()
    # SHA-256 of the validated body in canonical form: a retry with the same content answers 200,
    # the same batch id with other content is refused.
    body_sha256 = models.CharField(max_length=64)
    model_name = models.CharField(max_length=100)
    model_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField()
    buckets = models.PositiveIntegerField()
    no_data_buckets = models.PositiveIntegerField(default=0)
    count_rows = models.PositiveIntegerField()
    # Buckets of earlier batches (same device, start and length) that this batch replaced.
    buckets_replaced = models.PositiveIntegerField(default=0)

    class Meta(RegionModel.Meta):
        indexes = [
            models.Index(fields=["device_id", "received_at"]),
            # Retention deletes records by age alone (junction.analytics.retention).
            models.Index(fields=["received_at"]),
        ]

    def __str__(self) -> str:
        return str(self.batch_id)
