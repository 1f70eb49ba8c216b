"""A site's rollups over the API: every window carries its coverage, so a half-measured hour
reads as partial and an unmeasured one as no data, never as low traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from junction.analytics import rollups
from tests.platform.analytics.factories import store_buckets
from tests.platform.staff import staff

EU = "eu-west"
T0 = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
WINDOW = {"start": "2026-11-25T06:00:00Z", "end": "2026-11-25T10:00:00Z"}
PER_MINUTE = {("north-stopline", "in", "car"): 2, ("N>E", None, "bicycle"): 1}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def morning(eu_site):
    """06:xx measured in full, 07:xx for its first half only, 08:xx an announced outage
    (uptime 0), 09:xx nothing delivered at all."""
    store_buckets(region=EU, site_id=eu_site.pk, start=T0, minutes=60, counts=PER_MINUTE)
    store_buckets(
        region=EU, site_id=eu_site.pk, start=T0 + timedelta(hours=1), minutes=30, counts=PER_MINUTE
    )
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=T0 + timedelta(hours=2),
        minutes=60,
        counts=PER_MINUTE,
        uptime=0.0,
    )
    rollups.rollups_recompute(region=EU, site_id=eu_site.pk, start=T0, end=T0 + timedelta(hours=4))
    return eu_site


def get(api, user, site, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:site-rollups", kwargs={"slug": site.slug}), params)


def windows(answer) -> list[tuple]:
    return [
        (w["start"][11:16], w["status"], w["coverage"], w["count"])
        for w in answer.json()["results"]
    ]


def test_it_gives_every_hour_its_coverage_so_a_partial_hour_is_never_silently_low(
    api, eu_analyst, morning
):
    answer = get(api, eu_analyst, morning, **WINDOW)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["site"], body["region"], body["period"], body["count"]) == (
        "main-and-5th",
        EU,
        "1h",
        4,
    )
    assert windows(answer) == [
        ("06:00", "complete", 1.0, 180),
        ("07:00", "partial", 0.5, 90),
        ("08:00", "no_data", 0.0, None),  # camera dark: not zero traffic
        ("09:00", "no_data", None, None),  # nothing delivered at all
    ]
    assert {
        (r["counter"], r["direction"], r["road_user"], r["count"])
        for r in body["results"][0]["rows"]
    } == {("north-stopline", "in", "car", 120), ("N>E", None, "bicycle", 60)}
    assert not any(w["pending"] for w in body["results"])


def test_it_sums_quarter_hours_and_filters_by_counter_and_road_user(api, eu_analyst, morning):
    answer = get(
        api,
        eu_analyst,
        morning,
        period="15m",
        counter="north-stopline",
        road_user="car",
        start="2026-11-25T07:00:00Z",
        end="2026-11-25T08:00:00Z",
    )
    assert windows(answer) == [
        ("07:00", "complete", 1.0, 30),
        ("07:15", "complete", 1.0, 30),
        ("07:30", "no_data", None, None),
        ("07:45", "no_data", None, None),
    ]
    assert {r["counter"] for w in answer.json()["results"] for r in w["rows"]} == {"north-stopline"}


def test_it_cuts_days_in_the_sites_local_calendar(api, eu_analyst, morning):
    answer = get(
        api,
        eu_analyst,
        morning,
        period="1d",
        start="2026-11-25T00:00:00Z",
        end="2026-11-26T00:00:00Z",
    )
    [day] = answer.json()["results"]
    assert (day["start"], day["end"]) == ("2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z")
    assert day["status"] == "partial" and day["count"] == 270
    assert day["coverage"] == pytest.approx(1.5 / 24)


def test_it_marks_a_window_waiting_for_its_recompute_as_pending(api, eu_analyst, morning):
    rollups.dirty_windows_mark(
        region=EU, site_id=morning.pk, starts=[T0 + timedelta(hours=1, minutes=40)]
    )
    answer = get(api, eu_analyst, morning, **WINDOW)
    assert [w["pending"] for w in answer.json()["results"]] == [False, True, False, False]


def test_it_pages_through_the_windows(api, eu_analyst, morning):
    first = get(api, eu_analyst, morning, period="15m", page_size=5, **WINDOW).json()
    assert first["count"] == 16 and len(first["results"]) == 5
    assert first["previous"] is None and "page=2" in first["next"]
    last = get(api, eu_analyst, morning, period="15m", page_size=5, page=4, **WINDOW).json()
    assert [w["start"] for w in last["results"]] == ["2026-11-25T09:45:00Z"]
    assert last["next"] is None


def test_it_widens_the_start_to_the_start_of_its_window(api, eu_analyst, morning):
    answer = get(api, eu_analyst, morning, start="2026-11-25T06:40:00Z", end="2026-11-25T07:10:00Z")
    assert answer.json()["start"] == "2026-11-25T06:00:00Z"
    assert windows(answer) == [("06:00", "complete", 1.0, 180), ("07:00", "partial", 0.5, 90)]


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"period": "5m"}, "period", "not a valid choice"),
        ({"counter": "west-stopline"}, "counter", "has no counter 'west-stopline'"),
        ({"road_user": "tram"}, "road_user", "not a valid choice"),
        (
            {"start": "2026-11-25T08:00:00Z", "end": "2026-11-25T06:00:00Z"},
            "start",
            "must be before end",
        ),
        (
            {"period": "15m", "start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"},
            "end",
            "at most 31 days",
        ),
    ],
    ids=["unknown period", "unknown counter", "unknown class", "reversed", "too long"],
)
def test_it_refuses_a_bad_query_naming_the_field(api, eu_analyst, eu_site, params, field, message):
    answer = get(api, eu_analyst, eu_site, **params)
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])


def test_it_refuses_rollups_of_another_regions_site_with_the_reason(api, us_analyst, morning):
    answer = get(api, us_analyst, morning, **WINDOW)
    assert answer.status_code == 403
    assert "not 'eu-west'" in answer.json()["detail"]


def test_it_sends_a_pinned_node_reader_to_the_sites_own_region(api, us_east, us_site, eu_west):
    both = staff("both", eu_west="analyst", us_east="analyst")
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        answer = get(api, both, us_site, **WINDOW)
    assert answer.status_code == 421
    assert answer.json()["region"] == "us-east"


def test_it_reads_a_page_in_a_fixed_number_of_queries(
    api, eu_analyst, morning, django_assert_num_queries
):
    api.force_authenticate(eu_analyst)
    url = reverse("api:site-rollups", kwargs={"slug": morning.slug})
    # control: site, memberships, counters (validating the counter); region: rollups, the
    # cameras that count the counter, their coverage, pending marks
    with (
        django_assert_num_queries(4, using="region_eu-west"),
        django_assert_num_queries(3, using="default"),
    ):
        answer = api.get(url, {"period": "15m", "counter": "N>E", **WINDOW})
    assert answer.json()["count"] == 16


def test_a_counter_reads_the_coverage_of_the_camera_that_counts_it(api, eu_analyst, eu_site):
    """Two cameras, the one counting N>E dark for 07:xx: the site is half measured, the
    north stopline fully measured, N>E not measured at all."""
    north, turns = {("north-stopline", "in", "car"): 2}, {("N>E", None, "bicycle"): 1}
    store_buckets(
        region=EU, site_id=eu_site.pk, start=T0, minutes=120, counts=north, device_id="cam-north"
    )
    store_buckets(
        region=EU, site_id=eu_site.pk, start=T0, minutes=60, counts=turns, device_id="cam-turns"
    )
    store_buckets(
        region=EU,
        site_id=eu_site.pk,
        start=T0 + timedelta(hours=1),
        minutes=60,
        counts=turns,
        device_id="cam-turns",
        uptime=0.0,
    )
    rollups.rollups_recompute(region=EU, site_id=eu_site.pk, start=T0, end=T0 + timedelta(hours=2))
    span = {"start": "2026-11-25T06:00:00Z", "end": "2026-11-25T08:00:00Z"}
    assert windows(get(api, eu_analyst, eu_site, **span)) == [
        ("06:00", "complete", 1.0, 180),
        ("07:00", "partial", 0.5, 120),
    ]
    assert windows(get(api, eu_analyst, eu_site, counter="north-stopline", **span)) == [
        ("06:00", "complete", 1.0, 120),
        ("07:00", "complete", 1.0, 120),
    ]
    assert windows(get(api, eu_analyst, eu_site, counter="N>E", **span)) == [
        ("06:00", "complete", 1.0, 60),
        ("07:00", "no_data", 0.0, None),
    ]


def test_a_counter_s_coverage_leaves_out_a_camera_gone_from_the_site(api, eu_analyst, eu_site):
    """Two cameras counted the north stopline at 06:xx; at 07:xx one of them is no longer a
    camera of the site (never registered here, as if revoked) and sent nothing. The stopline
    was still watched in full by the other: 07:xx is complete, as its rollup says."""
    north = {("north-stopline", "in", "car"): 2}
    store_buckets(
        region=EU, site_id=eu_site.pk, start=T0, minutes=120, counts=north, device_id="cam-stays"
    )
    store_buckets(
        region=EU, site_id=eu_site.pk, start=T0, minutes=60, counts=north, device_id="cam-gone"
    )
    rollups.rollups_recompute(region=EU, site_id=eu_site.pk, start=T0, end=T0 + timedelta(hours=2))
    span = {"start": "2026-11-25T06:00:00Z", "end": "2026-11-25T08:00:00Z"}
    assert windows(get(api, eu_analyst, eu_site, counter="north-stopline", **span)) == [
        ("06:00", "complete", 1.0, 240),
        ("07:00", "complete", 1.0, 120),
    ]
