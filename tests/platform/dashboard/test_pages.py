"""Dashboard pages: login, the user's regions/sites/device health, who may open a site page
(what a site page shows: test_site_study.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from junction.sites.models import Device
from junction.sites.services import device_revoke
from tests.platform.staff import staff


@pytest.fixture
def now():
    return timezone.now().replace(second=0, microsecond=0)


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    answer = client.get("/")
    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/login/?next=/")


def test_it_logs_staff_in_and_out(client, eu_west):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user(username="ana", password="s3cret-pass")
    answer = client.post("/accounts/login/", {"username": "ana", "password": "s3cret-pass"})
    assert answer.status_code == 302 and answer["Location"] == "/"
    assert client.get("/").status_code == 200
    answer = client.post("/accounts/logout/")
    assert answer["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_it_lists_only_the_users_regions_sites_and_devices(
    client, eu_analyst, eu_device, us_device
):
    Device.objects.filter(pk=eu_device.device.pk).update(
        last_batch_at=timezone.now() - timedelta(minutes=3), batches_received=42
    )
    client.force_login(eu_analyst)
    page = client.get("/").content.decode()
    assert "main-and-5th" in page and eu_device.device_id in page
    assert "broadway-and-king" not in page and us_device.device_id not in page
    assert "analyst" in page
    assert "3\xa0minutes ago" in page and ">42<" in page
    assert 'class="state-ok"' in page
    assert eu_device.secret not in page


def test_it_flags_late_never_seen_and_revoked_devices(client, admin_user, eu_device, us_device):
    Device.objects.filter(pk=eu_device.device.pk).update(
        last_batch_at=timezone.now() - timedelta(hours=2)
    )
    client.force_login(admin_user)
    page = client.get("/").content.decode()
    assert 'class="state-late"' in page and 'class="state-never"' in page
    device_revoke(device_id=us_device.device_id)
    assert 'class="state-revoked"' in client.get("/").content.decode()


def test_it_tells_a_user_without_regions_what_to_do(client, outsider, eu_site):
    client.force_login(outsider)
    page = client.get("/").content.decode()
    assert "not a member of any region" in page
    assert "main-and-5th" not in page


def test_it_refuses_a_site_of_another_region_with_the_reason(client, eu_analyst, us_site):
    client.force_login(eu_analyst)
    answer = client.get(reverse("dashboard:site", args=[us_site.slug]))
    assert answer.status_code == 403
    assert "not &#x27;us-east&#x27;" in answer.content.decode()


def test_it_answers_404_for_an_unknown_site(client, eu_analyst):
    client.force_login(eu_analyst)
    assert client.get(reverse("dashboard:site", args=["nowhere"])).status_code == 404


def test_it_sends_a_pinned_node_reader_to_the_sites_region(client, eu_west, us_site):
    user = staff("both", eu_west="analyst", us_east="analyst")
    client.force_login(user)
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        answer = client.get(reverse("dashboard:site", args=[us_site.slug]))
    assert answer.status_code == 421
    assert answer.json()["endpoint"] == "https://us-east.junction.example"


# --- pinned query counts: the pages cost the same however many sites and devices ----------


def _many(region: str, n: int) -> None:
    from junction.sites.services import device_add, site_add

    for i in range(n):
        site_add(
            slug=f"{region}-site-{i}",
            region=region,
            name=f"Site {i}",
            counters={"a": {"line": [0, 0, 1, 1]}, "b": {"line": [1, 1, 2, 2]}},
        )
        device_add(device_id=f"{region}-dev-{i}", site=f"{region}-site-{i}")


# session, user, memberships, regions, sites (with counter/device counts), devices
HOME_QUERIES = 6


@pytest.mark.parametrize("n", [1, 8])
def test_it_renders_the_home_page_in_a_fixed_number_of_queries(
    client, eu_analyst, django_assert_num_queries, n
):
    _many("eu-west", n)
    client.force_login(eu_analyst)
    with django_assert_num_queries(HOME_QUERIES, using="default"):
        answer = client.get("/")
    assert answer.content.decode().count("eu-west-dev-") == n
