"""Query strings the API cannot answer get 400 with the reason, never a 500: dates at the ends
of the calendar, NUL bytes, and any other value the databases cannot take."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient


@pytest.fixture
def api(eu_analyst):
    client = APIClient()
    client.force_authenticate(eu_analyst)
    return client


def site_url(name: str, site) -> str:
    return reverse(f"api:site-{name}", kwargs={"slug": site.slug})


@pytest.mark.parametrize("endpoint", ["counts", "rollups"])
@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-12-01T00:00:00Z", "end": "0001-01-01T00:00:00Z"},
        {"end": "0001-01-01T00:00:00Z"},
        {"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T12:00:00Z"},
        {"start": "9999-12-31T00:00:00Z", "end": "9999-12-31T23:59:59Z"},
        {"start": "9999-12-31T23:59:59+14:00", "end": "9999-12-31T23:59:59Z"},
        {"start": "0001-01-01T00:00:00-12:00", "end": "0001-01-01T06:00:00-12:00"},
    ],
    ids=[
        "end in year 1",
        "only an end in year 1",
        "a range in year 1",
        "a range in year 9999",
        "a start past the end",
        "a range west of year 1",
    ],
)
def test_it_answers_400_for_a_range_at_the_ends_of_the_calendar(api, eu_site, endpoint, query):
    answer = api.get(site_url(endpoint, eu_site), query)
    assert answer.status_code == 400, answer.content
    assert set(answer.json()) & {"start", "end"}


@pytest.mark.parametrize(
    "endpoint, query, field",
    [
        ("counts", {"counter": "north\x00"}, "counter"),
        ("rollups", {"counter": "north\x00"}, "counter"),
        ("measures", {"counter": "north\x00"}, "counter"),
        ("counts", {"start": "\x00"}, "start"),
        ("measures", {"date": "2026-11-27\x00"}, "date"),
        ("counts", {"start": "9999-12-31T23:00:00-12:00"}, "start"),
        ("counts", {"start": "1969-12-31T23:59:59Z", "end": "1970-01-01T01:00:00Z"}, "start"),
        ("daily-totals", {"start": "0001-01-01"}, "start"),
        ("daily-totals", {"end": "0001-01-01"}, "end"),
        ("daily-totals", {"start": "9999-12-31", "end": "9999-12-31"}, "start"),
        ("measures", {"date": "0001-01-01"}, "date"),
        ("measures", {"date": "9999-12-31"}, "date"),
    ],
)
def test_it_answers_400_naming_a_query_parameter_it_cannot_use(
    api, eu_site, endpoint, query, field
):
    answer = api.get(site_url(endpoint, eu_site), query)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


@pytest.mark.parametrize(
    "query, field",
    [
        ({"site": "\x00"}, "site"),
        ({"site": "main\x00-and-5th"}, "site"),
        ({"state": "open\x00"}, "state"),
        ({"kind": "\x00"}, "kind"),
        ({"page": "\x00"}, "page"),
        ({"page_size": "1\x00"}, "page_size"),
    ],
)
def test_it_answers_400_for_a_nul_in_an_anomaly_filter(api, eu_site, query, field):
    answer = api.get(reverse("api:region-anomalies", kwargs={"code": "eu-west"}), query)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


@pytest.mark.parametrize(
    "query, field",
    [
        ({"start": "0001-01-01", "end": "0001-01-02"}, "start"),
        ({"start": "9999-12-30", "end": "9999-12-31"}, "start"),
        ({"start": "2026-11-01", "end": "9999-12-31"}, "end"),
        ({"start": "2026-11-01", "end": "2026-11-02", "site": "\x00"}, "site"),
    ],
)
def test_it_answers_400_for_an_open_data_range_it_cannot_use(api, eu_site, query, field):
    answer = api.get(reverse("api:region-opendata", kwargs={"code": "eu-west"}), query)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
