"""Writes of the ingest path: store a verified batch in its region, record the device's health.

A bucket sent again (same site, device, start and length) in a NEW batch replaces the stored
one, rows and histograms included: the edge re-sends a bucket only when it knows better (a
restart re-analysed it, a late camera's data was merged in), so the latest delivery wins and no
count is ever doubled. A bucket overlapping a stored one of another start or length is refused
before anything is written (junction.ingest.policy), under a per-device write lock. The same
batch sent again is not a new delivery and changes nothing.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import IntegrityError, connections, transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from junction.ingest.bulk import region_rows_insert, region_rows_insert_returning, region_write_lock
from junction.ingest.errors import InProgress, Invalid
from junction.ingest.models import IngestBatch
from junction.ingest.policy import batch_policy_check, stored_overlap_check
from junction.ingest.replay import batch_lock
from junction.ingest.schema import BatchIn, BucketIn
from junction.ingest.selectors import DeviceContext, ingest_batch_get
from junction.ingest.signals import batch_stored
from junction.residency.planes import served_alias
from junction.sites.models import Device
from junction.traffic.models import (
    CountBucket,
    CountRow,
    DwellHistogram,
    OccupancySummary,
    SpeedHistogram,
)

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
    region, alias = device.region, served_alias(device.region)
    with_data = [b for b in batch.buckets if b.uptime > 0]
    count_rows = sum(len(b.counts) for b in with_data)
    no_data = len(batch.buckets) - len(with_data)
    rows_not_stored = sum(_entries(b) for b in batch.buckets if b.uptime == 0)
    with transaction.atomic(using=alias):
        # One batch of a device is stored at a time, and the check against its stored buckets
        # runs under that lock: two batches arriving together with overlapping buckets of
        # different lengths would otherwise both pass it (neither sees the other's rows) and
        # both be stored. The second one now waits, sees the first, and is refused.
        region_write_lock(region, f"device-buckets:{device.site_id}:{device.device_id}")
        stored_overlap_check(batch, device)
        # The idempotency record goes first: a concurrent copy of this batch fails on its unique
        # batch_id here (PostgreSQL makes it wait for ours to commit) before doing any work.
        (record_pk,) = region_rows_insert_returning(
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
                    len(batch.buckets),
                    no_data,
                    count_rows,
                    0,
                )
            ],
        )
        replaced = _buckets_replace(device, batch.buckets)
        if replaced:
            IngestBatch.objects.in_region(region).filter(pk=record_pk).update(
                buckets_replaced=replaced
            )
        bucket_pks = region_rows_insert_returning(
            CountBucket,
            region=region,
            fields=(
                "site_id",
                "device_id",
                "batch_id",
                "start",
                "seconds",
                "uptime",
                "received_at",
            ),
            rows=[
                (
                    device.site_id,
                    device.device_id,
                    batch.batch_id,
                    b.start,
                    b.seconds,
                    b.uptime,
                    now,
                )
                for b in batch.buckets
            ],
        )
        _rows_store(
            device,
            [(b, pk) for b, pk in zip(batch.buckets, bucket_pks, strict=True) if b.uptime > 0],
        )
        windows = [(b.start, b.seconds) for b in batch.buckets]
        transaction.on_commit(
            functools.partial(
                _batch_stored_send,
                region=region,
                site_id=device.site_id,
                device_id=device.device_id,
                batch_id=str(batch.batch_id),
                starts=[start for start, _ in windows],
                windows=windows,
            ),
            using=alias,
        )
    if rows_not_stored:
        log.warning(
            "batch %s from %s: %s entries of uptime-0 buckets not stored (no data)",
            batch.batch_id,
            device.device_id,
            rows_not_stored,
        )
    return IngestOutcome(
        created=True,
        batch_id=batch.batch_id,
        buckets=len(batch.buckets),
        no_data_buckets=no_data,
        count_rows=count_rows,
        buckets_replaced=replaced,
        rows_not_stored=rows_not_stored,
    )


def _entries(bucket: BucketIn) -> int:
    return len(bucket.counts) + len(bucket.speeds) + len(bucket.occupancy) + len(bucket.dwell)


def _buckets_replace(device: DeviceContext, buckets: list[BucketIn]) -> int:
    """Delete this device's stored buckets that the batch sends again; their rows cascade."""
    wanted = {(b.start, b.seconds) for b in buckets}
    candidates = (
        CountBucket.objects.in_region(device.region)
        .filter(
            site_id=device.site_id,
            device_id=device.device_id,
            start__in={start for start, _ in wanted},
        )
        .values_list("pk", "start", "seconds")
    )
    stale = [pk for pk, start, seconds in candidates if (start, seconds) in wanted]
    if stale:
        CountBucket.objects.in_region(device.region).filter(pk__in=stale).delete()
    return len(stale)


def _rows_store(device: DeviceContext, buckets: list[tuple[BucketIn, int]]) -> None:
    site_id = device.site_id
    counts, speeds, occupancy, dwell = [], [], [], []
    for b, bucket_pk in buckets:
        head = (bucket_pk, site_id, b.start)
        counts += [(*head, c.counter, c.direction, c.road_user, c.count) for c in b.counts]
        speeds += [(*head, s.counter, s.road_user, s.edges_kmh, s.counts) for s in b.speeds]
        occupancy += [(*head, o.zone, o.road_user, o.mean, o.max) for o in b.occupancy]
        dwell += [(*head, d.zone, d.road_user, d.edges_s, d.counts) for d in b.dwell]
    head_fields = ("bucket_id", "site_id", "start")
    for model, fields, rows in (
        (CountRow, ("counter", "direction", "road_user", "count"), counts),
        (SpeedHistogram, ("counter", "road_user", "edges_kmh", "counts"), speeds),
        (OccupancySummary, ("zone", "road_user", "mean", "max"), occupancy),
        (DwellHistogram, ("zone", "road_user", "edges_s", "counts"), dwell),
    ):
        if rows:
            region_rows_insert(model, region=device.region, fields=head_fields + fields, rows=rows)


def _batch_stored_send(**kwargs) -> None:
    # Robust: a failing subscriber must not turn a committed batch into an error for the device.
    for receiver, result in batch_stored.send_robust(sender=IngestBatch, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "batch_stored receiver %r failed for batch %s: %r",
                receiver,
                kwargs["batch_id"],
                result,
                exc_info=result,
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
