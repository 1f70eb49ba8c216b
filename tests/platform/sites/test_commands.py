"""Operator commands: each prints a readable line or JSON, and fails in one line writing nothing."""

from __future__ import annotations

import hashlib
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from junction.residency.models import Region
from junction.sites import credentials
from junction.sites.models import Counter, Device, Site
from junction.sites.services import device_secrets


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_json(*args: str) -> dict:
    out, _ = run(*args, "--json")
    return json.loads(out)


# --- region_add ------------------------------------------------------------------------------


def test_it_registers_a_region_with_its_policy():
    out, _ = run(
        "region_add",
        "eu-west",
        "--name",
        "Europe West",
        "--endpoint",
        "https://eu.example",
        "--min-bucket-seconds",
        "300",
        "--retention-days",
        "30",
        "--rollup-retention-days",
        "365",
        "--k",
        "7",
    )
    assert out.strip() == "region eu-west (Europe West) registered"
    region = Region.objects.get(code="eu-west")
    assert (
        region.endpoint,
        region.min_bucket_seconds,
        region.raw_retention_days,
        region.rollup_retention_days,
        region.k_threshold,
    ) == ("https://eu.example", 300, 30, 365, 7)


def test_it_prints_the_region_as_json():
    payload = run_json("region_add", "us-east", "--name", "US East")
    assert payload == {
        "code": "us-east",
        "name": "US East",
        "endpoint": "",
        "min_bucket_seconds": 60,
        "raw_retention_days": 90,
        "rollup_retention_days": 730,
        "k_threshold": 5,
        "timezone": "UTC",
        "country": "",
        "subdivision": "",
    }


