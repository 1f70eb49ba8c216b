"""Writes of count data: store a device's buckets in its region, the one place a bucket is written.

A bucket sent again (same site, device, start and length) replaces the stored one, rows and
histograms included: a device re-sends a bucket only when it knows better (a restart
re-analysed it, a late camera's data was merged in), so the latest delivery wins and no count is
ever doubled. A bucket overlapping a stored one of another start or length is refused before
anything is written, under a per-device write lock: a device's buckets never overlap in time, or
rollups would count the same traffic twice.
"""

from __future__ import annotations

import functools
import logging
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from django.db import transaction

from junction.residency.bulk import (
    region_rows_insert,
    region_rows_insert_returning,
    region_write_lock,
)
from junction.residency.planes import served_alias
from junction.traffic.errors import BucketOverlap
from junction.traffic.models import (
    CountBucket,
    CountRow,
    DwellHistogram,
    OccupancySummary,
    SpeedHistogram,
)
from junction.traffic.selectors import device_buckets_near
from junction.traffic.signals import batch_stored

log = logging.getLogger(__name__)


# The shapes of what a device delivers, as read-only attributes: the transport's validated
# records (junction.ingest.schema) are stored as they are, without a copy into other types.
class CountLine(Protocol):
    @property
    def counter(self) -> str: ...
    @property
    def direction(self) -> str | None: ...
    @property
    def road_user(self) -> str: ...
    @property
    def count(self) -> int: ...


class SpeedLine(Protocol):
    @property
    def counter(self) -> str: ...
    @property
    def road_user(self) -> str: ...
    @property
    def edges_kmh(self) -> Sequence[float]: ...
    @property
    def counts(self) -> Sequence[int]: ...


class OccupancyLine(Protocol):
    @property
    def zone(self) -> str: ...
    @property
    def road_user(self) -> str: ...
    @property
    def mean(self) -> float: ...
    @property
    def max(self) -> int: ...


class DwellLine(Protocol):
    @property
    def zone(self) -> str: ...
    @property
    def road_user(self) -> str: ...
    @property
    def edges_s(self) -> Sequence[float]: ...
    @property
    def counts(self) -> Sequence[int]: ...


class Bucket(Protocol):
    @property
    def start(self) -> datetime: ...
    @property
    def seconds(self) -> int: ...
    @property
    def uptime(self) -> float: ...
    @property
    def counts(self) -> Sequence[CountLine]: ...
    @property
    def speeds(self) -> Sequence[SpeedLine]: ...
    @property
    def occupancy(self) -> Sequence[OccupancyLine]: ...
    @property
    def dwell(self) -> Sequence[DwellLine]: ...


@dataclass(frozen=True)
class StoredBuckets:
    buckets: int
    no_data_buckets: int
    count_rows: int
    replaced: int  # stored buckets of the device (same start and length) this delivery replaced
    rows_not_stored: int  # entries of uptime-0 buckets, which are stored as "no data"


def device_buckets_store(
    *,
    region: str,
    site_id: int,
    device_id: str,
    batch_id: UUID,
    buckets: Sequence[Bucket],
    received_at: datetime,
) -> StoredBuckets:
    """Store one delivery of a device's buckets (pairwise disjoint) in `region`'s database.

    Raises BucketOverlap, before anything is written, for a bucket overlapping a stored bucket of
    the device that it would not replace. Sends `batch_stored` once the region commits. Called
    inside a caller's transaction on the region (ingest's, which adds its idempotency record),
    the caller's rows and these commit together.
    """
    alias = served_alias(region)
    with transaction.atomic(using=alias):
        # One delivery of a device is stored at a time, and the check against its stored buckets
        # runs under that lock: two batches arriving together with overlapping buckets of
        # different lengths would otherwise both pass it (neither sees the other's rows) and
        # both be stored. The second one now waits, sees the first, and is refused.
        region_write_lock(region, f"device-buckets:{site_id}:{device_id}")
        _stored_overlap_check(region=region, site_id=site_id, device_id=device_id, buckets=buckets)
        replaced = _buckets_replace(region, site_id, device_id, buckets)
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
                (site_id, device_id, batch_id, b.start, b.seconds, b.uptime, received_at)
                for b in buckets
            ],
        )
        _rows_store(
            region,
            site_id,
            [(b, pk) for b, pk in zip(buckets, bucket_pks, strict=True) if b.uptime > 0],
        )
        windows = [(b.start, b.seconds) for b in buckets]
        transaction.on_commit(
            functools.partial(
                _batch_stored_send,
                region=region,
                site_id=site_id,
                device_id=device_id,
                batch_id=str(batch_id),
                windows=windows,
            ),
            using=alias,
        )
    with_data = [b for b in buckets if b.uptime > 0]
    rows_not_stored = sum(_entries(b) for b in buckets if b.uptime == 0)
    if rows_not_stored:
        log.warning(
            "batch %s from %s: %s entries of uptime-0 buckets not stored (no data)",
            batch_id,
            device_id,
            rows_not_stored,
        )
    return StoredBuckets(
        buckets=len(buckets),
        no_data_buckets=len(buckets) - len(with_data),
        count_rows=sum(len(b.counts) for b in with_data),
        replaced=replaced,
        rows_not_stored=rows_not_stored,
    )


