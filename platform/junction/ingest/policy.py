"""The region's policy and the site's registration applied to a schema-valid batch.

Each rule refuses with the path of the offending field and a rule code, before anything is stored.

Buckets of one device never overlap in time, whatever their lengths, or rollups would count the
same traffic twice. A bucket is the half-open window [start, start + seconds): one ending where
another starts does not overlap it. A batch is refused (`bucket_overlaps`) when two of its
buckets overlap, or when one of its buckets overlaps a stored bucket of the same site and device
that is not the identical window (same start and length); the identical window is a re-sent
bucket and replaces the stored one. The rule against stored buckets is the store's
(junction.traffic.services); this module applies it within the batch. Starts are aligned to
their length, so two buckets of the same length are either the identical window or disjoint: in
practice the refusal is for a different length, e.g. a 300 s bucket over stored 60 s ones, or a
60 s bucket inside a stored 300 s one. Buckets with uptime 0 ("no data") follow the same rule:
an outage marker over counted minutes contradicts them. Another device of the same site is
another camera, and its buckets are its own.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime, timedelta
from operator import attrgetter

from junction.ingest.errors import Forbidden, Invalid
from junction.ingest.schema import BatchIn, BucketIn
from junction.ingest.selectors import DeviceContext
from junction.traffic.services import bucket_window_text


def batch_identity_check(batch: BatchIn, device: DeviceContext) -> None:
    """The body must speak for the signing device, its own site and its own region."""
    if batch.device_id != device.device_id:
        raise Forbidden(
            "not_this_device",
            "device_id",
            f"the body speaks for device {batch.device_id!r} but was signed by "
            f"{device.device_id!r}; a device sends only its own batches",
        )
    for field, claimed, registered in (
        ("site", batch.site, device.site_slug),
        ("region", batch.region, device.region),
    ):
        if claimed != registered:
            raise Forbidden(
                f"not_this_{field}",
                field,
                f"device {device.device_id!r} is registered for {field} {registered!r} "
                f"and cannot send a batch for {claimed!r}",
            )


def batch_policy_check(
    batch: BatchIn, device: DeviceContext, *, now: datetime, max_skew: int
) -> None:
    """Every rule on the batch's buckets that needs no database.

    The rule against stored buckets is the store's (junction.traffic.services), which checks it
    inside its transaction, once it holds the device's write lock."""
    # The windows of the buckets checked so far, sorted by start, pairwise disjoint (a bucket
    # overlapping an earlier one is refused before it is added).
    starts: list[datetime] = []
    windows: list[tuple[datetime, datetime, int]] = []  # (start, end, index in the batch)
    for i, bucket in enumerate(batch.buckets):
        path = f"buckets[{i}]"
        _bucket_time_check(bucket, device, path, now=now, max_skew=max_skew)
        start, end = bucket.start, bucket.start + timedelta(seconds=bucket.seconds)
        at = bisect_left(starts, start)
        # Disjoint and sorted: only the neighbours on either side can overlap this bucket.
        for j in (at - 1, at):
            if 0 <= j < len(windows) and windows[j][0] < end and start < windows[j][1]:
                _batch_overlap_refuse(batch, path, bucket, windows[j][2])
        starts.insert(at, start)
        windows.insert(at, (start, end, i))
        _bucket_entries_check(bucket, device, path)


def _batch_overlap_refuse(batch: BatchIn, path: str, bucket: BucketIn, other: int) -> None:
    earlier = batch.buckets[other]
    if (earlier.start, earlier.seconds) == (bucket.start, bucket.seconds):
        raise Invalid(
            "duplicate_bucket",
            f"{path}.start",
            f"a bucket starting {bucket.start.isoformat()} of {bucket.seconds} s "
            "appears twice in this batch",
        )
    raise Invalid(
        "bucket_overlaps",
        f"{path}.start",
        f"the bucket {bucket_window_text(bucket.start, bucket.seconds)} overlaps "
        f"buckets[{other}] {bucket_window_text(earlier.start, earlier.seconds)} of this batch; "
        "a device's buckets never overlap in time",
    )


def _bucket_time_check(
    bucket: BucketIn, device: DeviceContext, path: str, *, now: datetime, max_skew: int
) -> None:
    if bucket.seconds < device.min_bucket_seconds:
        raise Invalid(
            "bucket_too_short",
            f"{path}.seconds",
            f"{bucket.seconds} s is shorter than region {device.region}'s minimum "
            f"bucket of {device.min_bucket_seconds} s",
        )
    start = bucket.start
    if start.microsecond or int(start.timestamp()) % bucket.seconds:
        raise Invalid(
            "bucket_misaligned",
            f"{path}.start",
            f"{start.isoformat()} is not a multiple of {bucket.seconds} s in unix time",
        )
    # A device clock may run up to the accepted skew ahead, so a bucket counts as "in the
    # future" only once its end is beyond that.
    end = start + timedelta(seconds=bucket.seconds)
    if end > now + timedelta(seconds=max_skew):
        raise Invalid(
            "bucket_in_future",
            f"{path}.start",
            f"the bucket ends {end.isoformat()}, after server time {now.isoformat()}",
        )
    if start < now - timedelta(days=device.raw_retention_days):
        raise Invalid(
            "bucket_past_retention",
            f"{path}.start",
            f"region {device.region} keeps raw buckets {device.raw_retention_days} "
            f"days; {start.isoformat()} is older",
        )


# table, the field naming a counter or zone, what makes an entry unique within the bucket
_TABLES = (
    ("counts", "counter", attrgetter("counter", "direction", "road_user")),
    ("speeds", "counter", attrgetter("counter", "road_user")),
    ("occupancy", "zone", attrgetter("zone", "road_user")),
    ("dwell", "zone", attrgetter("zone", "road_user")),
)
_ROAD_USER = attrgetter("road_user")


def _bucket_entries_check(bucket: BucketIn, device: DeviceContext, path: str) -> None:
    # Whole-table set checks first (this runs for every row of every batch); the offending
    # entry is only searched for once a check has failed.
    for table, name_field, key_of in _TABLES:
        entries = getattr(bucket, table)
        if not entries:
            continue
        name_of = attrgetter(name_field)
        if not set(map(name_of, entries)) <= device.counters:
            j, entry = next(
                (j, e) for j, e in enumerate(entries) if name_of(e) not in device.counters
            )
            raise Invalid(
                f"unknown_{name_field}",
                f"{path}.{table}[{j}].{name_field}",
                f"site {device.site_slug!r} has no counter named {name_of(entry)!r}",
            )
        if not set(map(_ROAD_USER, entries)) <= device.classes:
            j, entry = next(
                (j, e) for j, e in enumerate(entries) if e.road_user not in device.classes
            )
            raise Invalid(
                "class_not_collected",
                f"{path}.{table}[{j}].class",
                f"region {device.region} does not collect {entry.road_user!r} "
                f"(collects: {', '.join(sorted(device.classes))})",
            )
        keys = list(map(key_of, entries))
        if len(set(keys)) != len(keys):
            seen: set[tuple] = set()
            for j, key in enumerate(keys):
                if key in seen:
                    raise Invalid(
                        "duplicate_entry",
                        f"{path}.{table}[{j}]",
                        f"{table} already has an entry for {key}",
                    )
                seen.add(key)
