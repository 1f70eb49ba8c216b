"""Daily site totals: the one API read that may cross regions, only under a transfer rule,
audited in the source region, with days below the rule's k withheld."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from junction.residency.models import AuditEvent, TransferLevel, TransferRule
from tests.platform.staff import counts_add

RANGE = {"start": "2026-11-25", "end": "2026-11-28"}


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def eu_days(eu_site):
    counts_add(eu_site, datetime(2026, 11, 25, 8, 0, tzinfo=UTC), [("N>E", None, "car", 4)])
    counts_add(
        eu_site,
        datetime(2026, 11, 26, 8, 0, tzinfo=UTC),
        [("north-stopline", "in", "car", 30), ("N>E", None, "bus", 2)],
    )
    counts_add(
        eu_site, datetime(2026, 11, 27, 23, 30, tzinfo=UTC), [("north-stopline", "in", "car", 11)]
    )
    return eu_site


@pytest.fixture
def eu_to_us(eu_west, us_east):
    return TransferRule.objects.create(
        source=eu_west, destination=us_east, level=TransferLevel.DAILY_SITE_TOTALS, min_count=10
    )


def totals(api, user, site, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:site-daily-totals", kwargs={"slug": site.slug}), params or RANGE)


def days(answer) -> list[tuple]:
    return [(r["date"], r["count"], r["withheld"]) for r in answer.json()["results"]]


def audit(region: str) -> list[tuple]:
    return [
        (e.action, e.actor, e.destination_region)
        for e in AuditEvent.objects.in_region(region).order_by("at")
    ]


def test_it_gives_the_regions_own_staff_every_day_without_a_transfer(api, eu_analyst, eu_days):
    answer = totals(api, eu_analyst, eu_days)
    assert answer.status_code == 200
    assert answer.json()["transfer"] is None
    assert days(answer) == [
        ("2026-11-25", 4, False),
        ("2026-11-26", 32, False),
        ("2026-11-27", 11, False),
    ]
    assert audit("eu-west") == []  # no data crossed a region


def test_it_refuses_another_regions_staff_without_a_rule_and_audits_it(api, us_analyst, eu_days):
    answer = totals(api, us_analyst, eu_days)
    assert answer.status_code == 403
    detail = answer.json()["detail"]
    assert "not 'eu-west'" in detail
    assert "no active transfer rule lets daily_site_totals data go from eu-west to us-east" in (
        detail
    )
    assert audit("eu-west") == [("refused", "us-analyst", "us-east")]
    assert audit("us-east") == []


def test_it_lets_daily_totals_cross_under_a_rule_withholding_small_days(
    api, us_analyst, eu_days, eu_to_us
):
    answer = totals(api, us_analyst, eu_days)
    assert answer.status_code == 200
    assert answer.json()["transfer"] == {
        "rule": eu_to_us.pk,
        "destination": "us-east",
        "level": "daily_site_totals",
        "min_count": 10,
    }
    assert days(answer) == [
        ("2026-11-25", None, True),
        ("2026-11-26", 32, False),
        ("2026-11-27", 11, False),
    ]
    assert audit("eu-west") == [("transfer", "us-analyst", "us-east")]


def test_it_keeps_finer_data_in_its_region_even_under_a_daily_rule(
    api, us_analyst, eu_days, eu_to_us
):
    api.force_authenticate(us_analyst)
    answer = api.get(reverse("api:site-counts", kwargs={"slug": eu_days.slug}))
    assert answer.status_code == 403
    assert audit("eu-west") == []


@pytest.mark.parametrize("change", ["inactive", "reversed"])
def test_it_refuses_when_the_rule_does_not_apply(api, us_analyst, eu_days, eu_to_us, change):
    if change == "inactive":
        eu_to_us.active = False
    else:
        eu_to_us.source, eu_to_us.destination = eu_to_us.destination, eu_to_us.source
    eu_to_us.save()
    assert totals(api, us_analyst, eu_days).status_code == 403
    assert audit("eu-west") == [("refused", "us-analyst", "us-east")]


def test_it_cuts_days_in_the_sites_zone(api, eu_analyst, eu_days):
    eu_days.timezone = "Asia/Tokyo"  # 2026-11-27 23:30 UTC is the 28th in Tokyo
    eu_days.save()
    answer = totals(api, eu_analyst, eu_days, start="2026-11-25", end="2026-11-29")
    assert days(answer) == [
        ("2026-11-25", 4, False),
        ("2026-11-26", 32, False),
        ("2026-11-28", 11, False),
    ]


def test_it_sends_a_pinned_destination_node_to_the_source_region(
    api, us_analyst, eu_days, eu_to_us
):
    with override_settings(SERVED_REGIONS=("us-east",), JUNCTION_REGION="us-east"):
        answer = totals(api, us_analyst, eu_days)
    assert answer.status_code == 421
    assert answer.json()["endpoint"] == "https://eu-west.junction.example"
    assert audit("eu-west") == []


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"start": "2026-11-27T12:00:00Z"}, "start", "wrong format"),
        ({"start": "2026-11-28", "end": "2026-11-27"}, "start", "must be before end"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "end", "at most 366 days"),
    ],
    ids=["part of a day", "reversed", "too long"],
)
def test_it_refuses_a_bad_range(api, eu_analyst, eu_site, params, field, message):
    answer = totals(api, eu_analyst, eu_site, **params)
    assert answer.status_code == 400
    assert message in " ".join(answer.json()[field])


def test_fifty_refused_reads_leave_one_audit_row_that_counts_them(api, us_analyst, eu_days):
    for _ in range(50):
        assert totals(api, us_analyst, eu_days).status_code == 403
    [event] = AuditEvent.objects.in_region("eu-west")
    assert (event.action, event.actor, event.repeats) == ("refused", "us-analyst", 50)
    assert audit("us-east") == []