def bucket_window_text(start: datetime, seconds: int) -> str:
    return f"{start.isoformat()} ({seconds} s)"


def _stored_overlap_check(
    *, region: str, site_id: int, device_id: str, buckets: Sequence[Bucket]
) -> None:
    """Refuse a bucket overlapping a stored bucket of this device that it would not replace.

    A bucket is the half-open window [start, start + seconds); the identical window (same start
    and length) is a re-sent bucket and replaces the stored one. One query for the whole
    delivery. Run it under the device's write lock, or two deliveries arriving together could
    each pass it and store overlapping buckets.
    """
    windows = sorted((b.start, b.start + timedelta(seconds=b.seconds)) for b in buckets)
    # The delivery's windows (sorted, disjoint) merged into stretches.
    stretches: list[tuple[datetime, datetime]] = []
    for start, end in windows:
        if stretches and stretches[-1][1] == start:
            stretches[-1] = (stretches[-1][0], end)
        else:
            stretches.append((start, end))
    stored = device_buckets_near(
        region=region, site_id=site_id, device_id=device_id, stretches=stretches
    )
    if not stored:
        return
    sent = {(b.start, b.seconds) for b in buckets}
    conflicts = [
        (start, start + timedelta(seconds=seconds), seconds)
        for start, seconds in stored
        if (start, seconds) not in sent
    ]
    if not conflicts:  # only re-sent buckets, which replace the stored ones
        return
    conflicts.sort()
    conflict_starts = [start for start, _, _ in conflicts]
    # The buckets in delivery order, so that the first offending one is named. Stored buckets
    # are disjoint: of those starting before this bucket ends, only the last can reach into it.
    for i, bucket in enumerate(buckets):
        start, end = bucket.start, bucket.start + timedelta(seconds=bucket.seconds)
        at = bisect_left(conflict_starts, end)
        if at and conflicts[at - 1][1] > start:
            s_start, _, s_seconds = conflicts[at - 1]
            raise BucketOverlap(
                i,
                f"the bucket {bucket_window_text(start, bucket.seconds)} overlaps the stored "
                f"bucket {bucket_window_text(s_start, s_seconds)} of device {device_id!r}; only "
                "the same start and length replaces a stored bucket",
            )


def _entries(bucket: Bucket) -> int:
    return len(bucket.counts) + len(bucket.speeds) + len(bucket.occupancy) + len(bucket.dwell)


def _buckets_replace(region: str, site_id: int, device_id: str, buckets: Sequence[Bucket]) -> int:
    """Delete this device's stored buckets that the delivery sends again; their rows cascade."""
    wanted = {(b.start, b.seconds) for b in buckets}
    candidates = (
        CountBucket.objects.in_region(region)
        .filter(site_id=site_id, device_id=device_id, start__in={start for start, _ in wanted})
        .values_list("pk", "start", "seconds")
    )
    stale = [pk for pk, start, seconds in candidates if (start, seconds) in wanted]
    if stale:
        CountBucket.objects.in_region(region).filter(pk__in=stale).delete()
    return len(stale)


def _rows_store(region: str, site_id: int, buckets: list[tuple[Bucket, int]]) -> None:
    counts: list[tuple] = []
    speeds: list[tuple] = []
    occupancy: list[tuple] = []
    dwell: list[tuple] = []
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
            region_rows_insert(model, region=region, fields=head_fields + fields, rows=rows)


def _batch_stored_send(**kwargs) -> None:
    # Robust: a failing subscriber must not turn a committed batch into an error for the device.
    for receiver, result in batch_stored.send_robust(sender=CountBucket, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "batch_stored receiver %r failed for batch %s: %r",
                receiver,
                kwargs["batch_id"],
                result,
                exc_info=result,
            )
