"""A site's day of engineering measures over the API: values worked out by hand from a small
fixture, with the peak hour taken over fully measured quarters only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.platform.analytics.factories import (
    MORNING,
    MORNING_QUARTERS,
    store_measured_morning,
)

EU = "eu-west"


def build(site, uptime=1.0):
    return store_measured_morning(region=EU, site=site, uptime=uptime)


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def morning(eu_site):
    return build(eu_site)


def get(api, user, site, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:site-measures", kwargs={"slug": site.slug}), params)


def test_it_answers_the_measures_worked_out_by_hand_from_the_fixture(api, eu_analyst, morning):
    answer = get(api, eu_analyst, morning, date="2026-11-24", counter="north-stopline")
    assert answer.status_code == 200
    body = answer.json()
    # MORNING_QUARTERS' hourly sums: 07:15-08:15 is the peak (see factories.py).
    assert body["peak_hour"] == {
        "start": "2026-11-24T07:15:00Z",
        "end": "2026-11-24T08:15:00Z",
        "volume": 560,
        "busiest_quarter": 160,
        "phf": 0.875,
    }
    # Each measured quarter: its through volume, and N>E's 3 cars and 1 bicycle.
    assert {q["start"]: q["movements"] for q in body["tmc"] if q["movements"]} == {
        f"2026-11-24T{7 + i // 4:02d}:{15 * (i % 4):02d}:00Z": {
            "north-stopline:in": {"car": volume},
            "N>E": {"car": 3, "bicycle": 1},
        }
        for i, volume in enumerate(MORNING_QUARTERS)
    }
    # 07:00: two histograms [0, 1, 4, 6, 1, ...] = 24 cars, the 85th at 20.4 of them; 10 are
    # under 30 km/h and 12 in 30-40, so v85 = 30 + 10 * (20.4 - 10) / 12 = 38.67.
    # 08:00: [0, 0, 0, 2, 2, ...] = 4 cars, the 85th at 3.4: 40 + 10 * (3.4 - 2) / 2 = 47.0.
    assert body["v85"] == [
        {"hour": "2026-11-24T07:00:00Z", "v85_kmh": 38.67},
        {"hour": "2026-11-24T08:00:00Z", "v85_kmh": 47.0},
    ]


def test_it_lists_every_quarter_of_the_day_with_its_coverage(api, eu_analyst, morning):
    body = get(api, eu_analyst, morning, date="2026-11-24").json()
    assert (body["date"], body["start"], body["end"]) == (
        "2026-11-24",
        "2026-11-24T00:00:00Z",
        "2026-11-25T00:00:00Z",
    )
    assert len(body["tmc"]) == 96
    statuses = [q["status"] for q in body["tmc"]]
    assert statuses[28:36] == ["complete"] * 8  # 07:00-09:00
    assert set(statuses[:28] + statuses[36:]) == {"no_data"}
    assert body["status"] == "partial" and body["coverage"] == pytest.approx(2 / 24)


def test_it_takes_the_peak_hour_over_every_counter_by_default(api, eu_analyst, morning):
    body = get(api, eu_analyst, morning, date="2026-11-24").json()
    # N>E adds 4 road users per quarter: 576 in 07:15-08:15, busiest quarter 164.
    assert body["counters"] is None
    assert body["peak_hour"]["volume"] == 576 and body["peak_hour"]["phf"] == 0.878


def test_it_leaves_a_partly_measured_quarter_out_of_the_peak_hour(api, eu_analyst, eu_site):
    # The camera is dark from 07:37 to 07:44: 07:30-07:45 is measured for 7 of 15 minutes.
    dark = (MORNING + timedelta(minutes=37), MORNING + timedelta(minutes=45))
    build(eu_site, uptime=lambda moment: 0.0 if dark[0] <= moment < dark[1] else 1.0)
    body = get(api, eu_analyst, eu_site, date="2026-11-24", counter="north-stopline").json()
    assert body["tmc"][30]["status"] == "partial"
    assert body["peak_hour"] == {
        "start": "2026-11-24T07:45:00Z",
        "end": "2026-11-24T08:45:00Z",
        "volume": 490,
        "busiest_quarter": 160,
        "phf": 0.766,
    }


def test_it_answers_a_day_without_data_with_no_peak_hour(api, eu_analyst, morning):
    body = get(api, eu_analyst, morning, date="2026-11-20").json()
    assert body["peak_hour"] is None and body["status"] == "no_data"
    assert body["v85"] == [] and not any(q["movements"] for q in body["tmc"])


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"date": "24/11/2026"}, "date", "wrong format"),
        ({"counter": "west-stopline"}, "counter", "has no counter 'west-stopline'"),
    ],
)
def test_it_refuses_a_bad_query_naming_the_field(api, eu_analyst, eu_site, params, field, message):
    answer = get(api, eu_analyst, eu_site, **params)
    assert answer.status_code == 400
    assert message in str(answer.json()[field])


def test_it_refuses_measures_of_another_regions_site_with_the_reason(api, us_analyst, morning):
    answer = get(api, us_analyst, morning, date="2026-11-24")
    assert answer.status_code == 403
    assert "not 'eu-west'" in answer.json()["detail"]
