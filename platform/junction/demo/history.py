"""Six weeks of made-up but plausible traffic for a demo site, as junction.batch/v1 batches.

Deterministic: every bucket is drawn from a generator seeded by the site and the bucket's
start, so the same buckets always make the same body (and the same batch id, derived from it).
The story is laid out around the anchor, the end of the first seeding's six weeks: quarter-hour
counts per counter, direction and road-user class following weekday and weekend profiles in the
site's local time, with a camera outage, a lane closure, an evening event and a night of empty
road in the last three weeks, where the anomaly detector has the history it needs to judge them.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from edge_worker.contract import BATCH_SCHEMA

SEED = 20261206
HISTORY = timedelta(weeks=6)
BUCKET_SECONDS = 900
# A UTC day of quarter hours per batch: about 500 kB for the busiest demo site, inside the 1 MB
# body limit and the 1440-bucket limit of the contract; fewer, larger batches are what keeps
# seeding six weeks quick (each batch is stored and rolled up on its own).
BLOCK = timedelta(days=1)
BATCH_NAMESPACE = uuid.UUID("5b0e8f9c-3d0c-4a61-9a57-0c1d2e3f4a5b")
# The detector the edge worker ships (its README pins this SHA-256).
MODEL = {
    "name": "yolox_nano",
    "sha256": "d39bee73564e338080378b0ad567fbb40e818b55bbfaf971de82a0267ed16b8a",
}

# Busiest quarter hour of a counter (both directions), per class.
PEAK = {"car": 70.0, "person": 22.0, "bicycle": 12.0, "truck": 6.0, "bus": 4.0, "motorcycle": 3.0}
# Mean and spread of speeds over a line in free flow, km/h; people's speeds are not measured.
SPEED = {
    "car": (44.0, 7.0),
    "motorcycle": (47.0, 8.0),
    "bus": (33.0, 5.0),
    "truck": (37.0, 6.0),
    "bicycle": (19.0, 4.0),
}
SPEED_EDGES = [0, 10, 20, 30, 40, 50, 60, 70, 80, 120]
TURN_SHARE = 0.15  # of a line's vehicles, per turning movement


@dataclass(frozen=True)
class DemoSite:
    slug: str
    region: str
    device_id: str
    timezone: str
    lines: tuple[str, ...]
    movements: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    classes: tuple[str, ...] = tuple(PEAK)
    scale: float = 1.0  # how busy the site is
    holidays: frozenset[date] = frozenset()  # their traffic is a Sunday's


@dataclass(frozen=True)
class Episode:
    """Something that happened: local day, [start, end) local hours, on which counters."""

    kind: str  # outage | closure | event | empty
    day: date
    hours: tuple[float, float]
    counters: tuple[str, ...] = ()  # () = the whole site
    factor: float = 1.0

    def covers(self, local: datetime, counter: str | None = None) -> bool:
        hour = local.hour + local.minute / 60
        return (
            local.date() == self.day
            and self.hours[0] <= hour < self.hours[1]
            and (not self.counters or counter is None or counter in self.counters)
        )


def episodes(site: DemoSite, anchor: datetime) -> list[Episode]:
    """The story of the last three weeks, on weekdays chosen relative to the anchor's week."""
    local_day = (anchor - timedelta(seconds=1)).astimezone(ZoneInfo(site.timezone)).date()
    monday = local_day - timedelta(days=local_day.weekday())
    last, before = monday - timedelta(weeks=1), monday - timedelta(weeks=2)
    closed = site.lines[:1]
    return [
        Episode("outage", before + timedelta(days=2), (10.0, 15.0)),
        *(
            Episode("closure", last + timedelta(days=d), (7.0, 19.0), closed, 0.45)
            for d in range(3)
        ),
        Episode("event", last + timedelta(days=4), (18.5, 22.5), factor=2.4),
        Episode("empty", last + timedelta(days=6), (1.0, 5.0), factor=0.0),
    ]


