"""A region's fleet page: per device its releases, update state, last check-in (region time)
and reason, the region's rollouts with their status, each as CSV; the same rows as `manage.py
fleet --json`; another region's staff refused, an unknown region 404, a bad parameter 400."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils.html import escape

from junction.residency.models import Region
from junction.sites import services as site_services
from tests.platform.fleet.conftest import checkin, command_json, publish

HELSINKI = ZoneInfo("Europe/Helsinki")  # never UTC's offset: a time left in UTC would show


def fleet_url(region: str = "eu-west", **query: str) -> str:
    url = reverse("dashboard:region-fleet", args=[region])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


@pytest.fixture
def rollout(eu_repo, config_patch, eu_device, eu_device_b, clean_cache):
    """v2 offered to both eu-west devices, eu_device its canary, in a region on Helsinki time."""
    Region.objects.filter(code="eu-west").update(timezone="Europe/Helsinki")
    publish("v2", config=config_patch)
    devices = f"{eu_device.device_id},{eu_device_b.device_id}"
    started = command_json("rollout_start", "v2", "--region", "eu-west", "--devices", devices)
    return started["id"]


def test_it_shows_the_canary_stage_then_the_halt_with_each_devices_reason(
    client, eu_analyst, rollout, eu_device, eu_device_b
):
    client.force_login(eu_analyst)
    checkin(client, eu_device, state="downloading", release="v2")
    page = client.get(fleet_url())
    assert page.status_code == 200
    [(shown, phase)] = page.context["rollouts"]
    assert (shown.pk, shown.release, phase) == (rollout, "v2", "canary")
    rows = {d.device_id: d for d in page.context["devices"]}
    assert (rows[eu_device.device_id].state, rows[eu_device.device_id].desired_release) == (
        "downloading",
        "v2",
    )
    assert rows[eu_device_b.device_id].last_checkin_at is None
    assert "never" in page.content.decode()

    checkin(
        client,
        eu_device,
        state="rolled_back",
        release="v2",
        reason="health gate: no detections for 120 s",
    )
    page = client.get(fleet_url())
    html = page.content.decode()
    [(shown, phase)] = page.context["rollouts"]
    assert phase == "halted" and shown.reason and escape(shown.reason) in html
    assert '<td class="state-rolled_back">rolled_back</td>' in html
    assert "health gate: no detections for 120 s" in html
    # The last check-in in the region's time, the zone named in the column heading.
    checked = page.context["devices"][0].last_checkin_at
    assert checked.astimezone(HELSINKI).strftime("%Y-%m-%d %H:%M") in html
    assert "Last check-in (Europe/Helsinki)" in html


def test_it_shows_what_manage_py_fleet_reports(client, eu_analyst, rollout, eu_device):
    checkin(client, eu_device, state="activating", release="v2")
    client.force_login(eu_analyst)
    page = client.get(fleet_url())
    command = command_json("fleet", "--region", "eu-west")
    assert [d.as_json() for d in page.context["devices"]] == command["devices"]
    assert [(r.pk, phase) for r, phase in page.context["rollouts"]] == [
        (r["id"], r["phase"]) for r in command["rollouts"]
    ]


def test_the_csv_carries_the_pages_rows_in_region_time(client, eu_analyst, rollout, eu_device):
    checkin(client, eu_device, state="verifying", release="v2")
    client.force_login(eu_analyst)
    answer = client.get(fleet_url(format="csv"))
    assert answer["Content-Type"] == "text/csv; charset=utf-8"
    disposition = answer["Content-Disposition"]
    assert disposition.startswith('attachment; filename="eu-west_fleet-devices_')
    assert disposition.endswith('_Europe-Helsinki.csv"')
    rows = {r["device"]: r for r in csv.DictReader(io.StringIO(answer.content.decode()))}
    canary = rows[eu_device.device_id]
    assert (canary["desired_release"], canary["state"], canary["rollout"]) == (
        "v2",
        "verifying",
        str(rollout),
    )
    checked = datetime.fromisoformat(canary["last_checkin"])
    assert checked.utcoffset() == HELSINKI.utcoffset(checked.replace(tzinfo=None))
    assert len(rows) == 2 and rows["dev-main-5th-s"]["last_checkin"] == ""

    rollouts = list(
        csv.DictReader(io.StringIO(client.get(fleet_url(format="csv", table="rollouts")).text))
    )
    assert [(r["rollout"], r["release"], r["status"], r["devices"]) for r in rollouts] == [
        (str(rollout), "v2", "canary", "2")
    ]
    assert rollouts[0]["canaries"] == eu_device.device_id


@pytest.mark.parametrize(
    "query, parameter",
    [({"format": "xlsx"}, "format"), ({"format": "csv", "table": "releases"}, "table")],
)
def test_a_bad_parameter_is_a_400_naming_it(client, eu_analyst, eu_west, query, parameter):
    client.force_login(eu_analyst)
    answer = client.get(fleet_url(**query))
    assert answer.status_code == 400 and parameter in answer.content.decode()


def test_another_regions_staff_are_refused_page_and_csv(client, us_analyst, eu_device):
    client.force_login(us_analyst)
    for url in (fleet_url(), fleet_url(format="csv"), fleet_url(format="csv", table="rollouts")):
        answer = client.get(url)
        assert answer.status_code == 403, url
        assert "eu-west" in answer.content.decode() and eu_device.device_id not in answer.text


def test_an_unknown_region_is_a_404(client, admin_user, eu_west):
    client.force_login(admin_user)
    assert client.get(fleet_url("mars-north")).status_code == 404


def test_it_asks_for_a_login_first(client, eu_west):
    answer = client.get(fleet_url())
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_a_region_without_repository_or_devices_says_so(client, eu_analyst, eu_west):
    client.force_login(eu_analyst)
    html = client.get(fleet_url()).content.decode()
    assert "No rollouts in this region yet." in html and "No devices in this region yet." in html


def test_the_region_overview_links_to_it(client, eu_analyst, eu_west):
    client.force_login(eu_analyst)
    html = client.get(reverse("dashboard:region", args=["eu-west"])).content.decode()
    assert f'href="{fleet_url()}"' in html


# control: session, user, region, memberships, devices; region: update states, rollouts
FLEET_CONTROL_QUERIES, FLEET_REGION_QUERIES = 5, 2


@pytest.mark.parametrize("n", [1, 6])
def test_it_renders_in_a_fixed_number_of_queries(
    client, eu_analyst, eu_site, n, django_assert_num_queries
):
    for i in range(n):
        site_services.device_add(device_id=f"dev-{i}", site=eu_site.slug)
    client.force_login(eu_analyst)
    with (
        django_assert_num_queries(FLEET_REGION_QUERIES, using="region_eu-west"),
        django_assert_num_queries(FLEET_CONTROL_QUERIES, using="default"),
    ):
        answer = client.get(fleet_url())
    assert len(answer.context["devices"]) == n


def test_a_pinned_node_sends_a_reader_of_another_region_to_its_node(client, eu_west, us_device):
    from django.test import override_settings

    from tests.platform.staff import staff

    client.force_login(staff("both", eu_west="analyst", us_east="analyst"))
    with override_settings(SERVED_REGIONS=("eu-west",), JUNCTION_REGION="eu-west"):
        assert client.get(fleet_url("eu-west")).status_code == 200
        answer = client.get(fleet_url("us-east"))
    assert answer.status_code == 421
    assert answer.json()["endpoint"] == "https://us-east.junction.example"
