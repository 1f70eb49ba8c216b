"""A region's anomalies over the API: read by its staff, triaged by its operators, looked up
only inside the region named in the path."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from junction.analytics.models import Anomaly
from tests.platform.api.factories import anomaly_add
from tests.platform.staff import staff


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def findings(eu_site, us_site):
    return {
        "drop": anomaly_add(eu_site, kind="drop", counter="north-stopline", hours_ago=1),
        "outage": anomaly_add(eu_site, kind="outage", device_id="dev-main-5th-n", hours_ago=5),
        "old": anomaly_add(
            eu_site, kind="spike", counter="N>E", hours_ago=48, state=Anomaly.State.RESOLVED
        ),
        "us": anomaly_add(us_site, kind="drop", counter="south-stopline", hours_ago=2),
    }


def listing(api, user, region: str, **params):
    api.force_authenticate(user)
    return api.get(reverse("api:region-anomalies", kwargs={"code": region}), params)


def triage(api, user, region: str, anomaly: Anomaly, step: str):
    api.force_authenticate(user)
    return api.post(reverse(f"api:anomaly-{step}", kwargs={"code": region, "pk": anomaly.pk}))


def reloaded(anomaly: Anomaly) -> Anomaly:
    return Anomaly.objects.in_region(anomaly.region).get(pk=anomaly.pk)


def test_it_lists_a_regions_anomalies_newest_first_with_their_site(api, eu_analyst, findings):
    answer = listing(api, eu_analyst, "eu-west")
    assert answer.status_code == 200
    body = answer.json()
    assert body["count"] == 3
    assert [(a["kind"], a["site"], a["state"]) for a in body["results"]] == [
        ("drop", "main-and-5th", "open"),
        ("outage", "main-and-5th", "open"),
        ("spike", "main-and-5th", "resolved"),
    ]
    first = body["results"][0]
    assert (first["region"], first["counter"], first["expected"], first["observed"]) == (
        "eu-west",
        "north-stopline",
        120.0,
        30.0,
    )


@pytest.mark.parametrize(
    "params, kinds",
    [
        ({"state": "open"}, ["drop", "outage"]),
        ({"state": "resolved"}, ["spike"]),
        ({"kind": "outage"}, ["outage"]),
        ({"site": "main-and-5th", "kind": "drop"}, ["drop"]),
        ({"site": "broadway-and-king"}, []),  # a site of another region has nothing here
        ({"site": "nowhere"}, []),
    ],
)
def test_it_filters_anomalies_by_state_kind_and_site(api, eu_analyst, findings, params, kinds):
    answer = listing(api, eu_analyst, "eu-west", **params)
    assert [a["kind"] for a in answer.json()["results"]] == kinds


def test_it_refuses_an_unknown_state_naming_the_field(api, eu_analyst, findings):
    answer = listing(api, eu_analyst, "eu-west", state="closed")
    assert answer.status_code == 400
    assert "state" in answer.json()


def test_it_refuses_another_regions_anomalies_with_the_reason(api, eu_analyst, findings):
    answer = listing(api, eu_analyst, "us-east")
    assert answer.status_code == 403
    assert "not 'us-east'" in answer.json()["detail"]
    assert "transfer rule" in answer.json()["detail"]


def test_it_refuses_a_user_without_a_region(api, outsider, findings):
    answer = listing(api, outsider, "eu-west")
    assert answer.status_code == 403


def test_it_answers_404_for_an_unknown_region(api, admin_user, findings):
    assert listing(api, admin_user, "mars-north").status_code == 404


def test_it_pages_through_anomalies(api, eu_analyst, eu_site):
    for hour in range(7):
        anomaly_add(eu_site, hours_ago=hour)
    first = listing(api, eu_analyst, "eu-west", page_size=3).json()
    assert first["count"] == 7 and len(first["results"]) == 3 and first["previous"] is None
    assert "page=2" in first["next"]
    last = listing(api, eu_analyst, "eu-west", page_size=3, page=3).json()
    assert len(last["results"]) == 1 and last["next"] is None
    seen = [
        a["id"]
        for page in (1, 2, 3)
        for a in listing(api, eu_analyst, "eu-west", page_size=3, page=page).json()["results"]
    ]
    assert len(set(seen)) == 7


def test_it_acknowledges_then_resolves_recording_who_and_when(api, eu_operator, findings):
    before = timezone.now()
    answer = triage(api, eu_operator, "eu-west", findings["drop"], "acknowledge")
    assert answer.status_code == 200
    assert (answer.json()["state"], answer.json()["acknowledged_by"]) == (
        "acknowledged",
        "eu-operator",
    )
    answer = triage(api, eu_operator, "eu-west", findings["drop"], "resolve")
    assert answer.status_code == 200
    stored = reloaded(findings["drop"])
    assert stored.state == Anomaly.State.RESOLVED
    assert (stored.acknowledged_by, stored.resolved_by) == ("eu-operator", "eu-operator")
    assert before <= stored.acknowledged_at <= stored.resolved_at <= timezone.now()
    assert answer.json()["resolved_at"] is not None


def test_it_resolves_an_open_anomaly_without_acknowledging_it(api, eu_operator, findings):
    answer = triage(api, eu_operator, "eu-west", findings["outage"], "resolve")
    assert answer.status_code == 200
    stored = reloaded(findings["outage"])
    assert (stored.state, stored.acknowledged_by, stored.resolved_by) == (
        "resolved",
        "",
        "eu-operator",
    )


@pytest.mark.parametrize(
    "state, step, message",
    [
        (Anomaly.State.ACKNOWLEDGED, "acknowledge", "is acknowledged, not open"),
        (Anomaly.State.RESOLVED, "acknowledge", "is resolved, not open"),
        (Anomaly.State.RESOLVED, "resolve", "already resolved"),
    ],
)
def test_it_refuses_a_step_the_state_does_not_allow_with_409(
    api, eu_operator, eu_site, state, step, message
):
    anomaly = anomaly_add(eu_site, state=state)
    answer = triage(api, eu_operator, "eu-west", anomaly, step)
    assert answer.status_code == 409
    assert message in answer.json()["detail"]
    assert reloaded(anomaly).state == state


def test_it_refuses_triage_to_an_analyst_naming_the_role_needed(api, eu_analyst, findings):
    answer = triage(api, eu_analyst, "eu-west", findings["drop"], "acknowledge")
    assert answer.status_code == 403
    assert "is 'analyst'; this needs 'operator'" in answer.json()["detail"]
    assert reloaded(findings["drop"]).state == Anomaly.State.OPEN


def test_it_refuses_triage_in_a_region_where_the_operator_has_no_role(api, eu_operator, findings):
    answer = triage(api, eu_operator, "us-east", findings["us"], "resolve")
    assert answer.status_code == 403
    assert "not 'us-east'" in answer.json()["detail"]
    assert reloaded(findings["us"]).state == Anomaly.State.OPEN


def test_it_looks_an_anomaly_id_up_only_in_the_region_named(api, admin_user, findings):
    us = findings["us"]
    # Ids are per region database: make sure eu-west holds no row with the us-east id.
    Anomaly.objects.in_region("eu-west").filter(pk=us.pk).delete()
    answer = triage(api, admin_user, "eu-west", us, "acknowledge")
    assert answer.status_code == 404
    assert f"region 'eu-west' has no anomaly {us.pk}" in answer.json()["detail"]
    assert reloaded(us).state == Anomaly.State.OPEN
    answer = api.get(reverse("api:region-anomaly", kwargs={"code": "us-east", "pk": us.pk}))
    assert answer.json()["site"] == "broadway-and-king"


def test_it_needs_a_csrf_token_for_a_session_post(eu_operator, findings):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(eu_operator)
    answer = browser.post(
        reverse("api:anomaly-acknowledge", kwargs={"code": "eu-west", "pk": findings["drop"].pk})
    )
    assert answer.status_code == 403
    assert "CSRF" in answer.json()["detail"]
    assert reloaded(findings["drop"]).state == Anomaly.State.OPEN


def test_it_sends_a_pinned_node_reader_to_the_anomalies_region(api, eu_west, us_site):
    both = staff("both", eu_west="operator", us_east="operator")
    anomaly = anomaly_add(us_site)
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        listed = listing(api, both, "us-east")
        acknowledged = triage(api, both, "us-east", anomaly, "acknowledge")
    for answer in (listed, acknowledged):
        assert answer.status_code == 421
        assert answer.json()["endpoint"] == "https://us-east.junction.example"
    assert reloaded(anomaly).state == Anomaly.State.OPEN


def test_it_answers_in_a_fixed_number_of_queries(
    api, eu_analyst, eu_site, django_assert_num_queries
):
    for hour in range(20):
        anomaly_add(eu_site, hours_ago=hour)
    api.force_authenticate(eu_analyst)
    url = reverse("api:region-anomalies", kwargs={"code": "eu-west"})
    # control: region, memberships, site slugs; region: count, page
    with (
        django_assert_num_queries(2, using="region_eu-west"),
        django_assert_num_queries(3, using="default"),
    ):
        answer = api.get(url)
    assert answer.json()["count"] == 20


def test_the_command_prints_each_anomaly_exactly_as_the_api_answers_it(
    api, eu_analyst, findings, capsys
):
    import json

    from django.core.management import call_command

    call_command("anomalies", "--region", "eu-west", "--json")
    printed = json.loads(capsys.readouterr().out)["anomalies"]
    answered = listing(api, eu_analyst, "eu-west").json()["results"]
    assert sorted(printed, key=lambda a: a["id"]) == sorted(answered, key=lambda a: a["id"])
    outage = next(a for a in printed if a["kind"] == "outage")
    # An outage is about a camera: it names the device and no counter (null, never "").
    assert (outage["site"], outage["counter"], outage["device"], outage["acknowledged_by"]) == (
        "main-and-5th",
        None,
        "dev-main-5th-n",
        None,
    )
    drop = next(a for a in printed if a["kind"] == "drop")
    assert (drop["site"], drop["counter"], drop["device"]) == (
        "main-and-5th",
        "north-stopline",
        None,
    )


def test_the_commands_table_names_the_site_by_slug_and_an_outage_by_its_camera(findings, capsys):
    from django.core.management import call_command

    call_command("anomalies", "--region", "eu-west", "--state", "open")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    drop, outage = (
        next(line for line in lines if f" {kind} " in line) for kind in ("drop", "outage")
    )
    assert "main-and-5th" in drop and "north-stopline" in drop
    assert "main-and-5th" in outage and "camera dev-main-5th-n" in outage