def history_span(*, now: datetime, first_stored: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) of the history to send: the six weeks before today (UTC) and today's
    quarter hours so far; once seeded, from the first seeding's start (so its story stays
    where it was) up to now."""
    end = _floor(now, timedelta(seconds=BUCKET_SECONDS))
    start = _floor(first_stored, BLOCK) if first_stored else _floor(now, BLOCK) - HISTORY
    return start, end


def anchor_of(start: datetime) -> datetime:
    return start + HISTORY


def blocks(start: datetime, end: datetime) -> Iterator[list[datetime]]:
    """The bucket starts of [start, end), one list per UTC day (the last one partial)."""
    step = timedelta(seconds=BUCKET_SECONDS)
    day: list[datetime] = []
    at = start
    while at < end:
        if day and _floor(at, BLOCK) != _floor(day[0], BLOCK):
            yield day
            day = []
        day.append(at)
        at += step
    if day:
        yield day


def quarters_touched(start: datetime, seconds: int) -> set[datetime]:
    """The starts of the demo buckets that a bucket of another length overlaps."""
    step = timedelta(seconds=BUCKET_SECONDS)
    at, end = _floor(start, step), start + timedelta(seconds=seconds)
    touched = set()
    while at < end:
        touched.add(at)
        at += step
    return touched


def batch(site: DemoSite, starts: list[datetime], story: list[Episode]) -> dict:
    """The buckets starting at `starts`, with a batch id derived from the batch's content."""
    tz = ZoneInfo(site.timezone)
    buckets = [_bucket(site, start, tz, story) for start in starts]
    body = {
        "schema": BATCH_SCHEMA,
        "device_id": site.device_id,
        "site": site.slug,
        "region": site.region,
        "model": dict(MODEL),
        "buckets": buckets,
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {"batch_id": str(uuid.uuid5(BATCH_NAMESPACE, digest)), **body}


def _bucket(site: DemoSite, start: datetime, tz: ZoneInfo, story: list[Episode]) -> dict:
    rng = np.random.default_rng([SEED, zlib.crc32(site.slug.encode()), int(start.timestamp())])
    local = (start + timedelta(seconds=BUCKET_SECONDS / 2)).astimezone(tz)
    uptime = _uptime(local, story)
    bucket: dict = {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": BUCKET_SECONDS,
        "uptime": uptime,
        "counts": [],
        "speeds": [],
        "occupancy": [],
    }
    if uptime == 0:
        return bucket  # the camera was dark: "no data", not zero traffic
    hour = local.hour + local.minute / 60
    weekday = 6 if local.date() in site.holidays else local.weekday()
    level = site.scale * uptime * _day_level(site, local.date())
    for index, counter in enumerate(site.lines):
        inbound = _inbound_share(hour, weekday, mirrored=index % 2 == 1)
        factor = _factor(local, counter, story)
        for road_user in site.classes:
            rate = _rate(road_user, hour, weekday) * level * factor
            drawn = {
                d: int(rng.poisson(rate * share))
                for d, share in (("in", inbound), ("out", 1 - inbound))
            }
            bucket["counts"] += [
                {"counter": counter, "direction": d, "class": road_user, "count": n}
                for d, n in drawn.items()
                if n
            ]
            total = sum(drawn.values())
            if road_user in SPEED and total:
                congestion = 1.0 - 0.25 * _commute(hour, weekday) - (0.3 if factor < 1 else 0.0)
                bucket["speeds"].append(
                    {
                        "counter": counter,
                        "class": road_user,
                        "edges_kmh": SPEED_EDGES,
                        "counts": _speed_histogram(road_user, total, congestion, rng),
                    }
                )
    for counter in site.movements:
        factor = _factor(local, counter, story)
        for road_user in site.classes:
            if road_user == "person":
                continue
            rate = _rate(road_user, hour, weekday) * level * factor * TURN_SHARE
            n = int(rng.poisson(rate))
            if n:
                bucket["counts"].append(
                    {"counter": counter, "direction": None, "class": road_user, "count": n}
                )
    if "person" in site.classes:
        for zone in site.zones:
            mean = _rate("person", hour, weekday) * level * _factor(local, zone, story)
            mean = round(mean * 0.06, 2)  # people waiting on the crossing at any moment
            peak = math.ceil(mean) + int(rng.poisson(1.0)) if mean else 0
            bucket["occupancy"].append({"zone": zone, "class": "person", "mean": mean, "max": peak})
    return bucket


def _uptime(local: datetime, story: list[Episode]) -> float:
    for episode in story:
        if episode.kind != "outage":
            continue
        if episode.covers(local):
            return 0.0
        # The camera failed part way through the quarter hour before and came back part way
        # through the one after: partly watched buckets, counted for the time they were.
        if episode.covers(local + timedelta(minutes=15)):
            return 0.6
        if episode.covers(local - timedelta(minutes=15)):
            return 0.8
    return 1.0


def _factor(local: datetime, counter: str, story: list[Episode]) -> float:
    factor = 1.0
    for episode in story:
        if episode.kind != "outage" and episode.covers(local, counter):
            factor *= episode.factor
    return factor


def _bump(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


def _night(hour: float) -> float:
    """Near zero from midnight to five, rising with the day and falling after ten at night."""
    return 0.02 + 0.98 / (1 + math.exp(-(hour - 5.8) * 2.2)) / (1 + math.exp((hour - 22.5) * 1.6))


def _commute(hour: float, weekday: int) -> float:
    if weekday >= 5:
        return 0.0
    return max(_bump(hour, 8.0, 1.1), _bump(hour, 17.5, 1.5))


def _rate(road_user: str, hour: float, weekday: int) -> float:
    """Mean count of a class over one counter in a quarter hour, weekday or weekend shape."""
    weekend = weekday >= 5
    if road_user == "person":
        shape = (
            0.7 * _bump(hour, 14.0, 3.5)
            if weekend
            else 0.15
            + 0.5 * _bump(hour, 8.3, 0.8)
            + 0.8 * _bump(hour, 12.8, 1.5)
            + 0.7 * _bump(hour, 17.5, 1.5)
        )
    elif road_user == "bicycle":
        shape = (
            0.45 * _bump(hour, 11.0, 3.0)
            if weekend
            else 0.05 + 1.0 * _bump(hour, 8.0, 0.8) + 0.8 * _bump(hour, 17.3, 1.0)
        )
    elif road_user == "bus":
        shape = 0.5 if weekend else 0.6 + 0.4 * _commute(hour, weekday)
    elif road_user == "truck":
        shape = (
            0.15 + 0.1 * _bump(hour, 12.0, 3.0) if weekend else 0.2 + 0.8 * _bump(hour, 11.0, 3.5)
        )
    else:  # car, motorcycle
        shape = (
            0.7 * (0.15 + 0.85 * _bump(hour, 13.5, 4.0))
            if weekend
            else 0.15
            + 0.9 * _bump(hour, 8.0, 1.2)
            + 0.95 * _bump(hour, 17.5, 1.6)
            + 0.5 * _bump(hour, 12.5, 3.0)
        )
    sunday = 0.85 if weekday == 6 else 1.0
    return PEAK[road_user] * shape * sunday * _night(hour)


def _inbound_share(hour: float, weekday: int, *, mirrored: bool) -> float:
    """Tidal flow: inbound heavier in the morning, outbound in the evening."""
    if weekday >= 5:
        return 0.5
    tide = 0.15 * (_bump(hour, 8.0, 1.5) - _bump(hour, 17.5, 1.8))
    return 0.5 - tide if mirrored else 0.5 + tide


def _day_level(site: DemoSite, day: date) -> float:
    """Weather and the like move a whole day by a few percent."""
    rng = np.random.default_rng([SEED, zlib.crc32(site.slug.encode()), day.toordinal()])
    return float(np.exp(rng.normal(0.0, 0.05)))


def _speed_histogram(
    road_user: str, total: int, congestion: float, rng: np.random.Generator
) -> list[int]:
    mean, spread = SPEED[road_user]
    mean *= congestion
    cdf = [0.5 * (1 + math.erf((edge - mean) / (spread * math.sqrt(2)))) for edge in SPEED_EDGES]
    cdf[0], cdf[-1] = 0.0, 1.0
    shares = np.diff(cdf)
    return [int(n) for n in rng.multinomial(total, shares / shares.sum())]


def _floor(moment: datetime, step: timedelta) -> datetime:
    seconds = int(step.total_seconds())
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(stamp - stamp % seconds, UTC)
