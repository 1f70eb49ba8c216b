"""The privacy choke point: the only code that turns buckets into what is stored on disk and sent.

Everything leaving the analyser passes through `bucket_record` before it reaches the spool, and
through `batch_body` before it reaches the network. Both build their output field by field from
aggregates (counts, histograms, occupancy summaries), so no frame, box, track id, trajectory or
single speed can ride along (DESIGN.md sections 2 and 4).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
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


def bucket_record(bucket: Bucket, *, classes: frozenset[str] = CLASSES) -> dict:
    """One camera's bucket as the aggregate-only dict that the spool stores.

    `classes` is the region's list of collected classes; other classes are left out here, at
    the edge, and the number left out is logged so a policy mismatch is visible.
    """
    left_out = 0

    def kept(cls: str) -> bool:
        nonlocal left_out
        if cls in classes:
            return True
        left_out += 1
        return False

    record = {
        "start": iso_start(bucket.start),
        "seconds": int(bucket.seconds),
        "uptime": float(min(max(bucket.uptime, 0.0), 1.0)),
        "counts": [
            {"counter": str(counter), "direction": direction, "class": cls, "count": int(n)}
            for counter, direction, cls, n in bucket.counts
            if direction in SIDES and kept(cls)
        ],
        "speeds": [
            {
                "counter": str(counter),
                "class": cls,
                "edges_kmh": list(SPEED_EDGES_KMH),
                "counts": _histogram(hist, SPEED_EDGES_KMH),
            }
            for counter, cls, hist in bucket.speeds
            if kept(cls)
        ],
        "occupancy": [
            {"zone": str(zone), "class": cls, "mean": float(mean), "max": int(peak)}
            for zone, cls, mean, peak in bucket.occupancy
            if kept(cls)
        ],
        "dwell": [
            {
                "zone": str(zone),
                "class": cls,
                "edges_s": list(DWELL_EDGES_S),
                "counts": _histogram(hist, DWELL_EDGES_S),
            }
            for zone, cls, hist in bucket.dwell
            if kept(cls)
        ],
    }
    if left_out:
        log.warning(
            "bucket %s: %s entries of classes outside the region's list were not kept",
            record["start"],
            left_out,
        )
    return record


def site_bucket(records: list[dict], *, cameras: int) -> dict:
    """Merge the records of one bucket start from every camera of the site into one bucket.

    Counter and zone names are unique across a site's cameras (config checks), so merging is a
    union; sums only matter if a name repeats. `uptime` is the mean camera uptime, with a missing
    camera counting 0: the share of the site's camera-time that was analysed. Not the minimum:
    one dead camera would make the bucket uptime 0, the platform's "no data" marker, and the
    other cameras' real counts would be thrown away with it.
    """
    if not records:
        raise ValueError("no records to merge")
    starts = {r["start"] for r in records}
    seconds = {r["seconds"] for r in records}
    if len(starts) != 1 or len(seconds) != 1:
        raise ValueError(f"records of different buckets cannot merge: {sorted(starts)}")
    counts: dict[tuple, int] = defaultdict(int)
    speeds: dict[tuple, list[int]] = {}
    occupancy: dict[tuple, list[float]] = {}
    dwell: dict[tuple, list[int]] = {}
    for record in records:
        for c in record["counts"]:
            counts[(c["counter"], c["direction"], c["class"])] += c["count"]
        for s in record["speeds"]:
            _add_into(speeds, (s["counter"], s["class"]), s["counts"])
        for o in record["occupancy"]:
            mean_max = occupancy.setdefault((o["zone"], o["class"]), [0.0, 0])
            mean_max[0] += o["mean"]
            mean_max[1] += o["max"]
        for d in record.get("dwell", ()):
            _add_into(dwell, (d["zone"], d["class"]), d["counts"])
    uptimes = [r["uptime"] for r in records] + [0.0] * max(cameras - len(records), 0)
    merged = {
        "start": records[0]["start"],
        "seconds": records[0]["seconds"],
        "uptime": sum(uptimes) / len(uptimes),
        "counts": [
            {"counter": k[0], "direction": k[1], "class": k[2], "count": n}
            for k, n in sorted(counts.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2]))
        ],
        "speeds": [
            {"counter": k[0], "class": k[1], "edges_kmh": list(SPEED_EDGES_KMH), "counts": h}
            for k, h in sorted(speeds.items())
        ],
        "occupancy": [
            {"zone": k[0], "class": k[1], "mean": round(v[0], 3), "max": int(v[1])}
            for k, v in sorted(occupancy.items())
        ],
    }
    if dwell:
        # Optional in v1; left out when empty so the common body stays exactly the documented one.
        merged["dwell"] = [
            {"zone": k[0], "class": k[1], "edges_s": list(DWELL_EDGES_S), "counts": h}
            for k, h in sorted(dwell.items())
        ]
    return merged


def _add_into(table: dict[tuple, list[int]], key: tuple, counts: list[int]) -> None:
    existing = table.get(key)
    table[key] = (
        list(counts) if existing is None else [a + b for a, b in zip(existing, counts, strict=True)]
    )


def batch_body(
    *,
    batch_id: str,
    device_id: str,
    site: str,
    region: str,
    model_name: str,
    model_sha256: str,
    buckets: list[dict],
) -> bytes:
    """The exact bytes of a junction.batch/v1 body; stored once so every retry sends the same."""
    body = {
        "schema": BATCH_SCHEMA,
        "batch_id": batch_id,
        "device_id": device_id,
        "site": site,
        "region": region,
        "model": {"name": model_name, "sha256": model_sha256},
        "buckets": buckets,
    }
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode("utf-8")
