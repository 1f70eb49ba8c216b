"""The privacy choke point: the only code that turns buckets into what is stored on disk and sent.

A closed `Bucket` is the one record from the aggregator to the uplink. It passes `collected` (the
region's classes) before the spool, and `wire` builds what is stored and what is sent field by
field from its aggregates (counts, histograms, occupancy summaries), so no frame, box, track id,
trajectory or single speed can ride along (DESIGN.md sections 2 and 4). `batch_body` serialises
a batch once; its bytes are stored, so every retry sends the same.
"""

from __future__ import annotations

import calendar
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from edge_worker.buckets import DWELL_EDGES_S, SPEED_EDGES_KMH, Bucket
from edge_worker.contract import BATCH_SCHEMA, DIRECTIONS, ROAD_USER_CLASSES

log = logging.getLogger(__name__)

CLASSES: frozenset[str] = frozenset(ROAD_USER_CLASSES)
# None: a movement's count, which has no direction.
SIDES: frozenset[str | None] = frozenset((*DIRECTIONS, None))


def iso_start(start: int) -> str:
    return datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _histogram(counts: Iterable[int], edges: tuple[int, ...]) -> list[int]:
    values = [int(n) for n in counts]
    if len(values) != len(edges) - 1 or any(n < 0 for n in values):
        raise ValueError(f"histogram {values} does not fit edges {edges}")
    return values


def collected(bucket: Bucket, *, classes: frozenset[str] = CLASSES) -> Bucket:
    """The bucket with only the region's collected classes (and only directed counts on lines).

    `classes` is the region's list of collected classes; other classes are left out here, at
    the edge, before the bucket is stored, and the number left out is logged so a policy
    mismatch is visible.
    """
    kept = replace(
        bucket,
        counts=tuple(c for c in bucket.counts if c[1] in SIDES and c[2] in classes),
        speeds=tuple(s for s in bucket.speeds if s[1] in classes),
        occupancy=tuple(o for o in bucket.occupancy if o[1] in classes),
        dwell=tuple(d for d in bucket.dwell if d[1] in classes),
    )
    left_out = sum(
        len(getattr(bucket, name)) - len(getattr(kept, name))
        for name in ("counts", "speeds", "occupancy", "dwell")
    )
    if left_out:
        log.warning(
            "bucket %s: %s entries of classes outside the region's list (or of no known"
            " direction) were not kept",
            iso_start(bucket.start),
            left_out,
        )
    return kept


def wire(bucket: Bucket) -> dict:
    """The bucket as a junction.batch/v1 bucket object, built field by field from aggregates.

    The spool stores this form (one camera's part) and the batch body carries it (the site's).
    """
    record = {
        "start": iso_start(bucket.start),
        "seconds": int(bucket.seconds),
        "uptime": float(min(max(bucket.uptime, 0.0), 1.0)),
        "counts": [
            {"counter": str(counter), "direction": direction, "class": cls, "count": int(n)}
            for counter, direction, cls, n in bucket.counts
        ],
        "speeds": [
            {
                "counter": str(counter),
                "class": cls,
                "edges_kmh": list(SPEED_EDGES_KMH),
                "counts": _histogram(hist, SPEED_EDGES_KMH),
            }
            for counter, cls, hist in bucket.speeds
        ],
        "occupancy": [
            {"zone": str(zone), "class": cls, "mean": float(mean), "max": int(peak)}
            for zone, cls, mean, peak in bucket.occupancy
        ],
    }
    if bucket.dwell:
        # Optional in v1; left out when empty so the common body stays exactly the documented one.
        record["dwell"] = [
            {
                "zone": str(zone),
                "class": cls,
                "edges_s": list(DWELL_EDGES_S),
                "counts": _histogram(hist, DWELL_EDGES_S),
            }
            for zone, cls, hist in bucket.dwell
        ]
    return record


def from_wire(record: dict) -> Bucket:
    """A stored bucket object back as the typed Bucket (the inverse of `wire`)."""
    return Bucket(
        start=calendar.timegm(time.strptime(record["start"], "%Y-%m-%dT%H:%M:%SZ")),
        seconds=int(record["seconds"]),
        uptime=float(record["uptime"]),
        counts=tuple(
            (c["counter"], c["direction"], c["class"], int(c["count"])) for c in record["counts"]
        ),
        speeds=tuple((s["counter"], s["class"], tuple(s["counts"])) for s in record["speeds"]),
        occupancy=tuple(
            (o["zone"], o["class"], float(o["mean"]), int(o["max"])) for o in record["occupancy"]
        ),
        dwell=tuple((d["zone"], d["class"], tuple(d["counts"])) for d in record.get("dwell", ())),
    )


def batch_body(
    *,
    batch_id: str,
    device_id: str,
    site: str,
    region: str,
    model_name: str,
    model_sha256: str,
    buckets: list[Bucket],
) -> bytes:
    """The exact bytes of a junction.batch/v1 body; stored once so every retry sends the same."""
    body = {
        "schema": BATCH_SCHEMA,
        "batch_id": batch_id,
        "device_id": device_id,
        "site": site,
        "region": region,
        "model": {"name": model_name, "sha256": model_sha256},
        "buckets": [wire(bucket) for bucket in buckets],
    }
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
