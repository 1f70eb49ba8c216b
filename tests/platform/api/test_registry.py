"""Regions, sites and devices over the API: each member of staff sees only their regions."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from junction.sites.models import Device


@pytest.fixture
def api():
    return APIClient()


def get(api, user, name, **kwargs):
    if user is not None:
        api.force_authenticate(user)
    return api.get(reverse(f"api:{name}", kwargs=kwargs or None))


def test_it_refuses_anonymous_requests(api, eu_site):
    assert get(api, None, "site-list").status_code in (401, 403)


def test_it_lists_only_the_regions_of_the_analyst(api, eu_analyst, us_east):
    answer = get(api, eu_analyst, "region-list")
    assert answer.status_code == 200
    assert [r["code"] for r in answer.json()["results"]] == ["eu-west"]


def test_it_gives_a_regions_local_time_and_holiday_calendar(api, eu_analyst):
    from junction.residency.models import Region

    Region.objects.filter(code="eu-west").update(timezone="Europe/Paris", country="FR")
    region = get(api, eu_analyst, "region-list").json()["results"][0]
    assert (region["timezone"], region["country"], region["subdivision"]) == (
        "Europe/Paris",
        "FR",
        "",
    )


def test_it_lists_every_region_for_an_administrator(api, admin_user, eu_west, us_east):
    assert [r["code"] for r in get(api, admin_user, "region-list").json()["results"]] == [
        "eu-west",
        "us-east",
    ]


def test_it_lists_sites_of_the_analysts_region_with_their_counters(
    api, eu_analyst, eu_site, us_site
):
    answer = get(api, eu_analyst, "site-list").json()["results"]
    assert [s["slug"] for s in answer] == [eu_site.slug]
    assert answer[0]["region"] == "eu-west"
    assert {c["name"] for c in answer[0]["counters"]} == {"north-stopline", "N>E"}


def test_it_filters_sites_by_region(api, admin_user, eu_site, us_site):
    api.force_authenticate(admin_user)
    answer = api.get(reverse("api:site-list"), {"region": "us-east"}).json()["results"]
    assert [s["slug"] for s in answer] == [us_site.slug]


def test_it_shows_a_site_of_the_analysts_region(api, us_analyst, us_site):
    answer = get(api, us_analyst, "site-detail", slug=us_site.slug)
    assert answer.status_code == 200
    assert answer.json()["slug"] == us_site.slug


def test_it_refuses_a_site_of_another_region_with_the_reason(api, eu_analyst, us_site):
    answer = get(api, eu_analyst, "site-detail", slug=us_site.slug)
    assert answer.status_code == 403
    detail = answer.json()["detail"]
    assert "member of region(s) eu-west, not 'us-east'" in detail
    assert "transfer rule" in detail


def test_it_answers_404_for_a_site_that_does_not_exist(api, eu_analyst):
    assert get(api, eu_analyst, "site-detail", slug="nowhere").status_code == 404


def test_it_refuses_staff_without_any_region(api, outsider, eu_site):
    answer = get(api, outsider, "site-list")
    assert answer.status_code == 403
    assert "no region role" in answer.json()["detail"]


def test_it_shows_device_health_but_never_a_secret(api, eu_analyst, eu_device, us_device):
    answer = get(api, eu_analyst, "device-list")
    assert answer.status_code == 200
    [device] = answer.json()["results"]
    assert device["device_id"] == eu_device.device_id
    assert set(device) == {
        "device_id",
        "site",
        "region",
        "created_at",
        "revoked",
        "revoked_at",
        "rotation_in_progress",
        "last_batch_at",
        "batches_received",
        "last_model_name",
        "last_model_sha256",
    }
    row = Device.objects.filter(pk=eu_device.device.pk).values().get()
    text = answer.content.decode()
    for secret in (eu_device.secret, row["secret_sealed"], row["secret_fingerprint"]):
        assert secret not in text


def test_it_refuses_a_device_of_another_region(api, us_analyst, eu_device):
    answer = get(api, us_analyst, "device-detail", device_id=eu_device.device_id)
    assert answer.status_code == 403
    assert "not 'eu-west'" in answer.json()["detail"]


def test_it_filters_devices_by_revocation(api, admin_user, eu_device, us_device):
    from junction.sites.services import device_revoke

    device_revoke(device_id=us_device.device_id)
    api.force_authenticate(admin_user)
    revoked = api.get(reverse("api:device-list"), {"revoked": "true"}).json()["results"]
    active = api.get(reverse("api:device-list"), {"revoked": "false"}).json()["results"]
    assert [d["device_id"] for d in revoked] == [us_device.device_id]
    assert [d["device_id"] for d in active] == [eu_device.device_id]


def test_it_publishes_the_api_in_the_openapi_schema(api, eu_analyst):
    api.force_authenticate(eu_analyst)
    answer = api.get("/api/schema/", {"format": "json"})
    assert answer.status_code == 200
    paths = answer.json()["paths"]
    assert {
        "/api/v1/regions",
        "/api/v1/sites",
        "/api/v1/sites/{slug}/counts",
        "/api/v1/devices",
        "/api/v1/sites/{slug}/rollups",
        "/api/v1/sites/{slug}/measures",
        "/api/v1/regions/{code}/anomalies",
        "/api/v1/regions/{code}/anomalies/{id}/acknowledge",
        "/api/v1/regions/{code}/anomalies/{id}/resolve",
    } <= set(paths)
    anomaly_filters = {
        p["name"] for p in paths["/api/v1/regions/{code}/anomalies"]["get"]["parameters"]
    }
    assert {"state", "kind", "site", "page", "page_size"} <= anomaly_filters
    rollup_query = {p["name"] for p in paths["/api/v1/sites/{slug}/rollups"]["get"]["parameters"]}
    assert {"period", "start", "end", "counter", "road_user", "page"} <= rollup_query
