"""demo_seed's history: six weeks sent through the real ingest path and analysed, so the
dashboard has a story to show; a second run sends and records nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db.models import Max, Min

from junction.analytics.models import Anomaly, Period, Rollup, WindowCoverage
from junction.demo.history import anchor_of, blocks, episodes
from junction.ingest.models import IngestBatch
from junction.sites.models import Device, Site
from junction.traffic.models import CountBucket, CountRow, SpeedHistogram

REGION_MODELS = (IngestBatch, CountBucket, CountRow, SpeedHistogram, Rollup, Anomaly)


def seed() -> dict:
    out = StringIO()
    call_command("demo_seed", "--json", stdout=out)
    return json.loads(out.getvalue())


def stored(region: str, until: datetime) -> dict[str, int]:
    """Rows of the region's traffic data before `until`, and its batches and anomalies."""
    return {
        model.__name__: (
            model.objects.in_region(region).filter(start__lt=until).count()
            if hasattr(model, "start")
            else model.objects.in_region(region).count()
        )
        for model in REGION_MODELS
    }


def window(site: Site, episode) -> tuple[datetime, datetime]:
    tz = ZoneInfo(site.timezone)
    midnight = datetime.combine(episode.day, datetime.min.time(), tzinfo=tz)
    return tuple(
        (midnight + timedelta(hours=h)).astimezone(UTC)  # type: ignore[return-value]
        for h in episode.hours
    )


# Committed for real: ingest announces a stored batch, and analytics rolls it up, on commit.
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_it_seeds_six_weeks_that_the_analytics_tell_the_story_of_and_a_rerun_adds_nothing(var_dir):
    # One test, because seeding six weeks takes most of a minute; each part is its own check.
    payload = seed()
    site = Site.objects.get(slug="main-and-5th")
    story = {e.kind: e for e in episodes_of(site)}
    sent_through_ingest(payload)
    rolled_up_by_counter_direction_and_class()
    found_the_outage_the_lane_closure_and_the_event(site, story)
    watched_the_empty_night_and_counted_nobody(site, story["empty"])
    # Before the hour of the history's end: an hour rollup takes in its later quarters.
    until = datetime.fromisoformat(payload["history"][0]["until"]).replace(minute=0)
    before = {region: stored(region, until) for region in ("eu-west", "us-east")}
    again = seed()
    # Only a quarter hour that ended meanwhile is new: it goes in a batch of its own.
    new_batches = [h["batches_stored"] for h in again["history"]]
    assert new_batches in ([0, 0], [1, 1])
    for region, n in zip(("eu-west", "us-east"), new_batches, strict=True):
        assert stored(region, until) == {
            **before[region],
            "IngestBatch": before[region]["IngestBatch"] + n,
        }
    assert [h["anomalies"] for h in again["history"]] == [[], []]


def episodes_of(site: Site):
    from junction.demo.management.commands.demo_seed import DEMO_REGIONS, _demo_site

    demo = next(d for d in DEMO_REGIONS if d["site"]["slug"] == site.slug)
    first = (
        CountBucket.objects.in_region(site.region.code)
        .filter(site_id=site.pk)
        .aggregate(first=Min("start"))["first"]
    )
    return episodes(_demo_site(demo, site, datetime.now(UTC)), anchor_of(first))


def sent_through_ingest(payload: dict) -> None:
    """Six weeks of quarter hours per demo device, every one in a signed batch the ingest
    endpoint stored: one batch per UTC day, today's so far included."""
    for device, sent in zip(
        Device.objects.select_related("site__region").order_by("site__region__code"),
        payload["history"],
        strict=True,
    ):
        region = device.site.region.code
        days = list(
            blocks(datetime.fromisoformat(sent["since"]), datetime.fromisoformat(sent["until"]))
        )
        buckets = CountBucket.objects.in_region(region).filter(device_id=device.device_id)
        span = buckets.aggregate(first=Min("start"), last=Max("start"))
        assert timedelta(weeks=6) - timedelta(minutes=15) <= span["last"] - span["first"]
        assert span["last"] - span["first"] < timedelta(weeks=6, days=1)
        assert set(buckets.values_list("seconds", flat=True)) == {900}
        batches = IngestBatch.objects.in_region(region).filter(device_id=device.device_id)
        assert batches.count() == len(days) == sent["batches_stored"]
        assert sum(batches.values_list("buckets", flat=True)) == buckets.count()
        assert Device.objects.get(pk=device.pk).batches_received == len(days)
        assert sent["refused"] == []


def rolled_up_by_counter_direction_and_class() -> None:
    rollups = Rollup.objects.in_region("eu-west").filter(period=Period.HOUR)
    assert set(rollups.values_list("road_user", flat=True)) == {
        "person",
        "bicycle",
        "car",
        "motorcycle",
        "bus",
        "truck",
    }
    assert {"N>E", "north-stopline", "south-stopline"} <= set(
        rollups.values_list("counter", flat=True)
    )
    assert set(rollups.filter(counter="north-stopline").values_list("direction", flat=True)) == {
        "in",
        "out",
    }
    assert SpeedHistogram.objects.in_region("eu-west").exists()


def found_the_outage_the_lane_closure_and_the_event(site: Site, story: dict) -> None:
    anomalies = Anomaly.objects.in_region("eu-west").filter(site_id=site.pk)

    def found(kind: str, episode, **where) -> bool:
        start, end = window(site, episode)
        return anomalies.filter(kind=kind, start__lt=end, end__gt=start, **where).exists()

    assert found("outage", story["outage"], device_id="dev-main-5th-n")
    closure_days = [e for e in episodes_of(site) if e.kind == "closure"]
    assert all(found("drop", day, counter="north-stopline") for day in closure_days)
    # The other approach kept its lanes.
    assert not any(found("drop", day, counter="south-stopline") for day in closure_days)
    assert found("spike", story["event"], counter="north-stopline")
    assert found("spike", story["event"], counter="south-stopline")


def watched_the_empty_night_and_counted_nobody(site: Site, night) -> None:
    start, end = window(site, night)
    quarters = (end - start) // timedelta(minutes=15)  # 16, or 12 or 20 on a night of DST
    buckets = CountBucket.objects.in_region("eu-west").filter(start__gte=start, start__lt=end)
    assert buckets.count() == quarters and set(buckets.values_list("uptime", flat=True)) == {1.0}
    assert (
        not CountRow.objects.in_region("eu-west").filter(start__gte=start, start__lt=end).exists()
    )
    coverage = WindowCoverage.objects.in_region("eu-west").filter(
        site_id=site.pk, period=Period.QUARTER_HOUR, start__gte=start, start__lt=end
    )
    assert coverage.count() == quarters
    assert set(coverage.values_list("coverage", flat=True)) == {1.0}
    assert (
        not Anomaly.objects.in_region("eu-west")
        .filter(kind="outage", start__lt=end, end__gt=start)
        .exists()
    )
