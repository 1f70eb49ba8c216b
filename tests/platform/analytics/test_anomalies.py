"""Detection against the region database: findings become anomalies (merged, never
duplicated by overlapping runs), outages are site-wide, and triage records who did what."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from junction.analytics import anomalies
from junction.analytics.models import Anomaly
from tests.platform.analytics.factories import store_quarter_series
from tests.platform.analytics.traffic import (
    WINDOWS_PER_WEEK,
    generate,
    inject_drop,
    inject_outage,
    window,
)

EU = "eu-west"
MONDAY = datetime(2026, 10, 26, tzinfo=UTC)  # five weeks: history 26 Oct - 22 Nov, then judged
JUDGED_START = MONDAY + timedelta(weeks=4)
TUE, FRI = 1, 4


def at(index: int) -> datetime:
    return MONDAY + index * timedelta(minutes=15)


@pytest.fixture
def five_weeks(eu_site):
    rng = np.random.default_rng(4)
    traffic = generate(rng, weeks=5)
    incident = window(4, TUE, 8.0)
    outage = window(4, FRI, 14.0)
    inject_drop(rng, traffic, incident, 6, depth=0.8)
    inject_outage(traffic, outage, 8)
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=MONDAY,
        volumes=traffic.volume,
        coverage=traffic.coverage,
    )
    return eu_site, incident, outage


def detect_week(site) -> list[Anomaly]:
    return anomalies.anomalies_detect_site(
        region=EU, site_id=site.pk, since=JUDGED_START, until=JUDGED_START + timedelta(weeks=1)
    ).recorded


def test_it_records_an_incident_on_its_counter_and_an_outage_for_the_whole_site(five_weeks):
    site, incident, outage = five_weeks
    detect_week(site)
    found = {(a.kind, a.counter, a.start, a.end) for a in Anomaly.objects.in_region(EU).all()}
    assert found == {
        ("drop", "north-stopline", at(incident), at(incident + 6)),
        ("outage", "", at(outage), at(outage + 8)),
    }
    drop = Anomaly.objects.in_region(EU).get(kind="drop")
    assert drop.observed < 0.4 * drop.expected
    assert drop.state == Anomaly.State.OPEN


def test_it_does_not_duplicate_anomalies_when_runs_overlap(five_weeks):
    site, _, _ = five_weeks
    detect_week(site)
    again = detect_week(site)
    assert again == []
    assert Anomaly.objects.in_region(EU).count() == 2


def test_it_extends_an_anomaly_still_going_on_at_the_next_run(five_weeks):
    site, incident, _ = five_weeks
    # The first run ends half-way through the incident; the next one sees the rest.
    anomalies.anomalies_detect_site(
        region=EU, site_id=site.pk, since=JUDGED_START, until=at(incident + 3)
    )
    first = Anomaly.objects.in_region(EU).get(kind="drop")
    assert first.end == at(incident + 3)
    anomalies.anomalies_detect_site(
        region=EU, site_id=site.pk, since=at(incident - 8), until=at(incident + 12)
    )
    extended = Anomaly.objects.in_region(EU).get(kind="drop")
    assert (extended.pk, extended.start, extended.end) == (first.pk, at(incident), at(incident + 6))
    assert extended.expected > first.expected


def test_it_treats_a_site_that_never_reported_as_not_yet_set_up(eu_site):
    assert (
        anomalies.anomalies_detect_site(
            region=EU,
            site_id=eu_site.pk,
            since=JUDGED_START,
            until=JUDGED_START + timedelta(days=1),
        ).recorded
        == []
    )


def test_it_reports_a_device_that_stopped_sending_as_an_outage(eu_site):
    rng = np.random.default_rng(5)
    traffic = generate(rng, weeks=5)
    silent_from = 4 * WINDOWS_PER_WEEK + 200
    traffic.coverage[silent_from:] = 0
    store_quarter_series(
        region=EU,
        site_id=eu_site.pk,
        start=MONDAY,
        volumes=traffic.volume,
        coverage=traffic.coverage,
    )
    detect_week(eu_site)
    outage = Anomaly.objects.in_region(EU).get()
    assert (outage.kind, outage.start) == ("outage", at(silent_from))


def test_it_records_who_acknowledged_and_resolved_an_anomaly(five_weeks):
    detect_week(five_weeks[0])
    drop = Anomaly.objects.in_region(EU).get(kind="drop")
    anomalies.anomaly_acknowledge(region=EU, anomaly_id=drop.pk, user="ana.eu")
    resolved = anomalies.anomaly_resolve(region=EU, anomaly_id=drop.pk, user="ben.eu")
    assert (resolved.state, resolved.acknowledged_by, resolved.resolved_by) == (
        "resolved",
        "ana.eu",
        "ben.eu",
    )
    assert resolved.acknowledged_at <= resolved.resolved_at
    with pytest.raises(ValidationError):
        anomalies.anomaly_acknowledge(region=EU, anomaly_id=drop.pk, user="late.eu")


def test_it_lists_anomalies_as_json(five_weeks, capsys):
    detect_week(five_weeks[0])
    call_command("anomalies", "--region", EU, "--json")
    document = json.loads(capsys.readouterr().out)
    assert document["region"] == EU
    assert sorted(a["kind"] for a in document["anomalies"]) == ["drop", "outage"]
    outage = next(a for a in document["anomalies"] if a["kind"] == "outage")
    assert outage["counter"] is None and outage["state"] == "open"


def test_it_withdraws_an_outage_once_the_late_data_arrives(five_weeks):
    site, _, outage = five_weeks
    detect_week(site)
    store_quarter_series(
        region=EU, site_id=site.pk, start=at(outage), volumes=[50] * 8, coverage=[1.0] * 8
    )  # the spool delivered after all
    detect_week(site)
    withdrawn = Anomaly.objects.in_region(EU).get(kind="outage")
    assert (withdrawn.state, withdrawn.resolved_by) == ("resolved", "system:late-data")
