"""Detection as a real deployment meets it in its first month: a two-camera site with one camera
dark, a backfill analysed in one run, late data that fills part of an outage, a public holiday."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from junction.analytics import anomalies
from junction.analytics.models import Anomaly
from junction.residency.models import Region
from junction.sites import services as site_services
from tests.platform.analytics.factories import store_quarter_series
from tests.platform.analytics.traffic import (
    WINDOWS_PER_DAY,
    WINDOWS_PER_WEEK,
    generate,
    inject_drop,
    inject_outage,
    inject_spike,
    window,
)
from tests.platform.conftest import DevicePersona
from tests.platform.ingest.device import example_batch, iso, send

EU = "eu-west"
QUARTER = timedelta(minutes=15)
MONDAY = datetime(2026, 10, 26, tzinfo=UTC)
TUE, WED, THU, FRI = 1, 2, 3, 4


def at(index: int, start: datetime = MONDAY) -> datetime:
    return start + index * QUARTER


def recorded(site_id: int) -> set[tuple]:
    return {
        (a.kind, a.counter, a.device_id, a.start, a.end, a.expected, a.observed)
        for a in Anomaly.objects.in_region(EU).filter(site_id=site_id)
    }


# --- a two-camera site, through the real ingest endpoint -------------------------------------


@pytest.fixture
def two_cameras(eu_west):
    site = site_services.site_add(
        slug="harbour-and-mill",
        region=EU,
        name="Harbour Rd & Mill St",
        counters={
            "north-stopline": {"line": [0, 100, 400, 100]},
            "south-stopline": {"line": [0, 300, 400, 300]},
        },
    )
    cameras = {}
    for name in ("north", "south"):
        issued = site_services.device_add(device_id=f"dev-harbour-{name}", site=site.slug)
        cameras[name] = DevicePersona(issued.device, issued.secret, site)
    return site, cameras


def deliver(
    client: Client,
    camera: DevicePersona,
    *,
    start: datetime,
    counter: str,
    volume: np.ndarray,
    dark: np.ndarray,
    per_batch: int = WINDOWS_PER_DAY,
) -> None:
    """15-minute buckets as the camera's edge worker sends them; a dark camera's buckets say
    uptime 0 (the worker ran, the camera stream did not)."""
    for first in range(0, volume.size, per_batch):
        buckets = [
            {
                "start": iso(at(i, start)),
                "seconds": 900,
                "uptime": 0.0 if dark[i] else 1.0,
                "counts": []
                if dark[i] or not volume[i]
                else [
                    {"counter": counter, "direction": "in", "class": "car", "count": int(volume[i])}
                ],
            }
            for i in range(first, min(first + per_batch, volume.size))
        ]
        response = send(client, camera, example_batch(camera, buckets=buckets))
        assert response.status_code == 201, response.content


def test_it_reports_a_dark_camera_as_its_outage_and_judges_the_other_camera_unscaled(two_cameras):
    site, cameras = two_cameras
    rng = np.random.default_rng(11)
    weeks = 5
    now = timezone.now()
    start = (now - timedelta(weeks=weeks, days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    north, south = generate(rng, weeks), generate(rng, weeks)
    dark_from, hours = window(4, TUE, 12.0), 6
    dark = np.zeros(north.volume.size, dtype=bool)
    dark[dark_from : dark_from + hours * 4] = True
    client = Client()
    deliver(
        client,
        cameras["north"],
        start=start,
        counter="north-stopline",
        volume=north.volume,
        dark=np.zeros_like(dark),
    )
    deliver(
        client,
        cameras["south"],
        start=start,
        counter="south-stopline",
        volume=south.volume,
        dark=dark,
    )

    call_command(
        "analytics_run",
        "--region",
        EU,
        "--since",
        iso(start),
        "--until",
        iso(at(weeks * WINDOWS_PER_WEEK, start)),
        "--json",
    )

    found = [
        (a.kind, a.counter, a.device_id, a.start, a.end)
        for a in Anomaly.objects.in_region(EU).filter(site_id=site.pk)
    ]
    assert found == [
        ("outage", "", "dev-harbour-south", at(dark_from, start), at(dark_from + hours * 4, start))
    ]
    outage = Anomaly.objects.in_region(EU).get()
    # The traffic it missed is the south camera's, not half the site's.
    missed = south.rate[dark_from : dark_from + hours * 4].sum()
    assert 0.8 * missed < outage.expected < 1.2 * missed


# --- one run over a backfill, or a run a day: the same anomalies -----------------------------


@pytest.fixture
def six_weeks():
    rng = np.random.default_rng(3)
    traffic = generate(rng, weeks=6)
    inject_drop(rng, traffic, window(4, TUE, 8.0), 6, depth=0.7)
    inject_spike(rng, traffic, window(5, THU, 17.0), 4, extra=1.5)
    inject_drop(rng, traffic, window(5, FRI, 11.0), 8, depth=0.9)  # across two daily runs
    inject_outage(traffic, window(5, WED, 10.0), 8)
    return traffic


def test_a_backfill_in_one_run_finds_what_daily_runs_find(eu_west, six_weeks):
    whole, daily = (
        site_services.site_add(slug=slug, region=EU, name=slug)
        for slug in ("backfilled", "day-by-day")
    )
    for site in (whole, daily):
        store_quarter_series(
            region=EU,
            site_id=site.pk,
            start=MONDAY,
            volumes=six_weeks.volume,
            coverage=six_weeks.coverage,
        )
    end = at(6 * WINDOWS_PER_WEEK)

    report = anomalies.anomalies_detect_site(region=EU, site_id=whole.pk, since=MONDAY, until=end)
    day = MONDAY
    while day < end:  # noon to noon, so the Friday drop straddles two runs
        anomalies.anomalies_detect_site(
            region=EU,
            site_id=daily.pk,
            since=day,
            until=min(day + timedelta(hours=12), end)
            if day == MONDAY
            else min(day + timedelta(days=1), end),
        )
        day = day + timedelta(hours=12) if day == MONDAY else day + timedelta(days=1)

    kinds = sorted(a[0] for a in recorded(whole.pk))
    assert kinds == ["drop", "drop", "outage", "spike"]
    assert recorded(whole.pk) == recorded(daily.pk)
    # Three weeks teach the first baseline; every window after them is judged.
    assert report.skipped["history"] == 3 * WINDOWS_PER_WEEK
    assert report.judged == 3 * WINDOWS_PER_WEEK - 8  # less the outage's windows
    assert report.skipped["unwatched"] == 8


# --- late data --------------------------------------------------------------------------------


def test_late_data_trims_an_outage_to_the_windows_still_missing_and_is_judged(eu_site):
    rng = np.random.default_rng(4)
    traffic = generate(rng, weeks=5)
    gap = window(4, FRI, 14.0)
    inject_outage(traffic, gap, 8)
    long_ago = timezone.now() - timedelta(days=10)
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=MONDAY,
        volumes=traffic.volume,
        coverage=traffic.coverage,
        computed_at=long_ago,
    )
    anomalies.anomalies_detect_site(
        region=EU, site_id=eu_site.pk, since=at(gap - 4), until=at(gap + 12)
    )
    outage = Anomaly.objects.in_region(EU).get(kind="outage")
    assert (outage.start, outage.end) == (at(gap), at(gap + 8))

    # The spool delivers the last five windows a week late: the road was closed then.
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=at(gap + 3),
        volumes=np.round(traffic.rate[gap + 3 : gap + 8] * 0.05),
        coverage=[1.0] * 5,
    )
    anomalies.anomalies_detect_region(region=EU)  # the scheduled run: only the last day...

    outage.refresh_from_db()
    assert (outage.state, outage.start, outage.end) == ("open", at(gap), at(gap + 3))
    assert outage.expected < 0.5 * traffic.rate[gap : gap + 8].sum()
    # ...and the late hours, judged for traffic like any other.
    drop = Anomaly.objects.in_region(EU).get(kind="drop")
    assert (drop.start, drop.end) == (at(gap + 3), at(gap + 8))


def test_late_data_withdraws_an_outage_it_fills_entirely(eu_site):
    rng = np.random.default_rng(4)
    traffic = generate(rng, weeks=5)
    gap = window(4, FRI, 14.0)
    delivered = traffic.volume[gap : gap + 8].copy()
    inject_outage(traffic, gap, 8)
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=MONDAY,
        volumes=traffic.volume,
        coverage=traffic.coverage,
    )
    anomalies.anomalies_detect_region(region=EU, since=at(gap - 4), until=at(gap + 12))
    store_quarter_series(
        region=EU, site_id=eu_site.pk, start=at(gap), volumes=delivered, coverage=[1.0] * 8
    )
    anomalies.anomalies_detect_region(region=EU, since=at(gap - 4), until=at(gap + 12))
    withdrawn = Anomaly.objects.in_region(EU).get()
    assert (withdrawn.kind, withdrawn.state, withdrawn.resolved_by) == (
        "outage",
        "resolved",
        "system:late-data",
    )


# --- public holidays --------------------------------------------------------------------------


@pytest.mark.parametrize(("country", "expected_kinds"), [("US", set()), ("", {"drop"})])
def test_thanksgiving_is_judged_as_a_sunday_where_the_region_keeps_us_holidays(
    us_site, country, expected_kinds
):
    Region.objects.filter(code="us-east").update(country=country, subdivision="")
    rng = np.random.default_rng(8)
    traffic = generate(rng, weeks=5)
    thanksgiving = window(4, THU, 0.0)  # Thursday 26 November 2026
    sunday = window(3, 6, 0.0)
    traffic.volume[thanksgiving : thanksgiving + WINDOWS_PER_DAY] = rng.poisson(
        traffic.rate[sunday : sunday + WINDOWS_PER_DAY]
    )
    store_quarter_series(
        region="us-east",
        site_id=us_site.pk,
        start=MONDAY,
        volumes=traffic.volume,
        coverage=traffic.coverage,
        counter="south-stopline",
    )
    anomalies.anomalies_detect_site(
        region="us-east", site_id=us_site.pk, since=at(thanksgiving), until=at(thanksgiving + 96)
    )
    kinds = {a.kind for a in Anomaly.objects.in_region("us-east").all()}
    assert kinds == expected_kinds


def test_the_command_says_what_it_judged_and_why_it_skipped_the_rest(eu_site, capsys):
    rng = np.random.default_rng(2)
    traffic = generate(rng, weeks=5)
    inject_outage(traffic, window(4, WED, 10.0), 4)
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=MONDAY,
        volumes=traffic.volume,
        coverage=traffic.coverage,
    )
    call_command(
        "analytics_run",
        "--region",
        EU,
        "--since",
        iso(at(window(4, WED, 0.0))),
        "--until",
        iso(at(window(4, THU, 0.0))),
        "--json",
    )
    report = json.loads(capsys.readouterr().out)
    assert report["windows_judged"] == WINDOWS_PER_DAY - 4
    assert report["windows_skipped"] == {"history": 0, "unwatched": 4}
    assert report["anomalies_by_kind"]["outage"] == 1
