"""A batch lands only in its device's region: 421 on a node that does not serve that region,
403 for a body that claims another device, site or region."""

from __future__ import annotations

import pytest

from tests.platform.ingest.device import (
    assert_error,
    assert_nothing_stored,
    example_batch,
    send,
    stored_counts,
)


@pytest.fixture
def pinned_to_eu_west(settings, us_device):
    # As JUNCTION_REGION=eu-west would configure the node: it serves eu-west only. The us-east
    # database is left configured here only so the test can prove nothing was written to it.
    settings.JUNCTION_REGION = "eu-west"
    settings.SERVED_REGIONS = ("eu-west",)


def test_it_answers_421_with_the_endpoint_on_a_node_pinned_to_another_region(
    client, us_device, pinned_to_eu_west
):
    response = send(client, us_device, example_batch(us_device))
    payload = assert_error(response, 421, "misdirected_region", "region")
    assert payload["endpoint"] == "https://us-east.junction.example"
    assert payload["region"] == "us-east"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.conf.settings.SERVED_REGIONS", ("eu-west", "us-east"))
        assert_nothing_stored()


def test_it_still_stores_its_own_region_on_a_pinned_node(client, eu_device, pinned_to_eu_west):
    assert send(client, eu_device, example_batch(eu_device)).status_code == 201


def test_it_refuses_a_device_writing_for_another_region(client, eu_device, us_device):
    body = example_batch(eu_device, region="us-east", site=us_device.site.slug)
    # The site is checked before the region; either way the device is refused.
    assert_error(send(client, eu_device, body), 403, "not_this_site", "site")
    body = example_batch(eu_device, region="us-east")
    assert_error(send(client, eu_device, body), 403, "not_this_region", "region")
    assert_nothing_stored()


def test_it_refuses_a_device_writing_for_another_site_of_its_region(client, eu_device):
    from junction.sites import services as site_services

    other = site_services.site_add(
        slug="high-and-1st", region="eu-west", name="High & 1st", counters={"north-stopline": {}}
    )
    body = example_batch(eu_device, site=other.slug)
    assert_error(send(client, eu_device, body), 403, "not_this_site", "site")
    assert_nothing_stored()


def test_it_refuses_a_body_that_names_another_device(client, eu_device, us_device):
    body = example_batch(eu_device, device_id=us_device.device_id)
    assert_error(send(client, eu_device, body), 403, "not_this_device", "device_id")
    assert_nothing_stored()


def test_it_writes_a_us_device_batch_only_to_the_us_database(client, us_device):
    assert send(client, us_device, example_batch(us_device)).status_code == 201
    counts = stored_counts()
    assert counts["us-east:CountRow"] == 2 and counts["us-east:IngestBatch"] == 1
    assert not any(v for k, v in counts.items() if k.startswith("eu-west")), counts