def test_it_registers_a_regions_local_time_and_holiday_calendar():
    payload = run_json(
        "region_add",
        "us-east",
        "--name",
        "US East",
        "--timezone",
        "America/New_York",
        "--country",
        "US",
        "--subdivision",
        "NY",
    )
    assert (payload["timezone"], payload["country"], payload["subdivision"]) == (
        "America/New_York",
        "US",
        "NY",
    )
    region = Region.objects.get(code="us-east")
    assert (region.timezone, region.country, region.subdivision) == ("America/New_York", "US", "NY")


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--timezone", "Mars/Olympus_Mons"],
            "--timezone: 'Mars/Olympus_Mons' is not an IANA time zone name",
        ),
        (["--timezone", ""], "--timezone: "),
        (["--country", "XX"], "--country: 'XX' is not an ISO 3166-1 alpha-2 country code"),
        (["--country", "USA"], "--country: "),
        (
            ["--country", "US", "--subdivision", "ZZ"],
            "--subdivision: 'ZZ' is not a subdivision of US; valid subdivisions: AK, AL, AR, ",
        ),
        (
            ["--country", "IE", "--subdivision", "D"],
            "--subdivision: 'D' is not a subdivision of IE",
        ),
        (["--subdivision", "NY"], "--subdivision: subdivision 'NY' needs a country"),
    ],
    ids=[
        "unknown zone",
        "empty zone",
        "unknown country",
        "alpha-3 country",
        "unknown subdivision",
        "country without subdivisions",
        "subdivision alone",
    ],
)
def test_it_refuses_a_bad_local_time_or_holiday_calendar_naming_the_option(args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run("region_add", "us-east", "--name", "US East", *args)
    assert not Region.objects.exists()


def test_it_refuses_a_region_without_a_database():
    with pytest.raises(CommandError, match="'ap-south' has no database in JUNCTION_REGIONS"):
        run("region_add", "ap-south", "--name", "Asia Pacific South")
    assert not Region.objects.exists()


def test_it_refuses_a_region_registered_twice(eu_west):
    with pytest.raises(CommandError, match="already exists"):
        run("region_add", "eu-west", "--name", "Again")
    assert Region.objects.get().name == "Europe West"


def test_it_refuses_an_invalid_endpoint():
    with pytest.raises(CommandError, match="endpoint"):
        run("region_add", "eu-west", "--name", "Europe West", "--endpoint", "not a url")
    assert not Region.objects.exists()


# --- site_add --------------------------------------------------------------------------------


def test_it_registers_a_site_with_its_counting_lines(eu_west):
    out, _ = run(
        "site_add",
        "elm-and-oak",
        "--region",
        "eu-west",
        "--name",
        "Elm & Oak",
        "--counter",
        "north=100,200,500,200",
        "--counter",
        "south=0,0.5,10,20",
    )
    assert out.strip() == (
        "site elm-and-oak (Elm & Oak) registered in region eu-west (UTC) with 2 counter(s)"
    )
    site = Site.objects.get(slug="elm-and-oak")
    assert site.region == eu_west
    assert {c.name: c.geometry for c in site.counters.all()} == {
        "north": {"line": [100, 200, 500, 200]},
        "south": {"line": [0, 0.5, 10, 20]},
    }


def test_it_prints_the_site_as_json(eu_west):
    payload = run_json(
        "site_add",
        "elm-and-oak",
        "--region",
        "eu-west",
        "--name",
        "Elm & Oak",
        "--counter",
        "north=1,2,3,4",
    )
    assert payload == {
        "slug": "elm-and-oak",
        "name": "Elm & Oak",
        "region": "eu-west",
        "timezone": "UTC",
        "latitude": None,
        "longitude": None,
        "counters": [{"name": "north", "kind": "line", "geometry": {"line": [1, 2, 3, 4]}}],
    }


def test_a_site_is_placed_by_its_coordinates(eu_west):
    payload = run_json(
        "site_add",
        "quay",
        "--region",
        "eu-west",
        "--name",
        "Quay",
        "--lat",
        "53.346",
        "--lon",
        "-6.27",
    )
    assert (payload["latitude"], payload["longitude"]) == (53.346, -6.27)
    assert Site.objects.values_list("latitude", "longitude").get() == (53.346, -6.27)


def test_a_site_takes_its_regions_time_zone_unless_given_one():
    run("region_add", "us-east", "--name", "US East", "--timezone", "America/New_York")
    run("site_add", "broadway-and-king", "--region", "us-east", "--name", "Broadway & King")
    run(
        "site_add",
        "main-and-1st",
        "--region",
        "us-east",
        "--name",
        "Main & 1st",
        "--timezone",
        "America/Chicago",
    )
    assert dict(Site.objects.values_list("slug", "timezone")) == {
        "broadway-and-king": "America/New_York",
        "main-and-1st": "America/Chicago",
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (["--region", "ap-south"], "region: unknown region 'ap-south'"),
        (
            ["--region", "eu-west", "--counter", "north=1,2,3"],
            "is not of the form NAME=X1,Y1,X2,Y2",
        ),
        (["--region", "eu-west", "--counter", "north"], "is not of the form"),
        (["--region", "eu-west", "--counter", "north=a,b,c,d"], "coordinates must be numbers"),
        (["--region", "eu-west", "--counter", "north=1,1,1,1"], "two ends are the same point"),
        (
            ["--region", "eu-west", "--counter", "n=1,2,3,4", "--counter", "n=5,6,7,8"],
            "given twice",
        ),
        (
            ["--region", "eu-west", "--timezone", "Europe/Atlantis"],
            "--timezone: 'Europe/Atlantis' is not an IANA time zone name",
        ),
        (["--region", "eu-west", "--lat", "53.34"], "longitude: give both latitude and longitude"),
        (
            ["--region", "eu-west", "--lat", "91", "--lon", "0"],
            "latitude: Ensure this value is less than or equal to 90",
        ),
    ],
    ids=[
        "unknown region",
        "three numbers",
        "no geometry",
        "not numbers",
        "a point",
        "duplicate counter",
        "unknown time zone",
        "half a position",
        "latitude beyond a pole",
    ],
)
def test_it_refuses_a_bad_site_and_writes_nothing(eu_west, args, message):
    with pytest.raises(CommandError, match=message):
        run("site_add", "elm-and-oak", "--name", "Elm & Oak", *args)
    assert not Site.objects.exists()
    assert not Counter.objects.exists()


def test_it_refuses_a_duplicate_site_slug(eu_site):
    with pytest.raises(CommandError, match="slug: Site with this Slug already exists"):
        run("site_add", eu_site.slug, "--region", "eu-west", "--name", "Again")
    assert Site.objects.count() == 1


# --- device_add ------------------------------------------------------------------------------


