"""The region's policy and the site's registration applied to a schema-valid batch.

Each rule refuses with the path of the offending field and a rule code, before anything is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from operator import attrgetter

from junction.ingest.errors import Forbidden, Invalid
from junction.ingest.schema import BatchIn, BucketIn
from junction.ingest.selectors import DeviceContext


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
    seen: set[tuple[datetime, int]] = set()
    for i, bucket in enumerate(batch.buckets):
        path = f"buckets[{i}]"
        _bucket_time_check(bucket, device, path, now=now, max_skew=max_skew)
        key = (bucket.start, bucket.seconds)
        if key in seen:
            raise Invalid(
                "duplicate_bucket",
                f"{path}.start",
                f"a bucket starting {bucket.start.isoformat()} of {bucket.seconds} s "
                "appears twice in this batch",
            )
        seen.add(key)
        _bucket_entries_check(bucket, device, path)


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
