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


_CONTEXT_FIELDS = (
    "pk",
    "device_id",
    "revoked_at",
    "secret_sealed",
    "previous_secret_sealed",
    "site_id",
    "site__slug",
    "site__region__code",
    "site__region__min_bucket_seconds",
    "site__region__raw_retention_days",
    "site__region__classes",
)


def device_context_get(device_id: str) -> DeviceContext:
    """Two control-plane queries, fresh for every batch so that a revocation acts at once.

    Plain values rather than model instances: this runs for every batch a device sends.
    """
    # PostgreSQL cannot compare a string holding NUL (SQLite can): no device has such an id,
    # and asking would be a 503 the device retries for ever instead of this 401.
    row = (
        None
        if "\x00" in device_id
        else (Device.objects.filter(device_id=device_id).values_list(*_CONTEXT_FIELDS).first())
    )
    if row is None:
        raise Unauthenticated(
            "unknown_device", "X-Junction-Device", f"no device {device_id!r} is registered"
        )
    (
        pk,
        device_id,
        revoked_at,
        sealed,
        previous_sealed,
        site_id,
        site_slug,
        region,
        min_bucket_seconds,
        raw_retention_days,
        classes,
    ) = row
    counters = Counter.objects.filter(site_id=site_id).values_list("name", flat=True)
    secrets = device_secrets(Device(secret_sealed=sealed, previous_secret_sealed=previous_sealed))
    return DeviceContext(
        device_pk=pk,
        device_id=device_id,
        revoked_at=revoked_at,
        site_id=site_id,
        site_slug=site_slug,
        region=region,
        min_bucket_seconds=min_bucket_seconds,
        raw_retention_days=raw_retention_days,
        classes=frozenset(classes),
        counters=frozenset(counters),
        secrets=tuple(secrets),
    )


def ingest_batch_get(*, region: str, batch_id: UUID) -> IngestBatch | None:
    """The record of an already stored batch, or None."""
    return (
        IngestBatch.objects.in_region(region)
        .filter(batch_id=batch_id)
        .only(
            "batch_id",
            "body_sha256",
            "buckets",
            "no_data_buckets",
            "count_rows",
            "buckets_replaced",
        )
        .first()
    )
