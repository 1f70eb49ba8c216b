"""The documented example batch (DESIGN.md section 4), fitted to a registered device's site.

Used by `manage.py ingest_sample` so a newcomer can see a signed batch go through; the counter
and zone names of the example are replaced by the site's own when the site has other names.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

from edge_worker.contract import BATCH_SCHEMA
from junction.sites.models import CounterKind, Device

# The detector the edge worker ships (its README pins this SHA-256).
MODEL = {
    "name": "yolox_nano",
    "sha256": "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a",
}


def sample_batch(device: Device, *, now: float | None = None) -> dict:
    site, region = device.site, device.site.region
    counters = list(site.counters.order_by("name").values_list("name", "kind"))
    lines = [n for n, k in counters if k == CounterKind.LINE]
    movements = [n for n, k in counters if k == CounterKind.MOVEMENT]
    zones = [n for n, k in counters if k == CounterKind.ZONE]
    line = _prefer("north-stopline", lines)
    counts, speeds, occupancy = [], [], []
    if line:
        counts.append({"counter": line, "direction": "in", "class": "car", "count": 12})
        speeds.append(
            {
                "counter": line,
                "class": "car",
                "edges_kmh": [0, 10, 20, 30, 40, 50, 60, 70, 80],
                "counts": [0, 1, 4, 6, 1, 0, 0, 0],
            }
        )
    movement = _prefer("N>E", movements)
    if movement:
        counts.append({"counter": movement, "direction": None, "class": "bicycle", "count": 1})
    elif len(lines) > 1:
        other = next(n for n in lines if n != line)
        counts.append({"counter": other, "direction": "out", "class": "bicycle", "count": 1})
    zone = _prefer("crosswalk-north", zones)
    if zone:
        occupancy.append({"zone": zone, "class": "person", "mean": 0.4, "max": 3})
    seconds = max(60, region.min_bucket_seconds)
    now = time.time() if now is None else now
    start = int(now) - int(now) % seconds - seconds  # the last bucket that has ended
    allowed = set(region.classes)
    bucket = {
        "start": datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": seconds,
        "uptime": 0.98,
        "counts": [c for c in counts if c["class"] in allowed],
        "speeds": [s for s in speeds if s["class"] in allowed],
        "occupancy": [o for o in occupancy if o["class"] in allowed],
    }
    return {
        "schema": BATCH_SCHEMA,
        "batch_id": str(uuid.uuid4()),
        "device_id": device.device_id,
        "site": site.slug,
        "region": region.code,
        "model": dict(MODEL),
        "buckets": [bucket],
    }


def _prefer(name: str, names: list[str]) -> str | None:
    return name if name in names else (names[0] if names else None)


def sample_encode(batch: dict) -> bytes:
    return json.dumps(batch, separators=(",", ":")).encode()
