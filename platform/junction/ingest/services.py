"""Writes of the ingest path: hand a verified batch to the store of count data
(junction.traffic.services), keep its idempotency record, record the device's health.

A bucket sent again in a NEW batch replaces the stored one (the store's rule); the same batch
sent again is not a new delivery and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import IntegrityError, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from junction.ingest.errors import InProgress, Invalid
from junction.ingest.models import IngestBatch
from junction.ingest.policy import batch_policy_check
from junction.ingest.replay import batch_lock
from junction.ingest.schema import BatchIn
from junction.ingest.selectors import DeviceContext, ingest_batch_get
from junction.residency.bulk import region_rows_insert_returning
from junction.residency.planes import served_alias
from junction.sites.models import Device
from junction.traffic.errors import BucketOverlap
from junction.traffic.services import device_buckets_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOutcome:
    created: bool  # False: this batch was already stored, nothing was written
    batch_id: UUID
    buckets: int
    no_data_buckets: int
    count_rows: int
    buckets_replaced: int
    rows_not_stored: int = 0  # entries of uptime-0 buckets, which are stored as "no data"

    def as_json(self) -> dict:
        return {
            "batch_id": str(self.batch_id),
            "status": "stored" if self.created else "already_stored",
            "buckets": self.buckets,
            "no_data_buckets": self.no_data_buckets,
            "count_rows": self.count_rows,
            "buckets_replaced": self.buckets_replaced,
            "rows_not_stored": self.rows_not_stored,
        }


def batch_ingest(
    *, device: DeviceContext, batch: BatchIn, body_sha256: str, now: datetime, max_skew: int
) -> IngestOutcome:
    """Store `batch` once in the device's region (one transaction), or say it already is there.

    The caller has verified the signature and that the body speaks for this device and site.
    """
    with batch_lock(device.region, str(batch.batch_id)):
        stored = _already_stored(device, batch, body_sha256)
        if stored is not None:
            return stored
        batch_policy_check(batch, device, now=now, max_skew=max_skew)
        try:
            outcome = _batch_store(device=device, batch=batch, body_sha256=body_sha256, now=now)
        except IntegrityError as exc:
            # Lost a race the lock did not cover: the lock expired, or another batch is storing
            # one of these buckets right now. Re-read to answer as if we had come second.
            stored = _already_stored(device, batch, body_sha256)
            if stored is not None:
                return stored
            log.info("batch %s conflicted while storing: %s", batch.batch_id, exc)
            raise InProgress(
                "bucket_in_progress",
                "buckets",
                "another batch is storing some of these buckets; retry",
            ) from exc
    device_health_record(
        device_pk=device.device_pk,
        at=now,
        model_name=batch.model.name,
        model_sha256=batch.model.sha256,
    )
    return outcome


def _already_stored(
    device: DeviceContext, batch: BatchIn, body_sha256: str
) -> IngestOutcome | None:
    record = ingest_batch_get(region=device.region, batch_id=batch.batch_id)
    if record is None:
        return None
    if record.body_sha256 != body_sha256:
        raise Invalid(
            "batch_id_reused",
            "batch_id",
            f"batch {batch.batch_id} was already stored with a different body; "
            "a batch id names one body forever",
        )
    return IngestOutcome(
        created=False,
        batch_id=batch.batch_id,
        buckets=record.buckets,
        no_data_buckets=record.no_data_buckets,
        count_rows=record.count_rows,
        buckets_replaced=record.buckets_replaced,
    )


def _batch_store(
    *, device: DeviceContext, batch: BatchIn, body_sha256: str, now: datetime
) -> IngestOutcome:
    region = device.region
    # Ingest owns the idempotency of its transport, so ingest writes the record; traffic owns
    # the buckets. One region transaction holds both: the record exists exactly when the
    # buckets are committed. The record goes last, with the number of buckets they replaced: a
    # concurrent copy of this batch waits on the device's write lock in the store, then fails
    # on the unique batch_id here and rolls back whole.
    with transaction.atomic(using=served_alias(region)):
        try:
            stored = device_buckets_store(
                region=region,
                site_id=device.site_id,
                device_id=device.device_id,
                batch_id=batch.batch_id,
                buckets=batch.buckets,
                received_at=now,
            )
        except BucketOverlap as overlap:
            raise Invalid(
                "bucket_overlaps", f"buckets[{overlap.index}].start", overlap.detail
            ) from overlap
        region_rows_insert_returning(
            IngestBatch,
            region=region,
            fields=(
                "batch_id",
                "device_id",
                "site_id",
                "body_sha256",
                "model_name",
                "model_sha256",
                "received_at",
                "buckets",
                "no_data_buckets",
                "count_rows",
                "buckets_replaced",
            ),
            rows=[
                (
                    batch.batch_id,
                    device.device_id,
                    device.site_id,
                    body_sha256,
                    batch.model.name,
                    batch.model.sha256,
                    now,
                    stored.buckets,
                    stored.no_data_buckets,
                    stored.count_rows,
                    stored.replaced,
                )
            ],
        )
    return IngestOutcome(
        created=True,
        batch_id=batch.batch_id,
        buckets=stored.buckets,
        no_data_buckets=stored.no_data_buckets,
        count_rows=stored.count_rows,
        buckets_replaced=stored.replaced,
        rows_not_stored=stored.rows_not_stored,
    )


@transaction.atomic(using="default")
def device_health_record(
    *, device_pk: int, at: datetime, model_name: str, model_sha256: str
) -> None:
    """Delivery metadata only (control plane): when, how many, which model."""
    connection = connections["default"]
    if connection.vendor == "postgresql":
        # Health is metadata: losing the last updates to a database crash is harmless, so this
        # commit does not wait for the disk (the batch's own commit, in its region, does).
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    Device.objects.filter(pk=device_pk).update(
        # Requests of one device may finish out of order: the latest delivery time must not
        # step back to an earlier request's.
        last_batch_at=Greatest(Coalesce(F("last_batch_at"), Value(at)), Value(at)),
        batches_received=F("batches_received") + 1,
        last_model_name=model_name,
        last_model_sha256=model_sha256,
    )
