"""Six weeks of made-up but plausible traffic for the demo's sites, so every dashboard page
has something to show after `make demo`: weekday and weekend profiles, a lane closure, an
event spike, a camera outage and a night of genuinely empty road.

The history goes in as a device would send it: batches of 15-minute buckets, parsed and
stored by the ingest service (junction.ingest.services.batch_ingest, the code behind the
ingest endpoint once the signature is checked), then rolled up and judged by the analytics.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from junction.analytics.anomalies import anomalies_detect_site
from junction.analytics.detector import BASELINE_WEEKS
from junction.analytics.rollups import rollups_recompute
from junction.ingest.policy import batch_identity_check
from junction.ingest.sample import MODEL
from junction.ingest.schema import batch_parse
from junction.ingest.selectors import device_context_get
from junction.ingest.services import batch_ingest
from junction.sites.models import CounterKind, Device
from junction.traffic.models import CountBucket

WEEKS = 6
BUCKET = timedelta(minutes=15)
# Share of each road user in the flow (those the region does not count are dropped).
MIX = {"car": 0.74, "bicycle": 0.1, "person": 0.08, "bus": 0.02, "truck": 0.04,
       "motorcycle": 0.02}
PEAK_PER_QUARTER = 90  # cars and the rest, one direction of one counting line


@dataclass(frozen=True)
class Incident:
    days_ago: int
    first_hour: int
    last_hour: int  # exclusive
    factor: float | None  # flow multiplied by this; None: the camera was dark


# Days back from today: far enough in for four weeks of baseline before each.
INCIDENTS = {
    "lane closure": Incident(days_ago=9, first_hour=10, last_hour=15, factor=0.3),
    "event spike": Incident(days_ago=6, first_hour=19, last_hour=23, factor=3.5),
    "camera outage": Incident(days_ago=3, first_hour=9, last_hour=14, factor=None),
    "empty night": Incident(days_ago=5, first_hour=1, last_hour=5, factor=0.0),
}


def profile(local: datetime) -> float:
    """Share of the peak flow at a local time: two commuter peaks on weekdays, one broad
    afternoon hump at weekends, little at night."""
    hour = local.hour + local.minute / 60

    def bump(centre: float, width: float) -> float:
        return math.exp(-((hour - centre) / width) ** 2)

    if local.weekday() < 5:
        return 0.04 + 0.9 * bump(8.25, 1.3) + 0.8 * bump(17.5, 1.6) + 0.45 * bump(13, 3)
    return 0.04 + 0.6 * bump(14, 3.5)


def incident_at(local: datetime, today: datetime) -> Incident | None:
    for incident in INCIDENTS.values():
        day = (today - timedelta(days=incident.days_ago)).date()
        if local.date() == day and incident.first_hour <= local.hour < incident.last_hour:
            return incident
    return None


def day_buckets(device: Device, start: datetime, zone: ZoneInfo, today: datetime,
                allowed: set[str], rng: random.Random, until: datetime) -> list[dict]:
    lines = list(device.site.counters.filter(kind=CounterKind.LINE).values_list("name",
                                                                                   flat=True))
    buckets = []
    moment = start
    while moment + BUCKET <= until and moment < start + timedelta(days=1):
        local = moment.astimezone(zone)
        incident = incident_at(local, today)
        counts: list[dict] = []
        dark = incident is not None and incident.factor is None
        if not dark:
            factor = incident.factor if incident and incident.factor is not None else 1.0
            for line in lines:
                for direction, weight in (("in", 1.0), ("out", 0.8)):
                    mean = PEAK_PER_QUARTER * profile(local) * factor * weight
                    for road_user, share in MIX.items():
                        count = round(rng.gauss(mean * share, math.sqrt(mean * share + 1e-9)))
                        if road_user in allowed and count > 0:
                            counts.append({"counter": line, "direction": direction,
                                           "class": road_user, "count": count})
        buckets.append({"start": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds": 900,
                        "uptime": 0.0 if dark else 1.0, "counts": counts})
        moment += BUCKET
    return buckets


def days(now: datetime) -> Iterator[datetime]:
    """Starts of the UTC days of the history, oldest first, today's (so far) last."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(WEEKS * 7, -1, -1):
        yield today - timedelta(days=back)


def has_history(device: Device, now: datetime) -> bool:
    return CountBucket.objects.in_region(device.site.region.code).filter(
        site_id=device.site_id, start__lt=now - timedelta(weeks=WEEKS - 1)).exists()


def history_seed(device: Device, now: datetime) -> int:
    """Ingest six weeks of batches for `device`, roll them up and judge them; the number of
    batches stored (0 when the site already has its history)."""
    if has_history(device, now):
        return 0
    site, region = device.site, device.site.region
    zone = ZoneInfo(site.timezone)
    rng = random.Random(f"{site.slug}-{device.device_id}")
    context = device_context_get(device.device_id)
    stored = 0
    starts = list(days(now))
    for start in starts:
        if start + BUCKET > now:
            break  # just after midnight: today has no whole bucket yet
        body = json.dumps({
            "schema": "junction.batch/v1", "batch_id": str(uuid.uuid5(
                uuid.NAMESPACE_URL, f"junction-demo/{device.device_id}/{start:%Y-%m-%d}")),
            "device_id": device.device_id, "site": site.slug, "region": region.code,
            "model": dict(MODEL),
            "buckets": day_buckets(device, start, zone, now.astimezone(zone),
                                   set(region.classes), rng, until=now),
        }).encode()
        batch = batch_parse(body)
        batch_identity_check(batch, context)
        outcome = batch_ingest(device=context, batch=batch,
                               body_sha256=hashlib.sha256(body).hexdigest(), now=now,
                               max_skew=0)
        stored += int(outcome.created)
    first, end = starts[0], now
    rollups_recompute(region=region.code, site_id=site.pk, start=first, end=end)
    anomalies_detect_site(region=region.code, site_id=site.pk,
                          since=first + timedelta(weeks=BASELINE_WEEKS), until=end)
    return stored
