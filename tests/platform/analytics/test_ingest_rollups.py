"""Rollups after ingest, through the real endpoint: each batch recomputes only the hours it
brought, however much history came before it, and no request ever sweeps recent receipts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from junction.analytics import rollups
from junction.analytics.models import DirtyWindow, Period, Rollup
from junction.analytics.receivers import BACKLOG_PER_REQUEST
from tests.platform.ingest.device import example_batch, example_bucket, send

pytestmark = pytest.mark.usefixtures("clean_cache")

HOURS_PER_BATCH = 3
BUCKET_SECONDS = 300


@pytest.fixture
def recomputed(monkeypatch):
    """The hours each rollups_recompute call covered, in call order."""
    calls: list[list[datetime]] = []
    real = rollups.rollups_recompute

    def spy(**kwargs):
        result = real(**kwargs)
        hours, hour = [], result.start
        while hour < result.end:
            hours.append(hour)
            hour += timedelta(hours=1)
        calls.append(hours)
        return result

    monkeypatch.setattr(rollups, "rollups_recompute", spy)
    return calls


def _history_batch(device, first_hour: datetime) -> dict:
    """Three hours of five-minute buckets, as a device catching up on its backlog sends them."""
    buckets = [
        example_bucket(
            first_hour + timedelta(seconds=BUCKET_SECONDS * i),
            seconds=BUCKET_SECONDS,
            uptime=1.0,
            speeds=[],
            occupancy=[],
            counts=[{"counter": "north-stopline", "direction": "in", "class": "car", "count": 4}],
        )
        for i in range(HOURS_PER_BATCH * 3600 // BUCKET_SECONDS)
    ]
    return example_batch(device, buckets=buckets)


def _backfill(client, device, batches: int, capture) -> list[list[datetime]]:
    """Send `batches` consecutive batches of history, oldest first; the hours each batch's
    request recomputed."""
    start = (datetime.now(UTC) - timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    per_batch = []
    for n in range(batches):
        first_hour = start + timedelta(hours=HOURS_PER_BATCH * n)
        with capture(using="region_eu-west", execute=True) as callbacks:
            response = send(client, device, _history_batch(device, first_hour))
        assert response.status_code == 201, response.content
        assert callbacks, "the batch was announced after commit"
        per_batch.append(first_hour)
    return per_batch


def test_it_recomputes_only_each_batchs_own_hours_however_long_the_history(
    client, eu_device, recomputed, django_capture_on_commit_callbacks
):
    firsts = _backfill(client, eu_device, 6, django_capture_on_commit_callbacks)
    # One recompute per batch, of exactly the hours its buckets cover: the sixth batch costs
    # what the first did, not six times as much.
    assert recomputed == [
        [first + timedelta(hours=h) for h in range(HOURS_PER_BATCH)] for first in firsts
    ]
    hourly = Rollup.objects.in_region("eu-west").filter(period=Period.HOUR)
    assert hourly.count() == 6 * HOURS_PER_BATCH
    assert set(hourly.values_list("count", flat=True)) == {4 * 12}
    assert not DirtyWindow.objects.in_region("eu-west").exists()


def test_a_request_never_sweeps_recent_receipts(
    client, eu_device, monkeypatch, django_capture_on_commit_callbacks
):
    swept = []
    monkeypatch.setattr(rollups, "dirty_windows_sweep", lambda **kw: swept.append(kw) or 0)
    _backfill(client, eu_device, 2, django_capture_on_commit_callbacks)
    assert swept == []
    assert Rollup.objects.in_region("eu-west").filter(period=Period.HOUR).count() == 6


def test_a_request_rolls_up_its_own_hours_first_and_only_a_little_of_an_old_backlog(
    client, eu_device, recomputed, django_capture_on_commit_callbacks
):
    # Forty hours a failed run left marked a week earlier, before this batch arrives.
    week_ago = (datetime.now(UTC) - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    rollups.dirty_windows_mark(
        region="eu-west",
        site_id=eu_device.site.pk,
        starts=[week_ago + timedelta(hours=h) for h in range(40)],
    )
    DirtyWindow.objects.in_region("eu-west").update(marked_at=week_ago)
    [first] = _backfill(client, eu_device, 1, django_capture_on_commit_callbacks)

    hours = sorted(hour for call in recomputed for hour in call)
    own = [first + timedelta(hours=h) for h in range(HOURS_PER_BATCH)]
    assert set(own) <= set(hours)
    assert len(hours) == HOURS_PER_BATCH + BACKLOG_PER_REQUEST
    assert DirtyWindow.objects.in_region("eu-west").count() == 40 - BACKLOG_PER_REQUEST
