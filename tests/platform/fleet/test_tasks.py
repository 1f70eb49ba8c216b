"""The beat entry that keeps each region's snapshot and timestamp signed, on its own queue."""

from __future__ import annotations

from celery.exceptions import Reject

from junction.celery import app
from junction.fleet.schedule import fleet_beat_schedule
from junction.fleet.tasks import refresh_metadata  # as the worker's autodiscovery loads it


def test_beat_refreshes_every_served_region_on_its_own_queue():
    entries = {
        name: entry for name, entry in app.conf.beat_schedule.items() if name.startswith("fleet-")
    }

    assert entries == fleet_beat_schedule(["eu-west", "us-east"])
    for code in ("eu-west", "us-east"):
        entry = entries[f"fleet-refresh-{code}"]
        assert entry["task"] in app.tasks
        assert entry["kwargs"] == {"region": code}
        assert entry["options"] == {"queue": f"region.{code}"}


def test_a_refresh_of_a_region_this_node_does_not_serve_is_refused(settings):
    settings.SERVED_REGIONS = ("us-east",)
    try:
        refresh_metadata(region="eu-west")
    except Reject as refused:
        assert "does not serve region 'eu-west'" in str(refused)
    else:
        raise AssertionError("the task ran for a region this node does not serve")
