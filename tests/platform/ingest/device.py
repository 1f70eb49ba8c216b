"""A minimal device for ingest tests: builds the documented example batch, signs it, sends it.

The signature is computed here independently of the platform's code, so a mistake on either side
shows up as a failing test instead of agreeing with itself.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings

from junction.ingest.models import IngestBatch
from junction.residency.planes import region_of_alias
from junction.sites.models import Device
from junction.traffic.models import (
    CountBucket,
    CountRow,
    DwellHistogram,
    OccupancySummary,
    SpeedHistogram,
)

INGEST_URL = "/api/v1/ingest/batches"
MODEL_SHA256 = hashlib.sha256(b"yolox_nano").hexdigest()
REGION_MODELS = (
    IngestBatch,
    CountBucket,
    CountRow,
    SpeedHistogram,
    OccupancySummary,
    DwellHistogram,
)

# (body digest, timestamp) pairs already signed in this run, shared by the test's threads.
_signed: set[tuple[bytes, int]] = set()
_signed_lock = threading.Lock()


def minute_start(minutes_ago: int = 2) -> datetime:
    now = int(time.time())
    return datetime.fromtimestamp(now - now % 60 - 60 * minutes_ago, UTC)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def example_bucket(start: datetime | None = None, **overrides) -> dict:
    bucket = {
        "start": iso(start or minute_start()),
        "seconds": 60,
        "uptime": 0.98,
        "counts": [
            {"counter": "north-stopline", "direction": "in", "class": "car", "count": 12},
            {"counter": "N>E", "direction": None, "class": "bicycle", "count": 1},
        ],
        "speeds": [
            {
                "counter": "north-stopline",
                "class": "car",
                "edges_kmh": [0, 10, 20, 30, 40, 50, 60, 70, 80],
                "counts": [0, 1, 4, 6, 1, 0, 0, 0],
            }
        ],
        "occupancy": [{"zone": "crosswalk-north", "class": "person", "mean": 0.4, "max": 3}],
    }
    bucket.update(overrides)
    return bucket


def example_batch(persona, *, buckets: list[dict] | None = None, **overrides) -> dict:
    """The body of DESIGN.md section 4 for this device (its site needs the example's counters)."""
    body = {
        "schema": "junction.batch/v1",
        "batch_id": str(uuid.uuid4()),
        "device_id": persona.device_id,
        "site": persona.site.slug,
        "region": persona.region,
        "model": {"name": "yolox_nano", "sha256": MODEL_SHA256},
        "buckets": buckets if buckets is not None else [example_bucket()],
    }
    body.update(overrides)
    return copy.deepcopy(body)


def encode(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def fresh_stamp(raw: bytes) -> int:
    """Now, or the latest earlier second not yet used for these bytes.

    The same body signed twice in one second gives the same signature, which the platform
    rightly refuses as a replay; stepping back (not forward) keeps every stamp in the window.
    """
    digest = hashlib.sha256(raw).digest()
    with _signed_lock:
        stamp = int(time.time())
        while (digest, stamp) in _signed:
            stamp -= 1
        _signed.add((digest, stamp))
    return stamp


def sign(secret: str, stamp: int, raw: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(
    persona,
    raw: bytes,
    *,
    batch_id: str | None,
    secret: str | None = None,
    stamp: int | None = None,
) -> dict[str, str]:
    stamp = fresh_stamp(raw) if stamp is None else stamp
    values = {
        "X-Junction-Device": persona.device_id,
        "X-Junction-Timestamp": str(stamp),
        "X-Junction-Signature": sign(secret or persona.secret, stamp, raw),
    }
    if batch_id is not None:
        values["Idempotency-Key"] = batch_id
    return values


def send(
    client,
    persona,
    body: dict | bytes,
    *,
    secret: str | None = None,
    stamp: int | None = None,
    header_overrides: dict | None = None,
    **environ: str,
):
    """POST a signed batch with Django's test client (or anything with the same `post`);
    `environ` for the request's WSGI environment (e.g. REMOTE_ADDR)."""
    raw = body if isinstance(body, bytes) else encode(body)
    batch_id = body.get("batch_id") if isinstance(body, dict) else None
    sent = headers(persona, raw, batch_id=batch_id, secret=secret, stamp=stamp)
    sent.update(header_overrides or {})
    sent = {k: v for k, v in sent.items() if v is not None}
    return client.post(
        INGEST_URL, data=raw, content_type="application/json", headers=sent, **environ
    )


def stored_counts() -> dict[str, int]:
    """Rows of every region model in every served region database, plus device deliveries."""
    counts = {}
    for alias in settings.DATABASES:
        region = region_of_alias(alias)
        if region is None:
            continue
        for model in REGION_MODELS:
            counts[f"{region}:{model.__name__}"] = model.objects.in_region(region).count()
    counts["control:batches_received"] = sum(
        Device.objects.values_list("batches_received", flat=True)
    )
    return counts


def assert_nothing_stored() -> None:
    counts = stored_counts()
    assert not any(counts.values()), counts


def assert_error(response, status: int, error: str | None = None, field: str | None = None):
    assert response.status_code == status, (response.status_code, response.content)
    payload = response.json()
    assert set(payload) >= {"error", "field", "detail"}, payload
    if error is not None:
        assert payload["error"] == error, payload
    if field is not None:
        assert payload["field"] == field, payload
    return payload
