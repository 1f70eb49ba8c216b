"""demo_seed: a working demo in one run, and nothing duplicated by the next (the regions, sites,
devices and staff; the history it sends is tested in test_demo_history)."""

from __future__ import annotations

import json
import stat
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from junction.accounts.models import RegionMembership
from junction.residency.models import Region
from junction.sites.models import Counter, Device, Site
from junction.sites.services import device_secrets


def seed(*args: str) -> str:
    out = StringIO()
    call_command("demo_seed", "--no-history", *args, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Region, Site, Counter, Device, RegionMembership, get_user_model())
    }


def test_it_seeds_two_regions_each_with_a_site_and_a_device(var_dir):
    out = seed()
    assert {r.code: r.endpoint for r in Region.objects.all()} == {
        "eu-west": "http://127.0.0.1:8000",
        "us-east": "http://127.0.0.1:8000",
    }
    counters = {
        "eu-west": [
            ("N>E", "movement"),
            ("N>S", "movement"),
            ("N>W", "movement"),
            ("S>E", "movement"),
            ("S>N", "movement"),
            ("S>W", "movement"),
            ("crosswalk-north", "zone"),
            ("east-arm", "zone"),
            ("north-stopline", "line"),
            ("south-stopline", "line"),
            ("west-arm", "zone"),
        ],
        "us-east": [("east-stopline", "line"), ("west-stopline", "line")],
    }
    for region, expected in counters.items():
        site = Site.objects.get(region__code=region)
        assert list(site.counters.order_by("name").values_list("name", "kind")) == expected
        assert Device.objects.filter(site=site).count() == 1
    for device in Device.objects.all():
        assert f"device {device.device_id} secret: " in out


def test_it_gives_the_demo_regions_their_local_time_and_holiday_calendars(var_dir):
    seed()
    assert sorted(Region.objects.values_list("code", "timezone", "country", "subdivision")) == [
        ("eu-west", "Europe/Dublin", "IE", ""),
        ("us-east", "America/New_York", "US", "NY"),
    ]
    assert dict(Site.objects.values_list("region__code", "timezone")) == {
        "eu-west": "Europe/Dublin",
        "us-east": "America/New_York",
    }


def test_it_writes_each_devices_secret_to_a_private_file(var_dir):
    seed()
    path = var_dir / "demo-devices.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    devices = json.loads(path.read_text())["devices"]
    assert set(devices) == set(Device.objects.values_list("device_id", flat=True))
    for device_id, entry in devices.items():
        device = Device.objects.get(device_id=device_id)
        assert device_secrets(device) == [entry["secret"]]
        assert entry["region"] == device.site.region.code
        assert entry["ingest_url"].endswith("/api/v1/ingest/batches")


def test_it_seeds_staff_who_can_log_in(var_dir):
    seed()
    users = json.loads((var_dir / "demo-users.json").read_text())["users"]
    User = get_user_model()
    for username, entry in users.items():
        assert User.objects.get(username=username).check_password(entry["password"])
    assert User.objects.get(username="admin").is_superuser
    assert dict(
        RegionMembership.objects.filter(user__username="analyst-eu").values_list(
            "region__code", "role"
        )
    ) == {"eu-west": "analyst"}


def test_it_duplicates_nothing_and_keeps_secrets_when_run_again(var_dir):
    seed()
    before = counts()
    first_file = (var_dir / "demo-devices.json").read_text()
    payload = json.loads(seed("--json"))
    assert counts() == before
    assert payload["created"] == [] and payload["issued_secrets"] == {}
    assert (var_dir / "demo-devices.json").read_text() == first_file


def test_it_issues_a_new_secret_when_the_demo_file_was_lost(var_dir):
    seed()
    (var_dir / "demo-devices.json").unlink()
    payload = json.loads(seed("--json"))
    devices = json.loads((var_dir / "demo-devices.json").read_text())["devices"]
    assert set(payload["issued_secrets"]) == set(devices)
    for device_id, entry in devices.items():
        assert device_secrets(Device.objects.get(device_id=device_id)) == [entry["secret"]]
    assert Device.objects.count() == 2


def test_it_refuses_to_seed_a_production_deployment(var_dir, settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="JUNCTION_PRODUCTION"):
        seed()
    assert not Region.objects.exists()
