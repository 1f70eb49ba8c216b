"""A region's anomalies page: unresolved anomalies for the region's staff, acknowledge and
resolve buttons (POST with CSRF) for its operators only."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from junction.analytics.models import Anomaly
from tests.platform.api.factories import anomaly_add
from tests.platform.staff import staff


@pytest.fixture
def findings(eu_site, us_site):
    return {
        "drop": anomaly_add(eu_site, kind="drop", counter="north-stopline", hours_ago=1),
        "outage": anomaly_add(
            eu_site, kind="outage", hours_ago=5, state=Anomaly.State.ACKNOWLEDGED
        ),
        "old": anomaly_add(eu_site, kind="spike", hours_ago=48, state=Anomaly.State.RESOLVED),
        "us": anomaly_add(us_site, kind="drop", hours_ago=2),
    }


def page_of(client, region: str = "eu-west", **params):
    return client.get(reverse("dashboard:region-anomalies", args=[region]), params)


def reloaded(anomaly: Anomaly) -> Anomaly:
    return Anomaly.objects.in_region(anomaly.region).get(pk=anomaly.pk)


def test_it_lists_the_regions_unresolved_anomalies(client, eu_analyst, findings):
    client.force_login(eu_analyst)
    answer = page_of(client)
    assert answer.status_code == 200
    page = answer.content.decode()
    assert f'id="anomaly-{findings["drop"].pk}"' in page
    assert f'id="anomaly-{findings["outage"].pk}"' in page
    assert f'id="anomaly-{findings["old"].pk}"' not in page
    assert "main-and-5th" in page and "whole site" in page


def test_it_shows_resolved_anomalies_on_their_tab_with_who_resolved_them(
    client, eu_operator, findings
):
    client.force_login(eu_operator)
    client.post(reverse("dashboard:anomaly-resolve", args=["eu-west", findings["drop"].pk]))
    page = page_of(client, state="resolved").content.decode()
    assert f'id="anomaly-{findings["drop"].pk}"' in page and "eu-operator, " in page
    assert f'id="anomaly-{findings["outage"].pk}"' not in page


def test_it_narrows_the_page_to_one_site_of_the_region(client, eu_analyst, findings, us_site):
    client.force_login(eu_analyst)
    assert page_of(client, site="main-and-5th").context["site"].slug == "main-and-5th"
    # A site of another region is not "all clear" here: it is not this region's.
    assert page_of(client, site=us_site.slug).status_code == 404


def test_it_gives_buttons_to_operators_only(client, eu_analyst, eu_operator, findings):
    client.force_login(eu_analyst)
    page = page_of(client).content.decode()
    assert "<button" not in page.split("<main>")[1]
    assert "for the region's operators" in page
    client.force_login(eu_operator)
    page = page_of(client).content.decode()
    drop_row = re.search(rf'id="anomaly-{findings["drop"].pk}".*?</tr>', page, re.S).group(0)
    outage_row = re.search(rf'id="anomaly-{findings["outage"].pk}".*?</tr>', page, re.S).group(0)
    assert ">Acknowledge<" in drop_row and ">Resolve<" in drop_row
    assert ">Acknowledge<" not in outage_row and ">Resolve<" in outage_row
    assert "csrfmiddlewaretoken" in drop_row


def test_it_acknowledges_with_the_csrf_token_and_records_who_and_when(eu_operator, findings):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(eu_operator)
    page = page_of(browser).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    url = reverse("dashboard:anomaly-acknowledge", args=["eu-west", findings["drop"].pk])
    answer = browser.post(
        url, {"csrfmiddlewaretoken": token, "next": "/regions/eu-west/anomalies/?state=open"}
    )
    assert answer.status_code == 302
    assert answer["Location"] == "/regions/eu-west/anomalies/?state=open"
    stored = reloaded(findings["drop"])
    assert (stored.state, stored.acknowledged_by) == ("acknowledged", "eu-operator")
    assert stored.acknowledged_at is not None
    assert f"Anomaly {stored.pk} acknowledged." in browser.get(answer["Location"]).content.decode()


def test_it_refuses_a_post_without_the_csrf_token(eu_operator, findings):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(eu_operator)
    url = reverse("dashboard:anomaly-acknowledge", args=["eu-west", findings["drop"].pk])
    assert browser.post(url).status_code == 403
    assert reloaded(findings["drop"]).state == Anomaly.State.OPEN


def test_it_refuses_triage_to_an_analyst_with_the_reason(client, eu_analyst, findings):
    client.force_login(eu_analyst)
    answer = client.post(
        reverse("dashboard:anomaly-resolve", args=["eu-west", findings["drop"].pk])
    )
    assert answer.status_code == 403
    assert "this needs &#x27;operator&#x27;" in answer.content.decode()
    assert reloaded(findings["drop"]).state == Anomaly.State.OPEN


def test_it_says_why_a_step_the_state_does_not_allow_did_nothing(client, eu_operator, findings):
    client.force_login(eu_operator)
    url = reverse("dashboard:anomaly-acknowledge", args=["eu-west", findings["outage"].pk])
    answer = client.post(url, follow=True)
    assert "is acknowledged, not open" in answer.content.decode()


def test_it_ignores_a_next_address_off_the_site(client, eu_operator, findings):
    client.force_login(eu_operator)
    url = reverse("dashboard:anomaly-resolve", args=["eu-west", findings["drop"].pk])
    answer = client.post(url, {"next": "https://evil.example/"})
    assert answer["Location"] == "/regions/eu-west/anomalies/"


def test_it_refuses_triage_by_get(client, eu_operator, findings):
    client.force_login(eu_operator)
    url = reverse("dashboard:anomaly-resolve", args=["eu-west", findings["drop"].pk])
    assert client.get(url).status_code == 405
    assert reloaded(findings["drop"]).state == Anomaly.State.OPEN


def test_it_looks_an_anomaly_id_up_only_in_the_region_named(client, admin_user, findings):
    us = findings["us"]
    Anomaly.objects.in_region("eu-west").filter(pk=us.pk).delete()
    client.force_login(admin_user)
    answer = client.post(reverse("dashboard:anomaly-resolve", args=["eu-west", us.pk]))
    assert answer.status_code == 404
    assert reloaded(us).state == Anomaly.State.OPEN


def test_it_refuses_another_regions_anomalies_with_the_reason(client, eu_analyst, findings):
    client.force_login(eu_analyst)
    answer = page_of(client, "us-east")
    assert answer.status_code == 403
    assert "not &#x27;us-east&#x27;" in answer.content.decode()


def test_it_sends_a_pinned_node_reader_to_the_anomalies_region(client, eu_west, us_site):
    client.force_login(staff("both", eu_west="operator", us_east="operator"))
    anomaly = anomaly_add(us_site)
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        listed = page_of(client, "us-east")
        resolved = client.post(reverse("dashboard:anomaly-resolve", args=["us-east", anomaly.pk]))
    assert listed.status_code == 421 and resolved.status_code == 421
    assert listed.json()["endpoint"] == "https://us-east.junction.example"
    assert reloaded(anomaly).state == Anomaly.State.OPEN


# control: session, user, region, memberships, site slugs; region: count, page
ANOMALIES_CONTROL_QUERIES, ANOMALIES_REGION_QUERIES = 5, 2


@pytest.mark.parametrize("n", [1, 40])
def test_it_renders_the_anomalies_page_in_a_fixed_number_of_queries(
    client, eu_operator, eu_site, django_assert_num_queries, n
):
    from junction.sites.services import site_add

    other = site_add(slug="elm-and-1st", region="eu-west", name="Elm & 1st", counters={})
    for i in range(n):
        anomaly_add(eu_site if i % 2 else other, hours_ago=i)
    client.force_login(eu_operator)
    url = reverse("dashboard:region-anomalies", args=["eu-west"])
    with (
        django_assert_num_queries(ANOMALIES_REGION_QUERIES, using="region_eu-west"),
        django_assert_num_queries(ANOMALIES_CONTROL_QUERIES, using="default"),
    ):
        answer = client.get(url)
    assert len(answer.context["anomalies"]) == n


# control: session, user, region, memberships; region: the service's savepoint, claim, reload
# and release (the test runs inside a transaction, so atomic() is a savepoint)
TRIAGE_CONTROL_QUERIES, TRIAGE_REGION_QUERIES = 4, 4


def test_it_triages_in_a_fixed_number_of_queries(
    client, eu_operator, findings, django_assert_num_queries
):
    client.force_login(eu_operator)
    url = reverse("dashboard:anomaly-acknowledge", args=["eu-west", findings["drop"].pk])
    with (
        django_assert_num_queries(TRIAGE_REGION_QUERIES, using="region_eu-west"),
        django_assert_num_queries(TRIAGE_CONTROL_QUERIES, using="default"),
    ):
        assert client.post(url).status_code == 302
