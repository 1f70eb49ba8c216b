"""Hooks other apps subscribe to, so the owner of count data never has to know who follows up
on a batch of buckets.

`batch_stored` is sent by junction.traffic.services.device_buckets_store after the region
transaction commits (never for a batch that rolled back), with sender CountBucket and keyword
arguments:

- `region`: region code whose database holds the batch
- `site_id`: control-plane id of the site
- `device_id`: the sending device
- `batch_id`: the batch's UUID (as str)
- `windows`: every bucket stored, no-data ones included, as (start, seconds) pairs (aware UTC
  datetimes)

Example (analytics): `@receiver(batch_stored) def enqueue(sender, *, region, site_id, windows,
**kwargs): rollup.delay(region=region, ...)`.

`buckets_expired` is sent by the region's retention (junction.analytics.retention) once it has
deleted the region's buckets that start before `before`, with sender CountBucket and keyword
arguments `region`, `before` (aware UTC datetime) and `batch` (rows per delete transaction). A
receiver deletes what it keeps about those deliveries and returns
`{"deleted": {name: rows}, "detail": {key: value}}` for the retention's audit entry. It is
sent with `send`, not `send_robust`: a receiver that fails fails the retention run.

Example (ingest): its batch idempotency records outlive the buckets by a retry margin.
"""

from __future__ import annotations

from django.dispatch import Signal

batch_stored = Signal()
buckets_expired = Signal()
