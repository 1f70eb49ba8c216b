"""The demo's generated history: valid batches, the same every time, shaped like real traffic."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from junction.demo.history import (
    BUCKET_SECONDS,
    DemoSite,
    anchor_of,
    batch,
    blocks,
    episodes,
    history_span,
    quarters_touched,
)
from junction.ingest.schema import MAX_BUCKETS, batch_parse

SITE = DemoSite(
    slug="main-and-5th",
    region="eu-west",
    device_id="dev-main-5th-n",
    timezone="Europe/Dublin",
    lines=("north-stopline", "south-stopline"),
    movements=("N>E", "S>N"),
    zones=("crosswalk-north",),
)
NOW = datetime(2026, 12, 6, 3, 7, tzinfo=UTC)
START, END = history_span(now=NOW, first_stored=None)
STORY = episodes(SITE, anchor_of(START))


def day_batch(day: date, site: DemoSite = SITE) -> dict:
    tz = ZoneInfo(site.timezone)
    first = datetime.combine(day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    starts = [first + timedelta(seconds=BUCKET_SECONDS * i) for i in range(96)]
    return batch(site, starts, STORY)


def volume(bucket: dict, counter: str | None = None) -> int:
    return sum(c["count"] for c in bucket["counts"] if counter in (None, c["counter"]))


def local_hour(bucket: dict) -> float:
    local = datetime.fromisoformat(bucket["start"]).astimezone(ZoneInfo(SITE.timezone))
    return local.hour + local.minute / 60


def hourly(day: date, counter: str | None = None) -> dict[int, int]:
    totals: dict[int, int] = defaultdict(int)
    for bucket in day_batch(day)["buckets"]:
        totals[int(local_hour(bucket))] += volume(bucket, counter)
    return totals


def test_it_spans_six_weeks_and_today_so_far_in_quarter_hours():
    assert END - START == timedelta(weeks=6, hours=3)
    days = list(blocks(START, END))
    assert len(days) == 43 and [len(d) for d in days[-2:]] == [96, 12]
    assert all(len(d) <= MAX_BUCKETS for d in days)


def test_it_builds_batches_the_ingest_schema_takes():
    body = json.dumps(day_batch(date(2026, 11, 23))).encode()
    assert len(body) < 1024 * 1024
    parsed = batch_parse(body)
    assert {(b.seconds, b.uptime) for b in parsed.buckets} == {(900, 1.0)}
    assert {s.road_user for b in parsed.buckets for s in b.speeds} >= {"car", "bus", "truck"}
    assert {c.direction for b in parsed.buckets for c in b.counts if c.counter == "N>E"} == {None}
    assert all(b.occupancy for b in parsed.buckets)


def test_it_draws_the_same_batch_and_batch_id_every_time():
    assert day_batch(date(2026, 11, 12)) == day_batch(date(2026, 11, 12))
    assert day_batch(date(2026, 11, 12))["batch_id"] != day_batch(date(2026, 11, 13))["batch_id"]


@pytest.mark.parametrize("day", [date(2026, 11, 10), date(2026, 11, 12)])
def test_it_peaks_on_weekday_mornings_and_evenings(day):
    hours = hourly(day)
    night, am, midday, pm = hours[3], hours[8], hours[11], hours[17]
    assert night < am / 20 and am > midday and pm > midday


def test_it_makes_weekends_quieter_and_late_rising():
    saturday, tuesday = hourly(date(2026, 11, 14)), hourly(date(2026, 11, 10))
    assert sum(saturday.values()) < 0.8 * sum(tuesday.values())
    assert saturday[8] < tuesday[8] / 2 and max(saturday, key=saturday.get) in range(11, 16)


def test_it_sends_more_inbound_traffic_in_the_morning_and_outbound_in_the_evening():
    by_hour: dict[tuple[int, str], int] = defaultdict(int)
    for bucket in day_batch(date(2026, 11, 10))["buckets"]:
        for c in bucket["counts"]:
            if c["counter"] == "north-stopline":
                by_hour[int(local_hour(bucket)), c["direction"]] += c["count"]
    assert by_hour[8, "in"] > 1.3 * by_hour[8, "out"]
    assert by_hour[17, "out"] > 1.3 * by_hour[17, "in"]


def test_it_treats_a_public_holiday_as_a_sunday():
    monday = date(2026, 11, 16)
    holiday = DemoSite(**{**SITE.__dict__, "holidays": frozenset({monday})})
    on_holiday = sum(volume(b) for b in day_batch(monday, holiday)["buckets"])
    assert on_holiday < 0.7 * sum(volume(b) for b in day_batch(monday)["buckets"])


def test_it_tells_the_story_in_the_last_three_weeks():
    kinds = {e.kind: e for e in STORY}
    assert set(kinds) == {"outage", "closure", "event", "empty"}
    for episode in STORY:
        assert anchor_of(START).date() - timedelta(days=21) <= episode.day < anchor_of(START).date()
    assert kinds["closure"].counters == ("north-stopline",)


def test_it_marks_the_outage_as_no_data_and_its_edges_as_partly_watched():
    outage = next(e for e in STORY if e.kind == "outage")
    buckets = {local_hour(b): b for b in day_batch(outage.day)["buckets"]}
    assert {b["uptime"] for h, b in buckets.items() if 10 <= h < 15} == {0.0}
    assert all(not b["counts"] and not b["speeds"] for h, b in buckets.items() if 10 <= h < 15)
    assert (buckets[9.75]["uptime"], buckets[15.0]["uptime"]) == (0.6, 0.8)


def test_it_watches_the_empty_night_and_counts_nobody():
    night = next(e for e in STORY if e.kind == "empty")
    buckets = [b for b in day_batch(night.day)["buckets"] if 1 <= local_hour(b) < 5]
    assert len(buckets) == 16
    assert all(b["uptime"] == 1.0 and not b["counts"] for b in buckets)


def test_it_halves_the_closed_counter_in_the_day_and_leaves_the_other_alone():
    closure = next(e for e in STORY if e.kind == "closure")
    normal = closure.day - timedelta(weeks=1)
    for counter, low, high in (("north-stopline", 0.3, 0.6), ("south-stopline", 0.8, 1.25)):
        closed = sum(v for h, v in hourly(closure.day, counter).items() if 7 <= h < 19)
        usual = sum(v for h, v in hourly(normal, counter).items() if 7 <= h < 19)
        assert low * usual < closed < high * usual


@pytest.mark.parametrize(
    ("start", "seconds", "quarters"),
    [
        ("2026-12-06T03:01:00Z", 60, ["03:00"]),
        ("2026-12-06T03:14:00Z", 120, ["03:00", "03:15"]),
        ("2026-12-06T03:00:00Z", 3600, ["03:00", "03:15", "03:30", "03:45"]),
    ],
)
def test_it_knows_which_quarter_hours_another_bucket_holds(start, seconds, quarters):
    touched = quarters_touched(datetime.fromisoformat(start), seconds)
    assert sorted(f"{t:%H:%M}" for t in touched) == quarters
