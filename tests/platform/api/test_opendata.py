"""GET /api/v1/regions/{code}/opendata: the region's own staff get the audited export; anyone
else is refused with the reason, and a node pinned elsewhere sends the reader on (421)."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from junction.residency.models import AuditEvent
from tests.platform.opendata.factories import store_days
from tests.platform.staff import staff

EU = "eu-west"
RANGE = {"start": "2026-11-23", "end": "2026-11-26"}
CAR, BUS = ("north-stopline", "in", "car"), ("north-stopline", "in", "bus")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def days(eu_site):
    store_days(
        eu_site, date(2026, 11, 23), {CAR: [40, 60, 70], BUS: [3, 9, 11]}, coverage=[1.0, 1.0, 0.5]
    )
    return eu_site


def opendata(api, user, code=EU, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:region-opendata", kwargs={"code": code}), params or RANGE)


def exports(region: str) -> list[tuple]:
    return [
        (e.actor, e.detail["start"], e.detail["end"], e.detail["k"])
        for e in AuditEvent.objects.in_region(region).filter(action="export")
    ]


def test_it_gives_region_staff_the_suppressed_export_and_audits_it(api, eu_analyst, days):
    answer = opendata(api, eu_analyst, site=days.slug, **RANGE)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["schema"], body["region"], body["period"], body["k"], body["noise"]) == (
        "junction.opendata/v1",
        EU,
        "day",
        5,
        None,
    )
    (site,) = body["sites"]
    day1 = site["windows"][0]
    assert {(c["road_user"], c["count"], c["withheld"]) for c in day1["cells"]} == {
        ("bus", None, True),
        ("car", None, True),
    }  # withheld as null with a flag, never 0
    assert (day1["total"], day1["complete"]) == (0, False)
    assert [(w["status"], w["coverage"]) for w in site["windows"]] == [
        ("complete", 1.0),
        ("complete", 1.0),
        ("partial", 0.5),
    ]
    assert exports(EU) == [("eu-analyst", "2026-11-23", "2026-11-26", 5)]


def test_it_says_when_noise_was_added_and_with_which_epsilon(api, eu_analyst, days, eu_west):
    eu_west.dp_epsilon = 2.0
    eu_west.save()
    body = opendata(api, eu_analyst, **RANGE).json()
    assert body["noise"] == {"mechanism": "laplace", "epsilon": 2.0, "scale": 0.5}


def test_it_refuses_staff_of_another_region_with_the_reason(api, us_analyst, days, us_east):
    answer = opendata(api, us_analyst, **RANGE)
    assert answer.status_code == 403
    assert "not 'eu-west'" in answer.json()["detail"]
    assert exports(EU) == []


def test_it_refuses_someone_of_no_region(api, outsider, days):
    assert opendata(api, outsider, **RANGE).status_code == 403


def test_it_answers_404_for_an_unknown_region(api, admin_user, days):
    assert opendata(api, admin_user, code="mars", **RANGE).status_code == 404


def test_it_sends_a_pinned_node_reader_to_the_regions_own_endpoint(api, us_east, us_site, eu_west):
    both = staff("both", eu_west="analyst", us_east="analyst")
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        answer = opendata(api, both, code="us-east", **RANGE)
    assert answer.status_code == 421
    assert answer.json()["endpoint"] == "https://us-east.junction.example"


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"start": "2026-11-23"}, "end", "required"),
        ({"start": "2026-11-26", "end": "2026-11-23"}, "start", "must be before end"),
        ({"start": "2026-01-01", "end": "2026-05-01", "period": "hour"}, "end", "at most 93 days"),
        ({**RANGE, "period": "week"}, "period", "not a valid choice"),
        ({**RANGE, "site": "broadway-and-king"}, "site", "has no site 'broadway-and-king'"),
    ],
    ids=["no end", "reversed", "too long", "bad period", "site of another region"],
)
def test_it_refuses_a_bad_query(api, eu_analyst, days, us_site, params, field, message):
    answer = opendata(api, eu_analyst, **params)
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])
    assert exports(EU) == []


def test_it_is_documented_in_the_openapi_schema(api, eu_analyst):
    api.force_authenticate(eu_analyst)
    paths = api.get("/api/schema/", {"format": "json"}).json()["paths"]
    operation = paths["/api/v1/regions/{code}/opendata"]["get"]
    assert {"start", "end", "period", "site"} <= {p["name"] for p in operation["parameters"]}
