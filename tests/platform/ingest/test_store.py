"""A valid batch lands in its region's database, in full, with the device's health recorded."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.utils import timezone

from junction.ingest.models import IngestBatch
from junction.ingest.services import device_health_record
from junction.sites.models import Device
from junction.traffic.models import (
    CountBucket,
    CountRow,
    DwellHistogram,
    OccupancySummary,
    SpeedHistogram,
)
from junction.traffic.signals import batch_stored
from tests.platform.ingest.device import (
    MODEL_SHA256,
    example_batch,
    example_bucket,
    minute_start,
    send,
    stored_counts,
)


def test_it_stores_the_documented_example_batch_in_its_region(client, eu_device):
    body = example_batch(eu_device)
    response = send(client, eu_device, body)
    assert response.status_code == 201, response.content
    assert response.json() | {"batch_id": None} == {
        "batch_id": None,
        "status": "stored",
        "buckets": 1,
        "no_data_buckets": 0,
        "count_rows": 2,
        "buckets_replaced": 0,
        "rows_not_stored": 0,
    }
    bucket = CountBucket.objects.in_region("eu-west").get()
    assert (bucket.site_id, bucket.device_id, bucket.seconds, bucket.uptime) == (
        eu_device.site.pk,
        eu_device.device_id,
        60,
        0.98,
    )
    assert str(bucket.batch_id) == body["batch_id"]
    rows = CountRow.objects.in_region("eu-west").order_by("counter")
    assert [(r.counter, r.direction, r.road_user, r.count) for r in rows] == [
        ("N>E", None, "bicycle", 1),
        ("north-stopline", "in", "car", 12),
    ]
    speed = SpeedHistogram.objects.in_region("eu-west").get()
    assert speed.counts == [0, 1, 4, 6, 1, 0, 0, 0] and len(speed.edges_kmh) == 9
    occupancy = OccupancySummary.objects.in_region("eu-west").get()
    assert (occupancy.zone, occupancy.mean, occupancy.max) == ("crosswalk-north", 0.4, 3)
    counts = stored_counts()
    assert not any(v for k, v in counts.items() if k.startswith("us-east")), counts


def test_it_stores_optional_dwell_histograms(client, eu_device):
    bucket = example_bucket(
        dwell=[
            {
                "zone": "crosswalk-north",
                "class": "person",
                "edges_s": [0, 5, 10, 30, 60, 120, 300, 600],
                "counts": [3, 2, 1, 0, 0, 0, 0],
            }
        ]
    )
    assert send(client, eu_device, example_batch(eu_device, buckets=[bucket])).status_code == 201
    dwell = DwellHistogram.objects.in_region("eu-west").get()
    assert dwell.counts == [3, 2, 1, 0, 0, 0, 0]


def test_it_stores_an_uptime_zero_bucket_as_no_data_without_rows(client, eu_device):
    watched_start = minute_start(2)
    outage = example_bucket(watched_start - timedelta(minutes=1), uptime=0)
    watched = example_bucket(watched_start)
    response = send(client, eu_device, example_batch(eu_device, buckets=[outage, watched]))
    assert response.status_code == 201
    assert response.json()["no_data_buckets"] == 1
    # The outage's entries are reported, not silently dropped.
    assert response.json()["rows_not_stored"] == 4
    buckets = CountBucket.objects.in_region("eu-west").order_by("start")
    assert [b.has_data for b in buckets] == [False, True]
    assert not CountRow.objects.in_region("eu-west").filter(bucket=buckets[0]).exists()
    assert CountRow.objects.in_region("eu-west").filter(bucket=buckets[1]).count() == 2


def test_it_records_the_device_health_in_the_control_plane(client, eu_device):
    send(client, eu_device, example_batch(eu_device))
    send(client, eu_device, example_batch(eu_device, buckets=[example_bucket(minute_start(5))]))
    device = Device.objects.get(pk=eu_device.device.pk)
    assert device.batches_received == 2
    assert device.last_batch_at is not None
    assert (device.last_model_name, device.last_model_sha256) == ("yolox_nano", MODEL_SHA256)


def test_the_last_delivery_time_never_steps_back(eu_device):
    # Two requests of one device finishing out of order: the later delivery time stays.
    later = timezone.now()
    for at in (later, later - timedelta(seconds=5)):
        device_health_record(
            device_pk=eu_device.device.pk, at=at, model_name="yolox_nano", model_sha256="0" * 64
        )
    device = Device.objects.get(pk=eu_device.device.pk)
    assert device.last_batch_at == later
    assert device.batches_received == 2


def test_it_keeps_an_idempotency_record_of_the_batch(client, eu_device):
    body = example_batch(eu_device)
    send(client, eu_device, body)
    record = IngestBatch.objects.in_region("eu-west").get()
    assert record.batch_id == uuid.UUID(body["batch_id"])
    assert (record.buckets, record.count_rows, record.device_id) == (1, 2, eu_device.device_id)


def test_it_announces_a_stored_batch_after_commit(
    client, eu_device, django_capture_on_commit_callbacks
):
    heard = []
    start = minute_start()

    def listener(sender, **kwargs):
        heard.append(kwargs)

    batch_stored.connect(listener)
    try:
        with django_capture_on_commit_callbacks(using="region_eu-west", execute=True):
            response = send(
                client, eu_device, example_batch(eu_device, buckets=[example_bucket(start)])
            )
    finally:
        batch_stored.disconnect(listener)
    assert response.status_code == 201
    assert len(heard) == 1
    assert heard[0]["region"] == "eu-west"
    assert heard[0]["site_id"] == eu_device.site.pk
    assert heard[0]["windows"] == [(start, 60)]
