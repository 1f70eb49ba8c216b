"""The region's policy and the site's registration applied to a schema-valid batch.

Each rule refuses with the path of the offending field and a rule code, before anything is stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from junction.ingest.errors import Forbidden, Invalid
from junction.ingest.schema import BatchIn, BucketIn
from junction.ingest.selectors import DeviceContext


def batch_identity_check(batch: BatchIn, device: DeviceContext) -> None:
    """The body must speak for the signing device, its own site and its own region."""
    claims = (("device_id", batch.device_id, device.device_id),
              ("site", batch.site, device.site_slug),
              ("region", batch.region, device.region))
    for field, claimed, registered in claims:
        if claimed != registered:
            raise Forbidden(
                f"not_this_{field.removesuffix('_id')}", field,
                f"device {device.device_id!r} is registered for {field.removesuffix('_id')} "
                f"{registered!r} and cannot send a batch for {claimed!r}",
            )


def batch_policy_check(batch: BatchIn, device: DeviceContext, *, now: datetime,
                       max_skew: int) -> None:
    seen: set[tuple[datetime, int]] = set()
    for i, bucket in enumerate(batch.buckets):
        path = f"buckets[{i}]"
        _bucket_time_check(bucket, device, path, now=now, max_skew=max_skew)
        key = (bucket.start, bucket.seconds)
        if key in seen:
            raise Invalid("duplicate_bucket", f"{path}.start",
                          f"a bucket starting {bucket.start.isoformat()} of {bucket.seconds} s "
                          "appears twice in this batch")
        seen.add(key)
        _bucket_entries_check(bucket, device, path)


def _bucket_time_check(bucket: BucketIn, device: DeviceContext, path: str, *, now: datetime,
                       max_skew: int) -> None:
    if bucket.seconds < device.min_bucket_seconds:
        raise Invalid("bucket_too_short", f"{path}.seconds",
                      f"{bucket.seconds} s is shorter than region {device.region}'s minimum "
                      f"bucket of {device.min_bucket_seconds} s")
    start = bucket.start
    if start.microsecond or int(start.timestamp()) % bucket.seconds:
        raise Invalid("bucket_misaligned", f"{path}.start",
                      f"{start.isoformat()} is not a multiple of {bucket.seconds} s in unix time")
    # A device clock may run up to the accepted skew ahead, so a bucket counts as "in the
    # future" only once its end is beyond that.
    end = start + timedelta(seconds=bucket.seconds)
    if end > now + timedelta(seconds=max_skew):
        raise Invalid("bucket_in_future", f"{path}.start",
                      f"the bucket ends {end.isoformat()}, after server time {now.isoformat()}")
    if start < now - timedelta(days=device.raw_retention_days):
        raise Invalid("bucket_past_retention", f"{path}.start",
                      f"region {device.region} keeps raw buckets {device.raw_retention_days} "
                      f"days; {start.isoformat()} is older")


def _bucket_entries_check(bucket: BucketIn, device: DeviceContext, path: str) -> None:
    tables = (("counts", "counter", ("counter", "direction", "road_user")),
              ("speeds", "counter", ("counter", "road_user")),
              ("occupancy", "zone", ("zone", "road_user")),
              ("dwell", "zone", ("zone", "road_user")))
    for table, name_field, key_fields in tables:
        seen: set[tuple] = set()
        for j, entry in enumerate(getattr(bucket, table)):
            where = f"{path}.{table}[{j}]"
            name = getattr(entry, name_field)
            if name not in device.counters:
                raise Invalid(f"unknown_{name_field}", f"{where}.{name_field}",
                              f"site {device.site_slug!r} has no counter named {name!r}")
            if entry.road_user not in device.classes:
                raise Invalid("class_not_collected", f"{where}.class",
                              f"region {device.region} does not collect {entry.road_user!r} "
                              f"(collects: {', '.join(sorted(device.classes))})")
            key = tuple(getattr(entry, f) for f in key_fields)
            if key in seen:
                raise Invalid("duplicate_entry", where,
                              f"{table} already has an entry for {key}")
            seen.add(key)
