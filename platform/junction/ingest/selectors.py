"""Reads of the ingest path: who a device is (control plane) and what a batch id already holds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from junction.ingest.errors import Unauthenticated
from junction.ingest.models import IngestBatch
from junction.sites.models import Counter, Device
from junction.sites.services import device_secrets


@dataclass(frozen=True)
class DeviceContext:
    """Everything ingest needs about a device, its site and its region's policy."""

    device_pk: int
    device_id: str
    revoked_at: datetime | None
    site_id: int
    site_slug: str
    region: str
    min_bucket_seconds: int
    raw_retention_days: int
    classes: frozenset[str]
    counters: frozenset[str]
    secrets: tuple[str, ...]


def device_context_get(device_id: str) -> DeviceContext:
    """Two control-plane queries, fresh for every batch so that a revocation acts at once."""
    device = (
        Device.objects.select_related("site__region")
        .only("device_id", "revoked_at", "secret_sealed", "previous_secret_sealed",
              "site__slug", "site__region__code", "site__region__min_bucket_seconds",
              "site__region__raw_retention_days", "site__region__classes")
        .filter(device_id=device_id)
        .first()
    )
    if device is None:
        raise Unauthenticated("unknown_device", "X-Junction-Device",
                              f"no device {device_id!r} is registered")
    site, region = device.site, device.site.region
    counters = Counter.objects.filter(site_id=site.pk).values_list("name", flat=True)
    return DeviceContext(
        device_pk=device.pk,
        device_id=device.device_id,
        revoked_at=device.revoked_at,
        site_id=site.pk,
        site_slug=site.slug,
        region=region.code,
        min_bucket_seconds=region.min_bucket_seconds,
        raw_retention_days=region.raw_retention_days,
        classes=frozenset(region.classes),
        counters=frozenset(counters),
        secrets=tuple(device_secrets(device)),
    )


def ingest_batch_get(*, region: str, batch_id: UUID) -> IngestBatch | None:
    """The record of an already stored batch, or None."""
    return (
        IngestBatch.objects.in_region(region)
        .filter(batch_id=batch_id)
        .only("batch_id", "body_sha256", "buckets", "no_data_buckets", "count_rows",
              "buckets_replaced")
        .first()
    )
