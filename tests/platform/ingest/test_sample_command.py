"""`manage.py ingest_sample` signs and sends the documented example batch to a live server."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from junction.ingest.sample import sample_batch
from junction.traffic.models import CountRow
from tests.platform.ingest.device import stored_counts

live = pytest.mark.django_db(transaction=True, databases="__all__")


def test_it_builds_the_documented_example_for_a_site_with_its_names(eu_device):
    bucket = sample_batch(eu_device.device)["buckets"][0]
    # The fixture registers N>E as a line (site_add takes no kind), so it gets a direction.
    assert [(c["counter"], c["class"], c["count"]) for c in bucket["counts"]] == [
        ("north-stopline", "car", 12),
        ("N>E", "bicycle", 1),
    ]
    assert bucket["occupancy"][0]["zone"] == "crosswalk-north"


@live
def test_it_sends_a_sample_batch_that_is_stored(live_server, eu_device):
    out = io.StringIO()
    call_command(
        "ingest_sample",
        device=eu_device.device_id,
        secret=eu_device.secret,
        url=live_server.url,
        stdout=out,
    )
    assert "HTTP 201" in out.getvalue()
    assert '"status": "stored"' in out.getvalue()
    assert CountRow.objects.in_region("eu-west").count() == 2


@live
def test_it_fits_the_example_to_a_site_with_other_counter_names(live_server, us_site):
    from junction.sites import services

    services.counter_add(site=us_site, name="north-stopline")
    issued = services.device_add(device_id="dev-broadway-king-n", site=us_site.slug)
    out = io.StringIO()
    call_command(
        "ingest_sample",
        device="dev-broadway-king-n",
        secret=issued.secret,
        url=live_server.url + "/api/v1/ingest/batches",
        stdout=out,
    )
    assert "HTTP 201" in out.getvalue()
    assert stored_counts()["us-east:CountRow"] == 2


@live
def test_it_reports_a_refusal_as_an_error(live_server, eu_device):
    with pytest.raises(CommandError, match="HTTP 401"):
        call_command(
            "ingest_sample",
            device=eu_device.device_id,
            secret="wrong",
            url=live_server.url,
            stdout=io.StringIO(),
        )
    assert not any(stored_counts().values())
