"""?format=csv on the API: a list's page or a series' rows as a table, the series' own fields
on every row, columns in the JSON answer's order, errors as (field, message) rows."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.platform.staff import counts_add

T0 = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@pytest.fixture
def api(eu_analyst):
    client = APIClient()
    client.force_authenticate(eu_analyst)
    return client


def table(answer) -> list[dict]:
    assert answer["Content-Type"].startswith("text/csv"), answer["Content-Type"]
    return list(csv.DictReader(io.StringIO(answer.content.decode())))


def test_counts_as_csv_are_the_json_rows_with_the_series_fields(api, eu_site):
    counts_add(
        eu_site, T0, [("north-stopline", "in", "car", 12), ("north-stopline", "out", "bus", 3)]
    )
    counts_add(eu_site, T0 + timedelta(hours=1), [("north-stopline", "in", "car", 7)])
    url = reverse("api:site-counts", kwargs={"slug": eu_site.slug})
    query = {"start": "2026-11-27T06:00:00Z", "end": "2026-11-27T08:00:00Z", "interval": "hour"}
    answer = api.get(url, {**query, "format": "csv"})
    assert answer.status_code == 200
    header = answer.content.decode().splitlines()[0].split(",")
    assert header[:6] == ["site", "region", "timezone", "start", "end", "interval"]
    rows = table(answer)
    assert [
        (r["site"], r["interval"], r["counter"], r["direction"], r["road_user"], r["count"])
        for r in rows
    ] == [
        ("main-and-5th", "hour", "north-stopline", "in", "car", "12"),
        ("main-and-5th", "hour", "north-stopline", "out", "bus", "3"),
        ("main-and-5th", "hour", "north-stopline", "in", "car", "7"),
    ]
    as_json = api.get(url, query).json()["results"]
    assert len(as_json) == len(rows)


def test_a_list_as_csv_is_its_page_without_the_page_fields(api, eu_site):
    answer = api.get("/api/v1/sites", {"format": "csv"})
    assert answer.status_code == 200
    rows = table(answer)
    assert [r["slug"] for r in rows] == ["main-and-5th"]
    assert not {"count", "next", "previous", "results"} & set(rows[0])


def test_nested_values_become_dotted_columns(api, eu_site):
    rows = table(api.get(f"/api/v1/sites/{eu_site.slug}", {"format": "csv"}))
    assert len(rows) == 1
    assert any(column.startswith("counters.") for column in rows[0]), rows[0]


def test_an_error_as_csv_keeps_its_status_and_names_the_field(api, eu_site):
    answer = api.get(
        reverse("api:site-counts", kwargs={"slug": eu_site.slug}),
        {"start": "yesterday", "format": "csv"},
    )
    assert answer.status_code == 400
    rows = table(answer)
    assert [r["field"] for r in rows] == ["start"]
    assert "format" in rows[0]["message"].lower()


def test_daily_totals_as_csv(api, eu_site):
    counts_add(eu_site, T0, [("north-stopline", "in", "car", 12)])
    answer = api.get(
        reverse("api:site-daily-totals", kwargs={"slug": eu_site.slug}),
        {"start": "2026-11-27", "end": "2026-11-28", "format": "csv"},
    )
    assert answer.status_code == 200
    assert [(r["date"], r["count"], r["withheld"]) for r in table(answer)] == [
        ("2026-11-27", "12", "False")
    ]
