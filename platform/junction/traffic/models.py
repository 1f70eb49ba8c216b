"""Count buckets as devices deliver them, in the region's own database.

Site and device are plain ids/slugs: they live in the control plane and no foreign key crosses
planes. Rows repeat the bucket's site and start so rollups scan one table.
"""

from __future__ import annotations

from django.db import models

from junction.residency.base import RegionModel


class CountBucket(RegionModel):
    site_id = models.BigIntegerField()
    device_id = models.CharField(max_length=100)
    batch_id = models.UUIDField()
    start = models.DateTimeField()
    seconds = models.PositiveIntegerField()
    # Fraction of the bucket the camera was analysed; 0 marks "no data" (an outage), which is
    # never the same as zero traffic.
    uptime = models.FloatField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta(RegionModel.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["site_id", "device_id", "start", "seconds"],
                name="one_bucket_per_device_and_time",
            ),
        ]
        indexes = [models.Index(fields=["site_id", "start"])]

    @property
    def has_data(self) -> bool:
        return self.uptime > 0


class BucketPart(RegionModel):
    """One aggregate line of a bucket; repeats the bucket's site and start for one-table scans."""

    bucket = models.ForeignKey(
        CountBucket, on_delete=models.CASCADE, related_name="%(class)s_parts"
    )
    site_id = models.BigIntegerField()
    start = models.DateTimeField()
    road_user = models.CharField(max_length=16)  # person | bicycle | car | motorcycle | bus | truck

    class Meta(RegionModel.Meta):
        abstract = True


class CountRow(BucketPart):
    counter = models.CharField(max_length=100)
    direction = models.CharField(max_length=8, null=True, blank=True)  # in | out | None (movement)
    count = models.PositiveIntegerField()

    class Meta(BucketPart.Meta):
        indexes = [models.Index(fields=["site_id", "start"])]


class SpeedHistogram(BucketPart):
    counter = models.CharField(max_length=100)
    edges_kmh = models.JSONField()
    counts = models.JSONField()


class OccupancySummary(BucketPart):
    zone = models.CharField(max_length=100)
    mean = models.FloatField()
    max = models.PositiveIntegerField()


class DwellHistogram(BucketPart):
    zone = models.CharField(max_length=100)
    edges_s = models.JSONField()
    counts = models.JSONField()
