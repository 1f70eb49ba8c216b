"""Count totals of a site: read from the site's region database, for that region's staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from junction.residency.models import AuditEvent
from tests.platform.staff import counts_add

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
WINDOW = {"start": "2026-11-27T06:00:00Z", "end": "2026-11-27T08:00:00Z"}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def eu_counts(eu_site):
    counts_add(
        eu_site,
        T0,
        [
            ("north-stopline", "in", "car", 12),
            ("north-stopline", "out", "car", 3),
            ("N>E", None, "bicycle", 1),
        ],
    )
    counts_add(
        eu_site,
        T0 + timedelta(minutes=1),
        [("north-stopline", "in", "car", 5), ("north-stopline", "in", "bus", 1)],
    )
    counts_add(eu_site, T0 + timedelta(hours=1), [("north-stopline", "in", "car", 7)])
    counts_add(eu_site, T0 + timedelta(hours=3), [("north-stopline", "in", "car", 99)])
    return eu_site


def counts(api, user, site, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:site-counts", kwargs={"slug": site.slug}), params)


def totals(answer) -> list[tuple]:
    return [
        (r["start"], r["counter"], r["direction"], r["road_user"], r["count"])
        for r in answer.json()["results"]
    ]


def test_it_returns_bucket_totals_in_the_range(api, eu_analyst, eu_counts):
    answer = counts(api, eu_analyst, eu_counts, **WINDOW)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["site"], body["region"], body["interval"]) == ("main-and-5th", "eu-west", "bucket")
    assert sorted(totals(answer), key=str) == sorted(
        [
            ("2026-11-27T06:00:00Z", "N>E", None, "bicycle", 1),
            ("2026-11-27T06:00:00Z", "north-stopline", "in", "car", 12),
            ("2026-11-27T06:00:00Z", "north-stopline", "out", "car", 3),
            ("2026-11-27T06:01:00Z", "north-stopline", "in", "bus", 1),
            ("2026-11-27T06:01:00Z", "north-stopline", "in", "car", 5),
            ("2026-11-27T07:00:00Z", "north-stopline", "in", "car", 7),
        ],
        key=str,
    )


def test_it_sums_per_hour_and_filters_by_counter_and_road_user(api, eu_analyst, eu_counts):
    answer = counts(
        api,
        eu_analyst,
        eu_counts,
        interval="hour",
        counter="north-stopline",
        road_user="car",
        **WINDOW,
    )
    assert totals(answer) == [
        ("2026-11-27T06:00:00Z", "north-stopline", "in", "car", 17),
        ("2026-11-27T06:00:00Z", "north-stopline", "out", "car", 3),
        ("2026-11-27T07:00:00Z", "north-stopline", "in", "car", 7),
    ]


def test_it_cuts_days_in_the_sites_time_zone(api, eu_analyst, eu_site):
    eu_site.timezone = "America/New_York"  # 06:00 UTC is 01:00 local: the local 27th
    eu_site.save()
    counts_add(eu_site, datetime(2026, 11, 27, 4, 0, tzinfo=UTC), [("N>E", None, "car", 2)])
    counts_add(eu_site, datetime(2026, 11, 27, 6, 0, tzinfo=UTC), [("N>E", None, "car", 3)])
    answer = counts(
        api,
        eu_analyst,
        eu_site,
        interval="day",
        start="2026-11-26T00:00:00Z",
        end="2026-11-28T00:00:00Z",
    )
    assert [(r["start"][:10], r["count"]) for r in answer.json()["results"]] == [
        ("2026-11-26", 2),
        ("2026-11-27", 3),
    ]


def test_it_defaults_to_the_last_24_hours(api, eu_analyst, eu_site):
    from django.utils import timezone

    now = timezone.now().replace(second=0, microsecond=0)
    counts_add(eu_site, now - timedelta(hours=2), [("N>E", None, "car", 4)])
    counts_add(eu_site, now - timedelta(hours=30), [("N>E", None, "car", 40)])
    answer = counts(api, eu_analyst, eu_site)
    assert [r["count"] for r in answer.json()["results"]] == [4]


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"counter": "west-stopline"}, "counter", "has no counter 'west-stopline'"),
        ({"road_user": "tram"}, "road_user", "not a valid choice"),
        ({"interval": "week"}, "interval", "not a valid choice"),
        ({"start": "yesterday"}, "start", "wrong format"),
        (
            {"start": "2026-11-27T08:00:00Z", "end": "2026-11-27T06:00:00Z"},
            "start",
            "must be before end",
        ),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-03-01T00:00:00Z"}, "end", "at most 7 days"),
    ],
    ids=[
        "unknown counter",
        "unknown class",
        "unknown interval",
        "bad date",
        "reversed",
        "too long",
    ],
)
def test_it_refuses_a_bad_query_naming_the_field(api, eu_analyst, eu_site, params, field, message):
    answer = counts(api, eu_analyst, eu_site, **params)
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])


def test_it_refuses_counts_of_another_regions_site_with_the_reason(api, eu_analyst, us_site):
    answer = counts(api, eu_analyst, us_site, **WINDOW)
    assert answer.status_code == 403
    assert "not 'us-east'" in answer.json()["detail"]
    # Nothing was read from us-east, so nothing crossed and there is nothing to audit.
    assert AuditEvent.objects.in_region("us-east").count() == 0


def test_it_reads_only_the_sites_own_region_database(api, admin_user, eu_counts, us_site):
    counts_add(us_site, T0, [("south-stopline", "in", "car", 50)])
    answer = counts(api, admin_user, eu_counts, interval="hour", **WINDOW)
    assert {r["counter"] for r in answer.json()["results"]} == {"north-stopline", "N>E"}
    answer = counts(api, admin_user, us_site, interval="hour", **WINDOW)
    assert totals(answer) == [("2026-11-27T06:00:00Z", "south-stopline", "in", "car", 50)]


def test_it_sends_a_pinned_node_reader_to_the_sites_own_region(api, us_east, us_site, eu_west):
    from tests.platform.staff import staff

    both = staff("both", eu_west="analyst", us_east="analyst")
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        answer = counts(api, both, us_site, **WINDOW)
    assert answer.status_code == 421
    assert answer.json() == {
        "error": "misdirected_region",
        "region": "us-east",
        "endpoint": "https://us-east.junction.example",
        "detail": "this node does not serve region 'us-east'; send it to "
        "https://us-east.junction.example",
    }


def test_it_gives_every_hour_of_the_range_its_coverage(api, eu_analyst, eu_site):
    # 06:xx: the first half delivered; 07:xx: an announced outage; nothing after 08:00.
    for minute in range(30):
        counts_add(eu_site, T0 + timedelta(minutes=minute), [("N>E", None, "car", 1)])
    for minute in range(60):
        counts_add(eu_site, T0 + timedelta(hours=1, minutes=minute), [], uptime=0.0)
    answer = counts(
        api,
        eu_analyst,
        eu_site,
        interval="hour",
        start="2026-11-27T06:00:00Z",
        end="2026-11-27T09:00:00Z",
    )
    assert [(c["start"][11:16], c["status"], c["coverage"]) for c in answer.json()["coverage"]] == [
        ("06:00", "partial", 0.5),
        ("07:00", "no_data", 0.0),
        ("08:00", "no_data", 0.0),
    ]
    assert totals(answer) == [("2026-11-27T06:00:00Z", "N>E", None, "car", 30)]


def test_it_cuts_coverage_on_the_sites_clock_like_the_counts(api, eu_analyst, eu_site):
    # India is UTC+05:30: a local hour runs from :30 to :30 UTC, for counts and coverage alike.
    eu_site.timezone = "Asia/Kolkata"
    eu_site.save()
    for minute in range(60):
        counts_add(eu_site, T0 + timedelta(minutes=30 + minute), [("N>E", None, "car", 1)])
    answer = counts(
        api,
        eu_analyst,
        eu_site,
        interval="hour",
        start="2026-11-27T06:30:00Z",
        end="2026-11-27T08:30:00Z",
    )
    assert totals(answer) == [("2026-11-27T06:30:00Z", "N>E", None, "car", 60)]
    assert [(c["start"], c["status"], c["coverage"]) for c in answer.json()["coverage"]] == [
        ("2026-11-27T06:30:00Z", "complete", 1.0),
        ("2026-11-27T07:30:00Z", "no_data", 0.0),
    ]


def test_it_counts_coverage_against_every_active_device_of_the_site(api, eu_analyst, eu_device):
    from junction.sites.services import device_add

    device_add(device_id="dev-main-5th-s", site=eu_device.site.slug)
    for minute in range(60):
        counts_add(
            eu_device.site, T0 + timedelta(minutes=minute), [], device_id=eu_device.device_id
        )
    answer = counts(
        api, eu_analyst, eu_device.site, start="2026-11-27T06:00:00Z", end="2026-11-27T07:00:00Z"
    )
    # One camera of two reported the whole hour: half the site was measured.
    assert [c["coverage"] for c in answer.json()["coverage"]] == [0.5]


def test_it_gives_days_their_coverage_in_the_sites_calendar(api, eu_analyst, eu_site):
    counts_add(eu_site, T0, [("N>E", None, "car", 1)], seconds=3600)
    answer = counts(
        api,
        eu_analyst,
        eu_site,
        interval="day",
        start="2026-11-27T00:00:00Z",
        end="2026-11-29T00:00:00Z",
    )
    assert [
        (c["start"][:10], c["status"], round(c["coverage"], 4)) for c in answer.json()["coverage"]
    ] == [("2026-11-27", "partial", round(1 / 24, 4)), ("2026-11-28", "no_data", 0.0)]


def test_a_series_answer_carries_an_etag_and_an_unchanged_one_is_not_sent_again(
    api, eu_analyst, eu_site
):
    api.force_authenticate(eu_analyst)
    url = f"/api/v1/sites/{eu_site.slug}/counts"
    params = {"start": "2026-11-24T00:00:00Z", "end": "2026-11-25T00:00:00Z"}
    first = api.get(url, params)
    assert first.status_code == 200 and first["ETag"]
    again = api.get(url, params, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and not again.content
    other = api.get(
        url, {**params, "end": "2026-11-26T00:00:00Z"}, HTTP_IF_NONE_MATCH=first["ETag"]
    )
    assert other.status_code == 200 and other["ETag"] != first["ETag"]
