"""Serving a region's repository and check-ins: HTTP caching, device signatures, and region
isolation (a device reads and checks in at its own region only)."""

from __future__ import annotations

import json

import pytest

from junction.fleet.models import DeviceUpdate
from tests.platform.fleet.conftest import (
    checkin,
    django_headers,
    publish,
    repo_get,
    signed_headers,
)

METADATA = "/api/v1/fleet/{region}/metadata/{name}"


@pytest.fixture
def repos(eu_repo, us_repo, clean_cache):
    return eu_repo, us_repo


def test_it_lets_a_cache_revalidate_the_timestamp_and_keep_versioned_files(
    client, repos, eu_device
):
    path = METADATA.format(region="eu-west", name="timestamp.json")
    first = repo_get(client, eu_device, path)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    assert json.loads(first.content)["signed"]["_type"] == "timestamp"

    again = repo_get(client, eu_device, path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304

    root = repo_get(client, eu_device, METADATA.format(region="eu-west", name="1.root.json"))
    assert root["Cache-Control"] == "private, max-age=31536000, immutable"
    assert root["ETag"]


def test_it_serves_a_target_under_its_hash_only(client, repos, eu_device, config_patch):
    publish("v2", config=config_patch)
    digest = json.loads(
        repo_get(
            client, eu_device, METADATA.format(region="eu-west", name="2.targets.json")
        ).content
    )["signed"]["targets"]["v2/site-patch.yaml"]["hashes"]["sha256"]

    targets = "/api/v1/fleet/eu-west/targets/v2"
    found = repo_get(client, eu_device, f"{targets}/{digest}.site-patch.yaml")
    assert found.status_code == 200 and b"bucket_seconds: 120" in found.content
    wrong = repo_get(client, eu_device, f"{targets}/{'0' * 64}.site-patch.yaml")
    assert wrong.status_code == 404


def test_it_refuses_unsigned_and_badly_signed_reads(client, repos, eu_device):
    path = METADATA.format(region="eu-west", name="timestamp.json")
    assert client.get(path).status_code == 401
    signed_for_another_path = signed_headers(eu_device, b"GET /api/v1/fleet/eu-west/x")
    refused = client.get(path, **django_headers(signed_for_another_path))
    assert refused.status_code == 401
    assert refused.json()["error"] == "bad_signature"


def test_a_device_cannot_read_another_regions_repository(client, repos, eu_device):
    refused = repo_get(client, eu_device, METADATA.format(region="us-east", name="timestamp.json"))
    assert refused.status_code == 403
    assert refused.json()["error"] == "wrong_region"


def test_a_device_cannot_check_in_at_another_region(client, repos, eu_device):
    refused = checkin(client, eu_device, region="us-east", state="current")

    assert refused.status_code == 403
    assert not DeviceUpdate.objects.in_region("us-east").exists()
    assert not DeviceUpdate.objects.in_region("eu-west").exists()


def test_a_node_pinned_to_one_region_sends_the_device_to_its_own(
    client, repos, eu_device, settings
):
    settings.SERVED_REGIONS = ("us-east",)

    misdirected = repo_get(
        client, eu_device, METADATA.format(region="eu-west", name="timestamp.json")
    )
    assert misdirected.status_code == 421
    assert misdirected.json()["endpoint"] == "https://eu-west.junction.example"


def test_it_refuses_a_replayed_check_in_and_a_body_for_another_device(
    client, repos, eu_device, eu_device_b
):
    body = json.dumps(
        {"schema": "junction.checkin/v1", "device_id": eu_device.device_id, "state": "current"}
    ).encode()
    headers = django_headers(signed_headers(eu_device, body))
    url = "/api/v1/fleet/eu-west/checkin"
    assert (
        client.post(url, data=body, content_type="application/json", **headers).status_code == 200
    )
    replayed = client.post(url, data=body, content_type="application/json", **headers)
    assert replayed.status_code == 401 and replayed.json()["error"] == "replayed_signature"

    other = json.dumps(
        {"schema": "junction.checkin/v1", "device_id": eu_device_b.device_id, "state": "current"}
    ).encode()
    refused = client.post(
        url,
        data=other,
        content_type="application/json",
        **django_headers(signed_headers(eu_device, other)),
    )
    assert refused.status_code == 422 and refused.json()["field"] == "device_id"


@pytest.mark.parametrize(
    ("report", "field"),
    [
        ({"state": "rolled_back", "release": "v2"}, "body"),
        ({"state": "installed"}, "state"),
        ({"state": "current", "colour": "blue"}, "colour"),
    ],
)
def test_it_refuses_an_invalid_check_in(client, repos, eu_device, report, field):
    refused = checkin(client, eu_device, **report)

    assert refused.status_code == 422
    assert refused.json()["field"] == field