def test_it_registers_a_device_and_shows_its_secret_once(eu_site):
    out, err = run("device_add", "dev-1", "--site", eu_site.slug)
    secret = out.strip().splitlines()[-1].removeprefix("secret: ")
    assert "device dev-1 registered for site main-and-5th (region eu-west)" in out
    assert "shown once and cannot be shown again" in err
    device = Device.objects.get(device_id="dev-1")
    assert device_secrets(device) == [secret]


def test_it_keeps_no_plaintext_secret_in_the_device_row(eu_site):
    payload = run_json("device_add", "dev-1", "--site", eu_site.slug)
    secret = payload["secret"]
    assert "cannot be shown again" in payload["warning"]
    row = Device.objects.filter(device_id="dev-1").values().get()
    for column, value in row.items():
        assert secret not in str(value), column
    assert row["secret_fingerprint"] == hashlib.sha256(secret.encode()).hexdigest()
    assert credentials.unseal(row["secret_sealed"]) == secret


def test_it_prints_the_device_as_json(eu_site):
    payload = run_json("device_add", "dev-1", "--site", eu_site.slug)
    assert {k: v for k, v in payload.items() if k not in ("secret", "warning")} == {
        "device_id": "dev-1",
        "site": "main-and-5th",
        "region": "eu-west",
        "secret_fingerprint": hashlib.sha256(payload["secret"].encode()).hexdigest(),
        "rotation_in_progress": False,
        "revoked": False,
        "revoked_at": None,
    }


def test_it_refuses_a_device_for_an_unknown_site(eu_site):
    with pytest.raises(CommandError, match="site: unknown site 'nowhere'"):
        run("device_add", "dev-1", "--site", "nowhere")
    assert not Device.objects.exists()


def test_it_refuses_a_duplicate_device(eu_device):
    before = Device.objects.values().get()
    with pytest.raises(CommandError, match="already exists"):
        run("device_add", eu_device.device_id, "--site", eu_device.site.slug)
    assert Device.objects.values().get() == before


# --- device_rotate / device_revoke -----------------------------------------------------------


def test_it_keeps_both_secrets_valid_until_the_rotation_is_finished(eu_device):
    payload = run_json("device_rotate", eu_device.device_id)
    new = payload["secret"]
    assert payload["rotation_in_progress"] is True
    device = Device.objects.get()
    assert set(device_secrets(device)) == {eu_device.secret, new}

    out, _ = run("device_rotate", eu_device.device_id, "--finish")
    assert "rotation finished" in out
    assert device_secrets(Device.objects.get()) == [new]


def test_it_explains_the_rotation_in_readable_output(eu_device):
    out, err = run("device_rotate", eu_device.device_id)
    assert f"device_rotate {eu_device.device_id} --finish" in out
    assert "secret: " in out
    assert "cannot be shown again" in err


def test_it_refuses_a_second_rotation_before_the_first_is_finished(eu_device):
    new = run_json("device_rotate", eu_device.device_id)["secret"]
    with pytest.raises(CommandError, match="already rotating"):
        run("device_rotate", eu_device.device_id)
    assert set(device_secrets(Device.objects.get())) == {eu_device.secret, new}


def test_it_refuses_to_finish_a_rotation_that_was_not_started(eu_device):
    with pytest.raises(CommandError, match="no rotation in progress"):
        run("device_rotate", eu_device.device_id, "--finish")
    assert device_secrets(Device.objects.get()) == [eu_device.secret]


def test_it_refuses_to_rotate_an_unknown_device(db):
    with pytest.raises(CommandError, match="device_id: unknown device 'ghost'"):
        run("device_rotate", "ghost")


def test_it_revokes_a_device(eu_device):
    out, _ = run("device_revoke", eu_device.device_id)
    assert out.startswith(f"device {eu_device.device_id} revoked at ")
    device = Device.objects.get()
    assert device.is_revoked
    payload = run_json("device_revoke", eu_device.device_id)  # idempotent
    assert payload["revoked"] is True
    assert payload["revoked_at"] == device.revoked_at.isoformat()


def test_it_refuses_to_rotate_a_revoked_device(eu_device):
    run("device_revoke", eu_device.device_id)
    with pytest.raises(CommandError, match="is revoked"):
        run("device_rotate", eu_device.device_id)


def test_it_refuses_to_revoke_an_unknown_device(db):
    with pytest.raises(CommandError, match="unknown device 'ghost'"):
        run("device_revoke", "ghost")
