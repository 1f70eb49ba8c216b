"""Retention: delete one region's raw buckets, rollups and ingest idempotency records past its
policy, in batches, and write what was deleted to that region's audit log."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from junction.analytics.models import DeviceCoverage, DirtyWindow, Rollup, WindowCoverage
from junction.ingest.models import IngestBatch
from junction.residency.models import Region
from junction.residency.planes import served_alias
from junction.residency.services import audit_record
from junction.traffic.models import (
    CountBucket,
    CountRow,
    DwellHistogram,
    OccupancySummary,
    SpeedHistogram,
)

log = logging.getLogger(__name__)

BATCH = 5000  # rows per transaction: short locks, and a crash loses at most one batch of work

# How long an ingest idempotency record outlives the region's raw retention. While the record
# exists, a retry of its batch is answered 200 "already stored" (even once retention has purged
# its buckets); after it is gone, the same retry carries buckets older than the raw retention,
# so ingest refuses it 422 bucket_past_retention and stores nothing. Either way nothing is
# duplicated and no purged data comes back. The margin only decides how long a device that never
# heard the answer still gets the friendly 200: the edge uplink retries a batch, with capped
# backoff, for as long as it stays in its spool, so 30 days covers a site that was offline for a
# month on top of the region's raw retention (which matters in regions that keep raw data briefly).
IDEMPOTENCY_MARGIN = timedelta(days=30)


def _delete_buckets_before(region: str, cutoff: datetime, batch: int) -> dict[str, int]:
    deleted = {"buckets": 0, "count_rows": 0, "speed_histograms": 0, "occupancy": 0, "dwell": 0}
    children = (("count_rows", CountRow), ("speed_histograms", SpeedHistogram),
                ("occupancy", OccupancySummary), ("dwell", DwellHistogram))
    buckets = CountBucket.objects.in_region(region)
    while True:
        ids = list(buckets.filter(start__lt=cutoff).order_by("pk").values_list("pk", flat=True)
                   [:batch])
        if not ids:
            return deleted
        with transaction.atomic(using=served_alias(region)):
            # Children first, by key: Django's cascade would load every row into memory.
            for name, model in children:
                deleted[name] += model.objects.in_region(region).filter(
                    bucket_id__in=ids)._raw_delete(served_alias(region))
            deleted["buckets"] += buckets.filter(pk__in=ids)._raw_delete(served_alias(region))


def _delete_before(region: str, model, cutoff: datetime, batch: int, field: str = "start") -> int:
    rows = model.objects.in_region(region)
    total = 0
    while True:
        old = rows.filter(**{f"{field}__lt": cutoff})
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return total
        with transaction.atomic(using=served_alias(region)):
            total += rows.filter(pk__in=ids)._raw_delete(served_alias(region))


def retention_apply(*, region: str, now: datetime | None = None, batch: int = BATCH) -> dict:
    """Apply the region's policy; every query names the region, so no other is touched."""
    policy = Region.objects.get(code=region)
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=policy.raw_retention_days)
    rollup_cutoff = now - timedelta(days=policy.rollup_retention_days)
    idempotency_cutoff = raw_cutoff - IDEMPOTENCY_MARGIN
    deleted = _delete_buckets_before(region, raw_cutoff, batch)
    # A dirty mark older than the raw data can no longer be recomputed.
    deleted["dirty_windows"] = _delete_before(region, DirtyWindow, raw_cutoff, batch)
    deleted["rollups"] = _delete_before(region, Rollup, rollup_cutoff, batch)
    deleted["window_coverage"] = _delete_before(region, WindowCoverage, rollup_cutoff, batch)
    deleted["camera_coverage"] = _delete_before(region, DeviceCoverage, rollup_cutoff, batch)
    deleted["ingest_batches"] = _delete_before(
        region, IngestBatch, idempotency_cutoff, batch, field="received_at"
    )
    detail = {"raw_before": raw_cutoff.isoformat(), "rollups_before": rollup_cutoff.isoformat(),
              "ingest_batches_before": idempotency_cutoff.isoformat(),
              "raw_retention_days": policy.raw_retention_days,
              "rollup_retention_days": policy.rollup_retention_days, "deleted": deleted}
    audit_record(region=region, actor="system:retention", action="retention", detail=detail)
    log.info("retention in %s deleted %s", region, deleted)
    return detail
