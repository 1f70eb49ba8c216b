"""Django admin for the registry: secrets never shown, state changes through the services."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from junction.residency.models import Region
from junction.sites.models import Device, Site
from junction.sites.services import device_secrets


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def secret_on_page(page: str) -> str:
    return page.split('<code class="device-secret">')[1].split("</code>")[0]


@pytest.mark.parametrize(
    "name",
    [
        "residency_region",
        "residency_transferrule",
        "sites_site",
        "sites_device",
        "accounts_regionmembership",
    ],
)
def test_it_lists_each_registry_model(admin_client, eu_device, name):
    assert admin_client.get(reverse(f"admin:{name}_changelist")).status_code == 200


def test_it_never_shows_a_device_secret(admin_client, eu_device):
    row = Device.objects.filter(pk=eu_device.device.pk).values().get()
    for url in (
        reverse("admin:sites_device_changelist"),
        reverse("admin:sites_device_change", args=[eu_device.device.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert eu_device.device_id in page
        for secret in (eu_device.secret, row["secret_sealed"]):
            assert secret not in page


def test_it_registers_a_device_through_the_service_and_shows_its_secret_once(admin_client, eu_site):
    answer = admin_client.post(
        reverse("admin:sites_device_add"), {"device_id": "dev-new", "site": eu_site.pk}
    )
    assert answer.status_code == 200
    assert "no-store" in answer["Cache-Control"]
    page = answer.content.decode()
    assert "cannot be shown again" in page
    device = Device.objects.get(device_id="dev-new")
    assert device_secrets(device) == [secret_on_page(page)]
    change = admin_client.get(reverse("admin:sites_device_change", args=[device.pk]))
    assert secret_on_page(page) not in change.content.decode()


def test_it_rotates_finishes_and_revokes_with_admin_actions(admin_client, eu_device):
    changelist = reverse("admin:sites_device_changelist")
    selected = {"_selected_action": [eu_device.device.pk]}
    page = admin_client.post(changelist, {"action": "rotate_secret", **selected})
    new = secret_on_page(page.content.decode())
    assert set(device_secrets(Device.objects.get())) == {eu_device.secret, new}

    admin_client.post(changelist, {"action": "finish_rotation", **selected})
    assert device_secrets(Device.objects.get()) == [new]

    admin_client.post(changelist, {"action": "revoke", **selected})
    assert Device.objects.get().is_revoked
    answer = admin_client.post(changelist, {"action": "rotate_secret", **selected}, follow=True)
    assert "is revoked" in answer.content.decode()


def test_it_refuses_a_region_without_a_database(admin_client):
    answer = admin_client.post(
        reverse("admin:residency_region_add"),
        {
            "code": "ap-south",
            "name": "Asia Pacific South",
            "endpoint": "",
            "min_bucket_seconds": 60,
            "raw_retention_days": 90,
            "rollup_retention_days": 730,
            "k_threshold": 5,
            "classes": '["car"]',
        },
    )
    assert answer.status_code == 200
    assert "has no database in JUNCTION_REGIONS" in answer.content.decode()
    assert not Region.objects.exists()


def region_form(**overrides) -> dict:
    return {
        "code": "us-east",
        "name": "US East",
        "endpoint": "",
        "min_bucket_seconds": 60,
        "raw_retention_days": 90,
        "rollup_retention_days": 730,
        "k_threshold": 5,
        "classes": '["car"]',
        "timezone": "America/New_York",
        "country": "US",
        "subdivision": "NY",
        **overrides,
    }


def test_it_registers_a_regions_local_time_and_holiday_calendar(admin_client):
    answer = admin_client.post(reverse("admin:residency_region_add"), region_form())
    assert answer.status_code == 302
    assert Region.objects.values_list("timezone", "country", "subdivision").get() == (
        "America/New_York",
        "US",
        "NY",
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"timezone": "America/Gotham"}, "is not an IANA time zone name"),
        ({"country": "QQ"}, "is not an ISO 3166-1 alpha-2 country code"),
        ({"subdivision": "ZZ"}, "valid subdivisions: AK, AL, AR"),
    ],
    ids=["time zone", "country", "subdivision"],
)
def test_it_refuses_a_bad_local_time_or_holiday_calendar_as_the_command_does(
    admin_client, overrides, message
):
    answer = admin_client.post(reverse("admin:residency_region_add"), region_form(**overrides))
    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert not Region.objects.exists()


def test_it_refuses_a_site_in_an_unknown_time_zone(admin_client, eu_site):
    page = admin_client.post(
        reverse("admin:sites_site_change", args=[eu_site.pk]),
        {
            "slug": eu_site.slug,
            "name": eu_site.name,
            "timezone": "Europe/Atlantis",
            "counters-TOTAL_FORMS": 0,
            "counters-INITIAL_FORMS": 0,
        },
    )
    assert page.status_code == 200
    assert "is not an IANA time zone name" in page.content.decode()
    assert Site.objects.get().timezone == "UTC"


def test_it_keeps_a_regions_code_and_a_sites_region_read_only(admin_client, eu_site):
    region_page = admin_client.get(
        reverse("admin:residency_region_change", args=[eu_site.region.pk])
    ).content.decode()
    site_page = admin_client.get(
        reverse("admin:sites_site_change", args=[eu_site.pk])
    ).content.decode()
    assert 'name="code"' not in region_page
    assert 'name="region"' not in site_page
    assert 'name="counters-0-name"' in site_page


def test_it_shows_an_operator_only_the_devices_of_their_regions(
    client, eu_operator, eu_device, us_device
):
    eu_operator.user_permissions.add(*Permission.objects.filter(content_type__app_label="sites"))
    client.force_login(eu_operator)
    page = client.get(reverse("admin:sites_device_changelist")).content.decode()
    assert eu_device.device_id in page and us_device.device_id not in page
    other = client.get(reverse("admin:sites_device_change", args=[us_device.device.pk]))
    assert other.status_code == 302  # Django's admin: "doesn't exist, perhaps deleted?"
    assert client.get(reverse("admin:accounts_regionmembership_changelist")).status_code == 403
