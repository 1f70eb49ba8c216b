"""Retention: delete one region's raw buckets, rollups and (through traffic's `buckets_expired`
signal) ingest idempotency records past its policy, in batches, and write what was deleted to
that region's audit log."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import cast

from django.db import transaction
from django.utils import timezone

from junction.analytics.models import DeviceCoverage, DirtyWindow, Rollup, WindowCoverage
from junction.residency.bulk import region_rows_delete_before
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
from junction.traffic.signals import buckets_expired

log = logging.getLogger(__name__)

BATCH = 5000  # rows per transaction: short locks, and a crash loses at most one batch of work


def _delete_buckets_before(region: str, cutoff: datetime, batch: int) -> dict[str, int]:
    deleted = {"buckets": 0, "count_rows": 0, "speed_histograms": 0, "occupancy": 0, "dwell": 0}
    children = (
        ("count_rows", CountRow),
        ("speed_histograms", SpeedHistogram),
        ("occupancy", OccupancySummary),
        ("dwell", DwellHistogram),
    )
    buckets = CountBucket.objects.in_region(region)
    while True:
        ids = list(
            buckets.filter(start__lt=cutoff).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return deleted
        with transaction.atomic(using=served_alias(region)):
            # Children first, by key: Django's cascade would load every row into memory.
            for name, model in children:
                deleted[name] += (
                    model.objects.in_region(region)
                    .filter(bucket_id__in=ids)
                    ._raw_delete(served_alias(region))
                )
            deleted["buckets"] += buckets.filter(pk__in=ids)._raw_delete(served_alias(region))


def retention_apply(*, region: str, now: datetime | None = None, batch: int = BATCH) -> dict:
    """Apply the region's policy; every query names the region, so no other is touched."""
    policy = Region.objects.get(code=region)
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=policy.raw_retention_days)
    rollup_cutoff = now - timedelta(days=policy.rollup_retention_days)
    deleted = _delete_buckets_before(region, raw_cutoff, batch)
    # A dirty mark older than the raw data can no longer be recomputed.
    for name, model, cutoff in (
        ("dirty_windows", DirtyWindow, raw_cutoff),
        ("rollups", Rollup, rollup_cutoff),
        ("window_coverage", WindowCoverage, rollup_cutoff),
        ("camera_coverage", DeviceCoverage, rollup_cutoff),
    ):
        deleted[name] = region_rows_delete_before(model, region=region, before=cutoff, batch=batch)
    detail: dict = {
        "raw_before": raw_cutoff.isoformat(),
        "rollups_before": rollup_cutoff.isoformat(),
    }
    # What other apps keep about the expired deliveries (ingest: its idempotency records).
    for _, answer in buckets_expired.send(
        sender=CountBucket, region=region, before=raw_cutoff, batch=batch
    ):
        expired = cast(dict[str, dict], answer)  # the signal's documented answer
        deleted.update(expired["deleted"])
        detail.update(expired["detail"])
    detail.update(
        {
            "raw_retention_days": policy.raw_retention_days,
            "rollup_retention_days": policy.rollup_retention_days,
            "deleted": deleted,
        }
    )
    audit_record(region=region, actor="system:retention", action="retention", detail=detail)
    log.info("retention in %s deleted %s", region, deleted)
    return detail
