"""How long ingest keeps its batch idempotency records: past the region's raw retention, by a
retry margin. Run by the region's retention (junction.analytics.retention) through traffic's
`buckets_expired` signal, so that retention needs no import of ingest."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from junction.ingest.models import IngestBatch
from junction.residency.bulk import region_rows_delete_before

# How long an ingest idempotency record outlives the region's raw retention. While the record
# exists, a retry of its batch is answered 200 "already stored" (even once retention has purged
# its buckets); after it is gone, the same retry carries buckets older than the raw retention,
# so ingest refuses it 422 bucket_past_retention and stores nothing. Either way nothing is
# duplicated and no purged data comes back. The margin only decides how long a device that never
# heard the answer still gets the friendly 200: the edge uplink retries a batch, with capped
# backoff, for as long as it stays in its spool, so 30 days covers a site that was offline for a
# month on top of the region's raw retention (which matters in regions that keep raw data briefly).
IDEMPOTENCY_MARGIN = timedelta(days=30)


def on_buckets_expired(
    sender: Any, *, region: str, before: datetime, batch: int, **kwargs: Any
) -> dict:
    cutoff = before - IDEMPOTENCY_MARGIN
    deleted = region_rows_delete_before(
        IngestBatch, region=region, before=cutoff, field="received_at", batch=batch
    )
    return {
        "deleted": {"ingest_batches": deleted},
        "detail": {"ingest_batches_before": cutoff.isoformat()},
    }
