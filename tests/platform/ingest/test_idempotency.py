"""The same batch is stored once; a batch id names one body; a re-sent bucket replaces the old."""

from __future__ import annotations

import json
from datetime import timedelta

from junction.ingest.replay import batch_lock
from junction.sites.models import Device
from junction.traffic.models import CountBucket, CountRow
from tests.platform.ingest.device import (
    assert_error,
    example_batch,
    example_bucket,
    minute_start,
    send,
    stored_counts,
)


def test_it_stores_the_same_batch_once_and_answers_200_the_second_time(client, eu_device):
    body = example_batch(eu_device)
    first = send(client, eu_device, body)
    after_first = stored_counts()
    second = send(client, eu_device, body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["status"] == "already_stored"
    assert second.json()["count_rows"] == 2
    assert stored_counts() == after_first
    assert Device.objects.get(pk=eu_device.device.pk).batches_received == 1


def test_it_treats_a_reserialised_copy_as_the_same_batch(client, eu_device):
    body = example_batch(eu_device)
    assert send(client, eu_device, body).status_code == 201
    # Other key order and spacing, 0.98 written differently: the same content.
    spaced = json.dumps(dict(reversed(list(body.items()))), indent=2).replace("0.98", "9.8e-1")
    retry = send(
        client, eu_device, spaced.encode(), header_overrides={"Idempotency-Key": body["batch_id"]}
    )
    assert retry.status_code == 200, retry.content


def test_it_refuses_the_same_batch_id_with_a_different_body(client, eu_device):
    body = example_batch(eu_device)
    assert send(client, eu_device, body).status_code == 201
    before = stored_counts()
    body["buckets"][0]["counts"][0]["count"] = 13
    assert_error(send(client, eu_device, body), 422, "batch_id_reused", "batch_id")
    assert stored_counts() == before
    assert CountRow.objects.in_region("eu-west").filter(count=13).count() == 0


def test_it_answers_409_while_the_same_batch_is_being_stored(client, eu_device):
    body = example_batch(eu_device)
    with batch_lock("eu-west", body["batch_id"]):
        assert_error(send(client, eu_device, body), 409, "batch_in_progress", "batch_id")
        assert not any(stored_counts().values())
    assert send(client, eu_device, body).status_code == 201


def test_it_replaces_a_bucket_sent_again_in_a_new_batch(client, eu_device):
    start = minute_start(5)
    first = example_batch(
        eu_device, buckets=[example_bucket(start), example_bucket(start - timedelta(minutes=1))]
    )
    assert send(client, eu_device, first).status_code == 201
    corrected = example_bucket(start, uptime=1.0)
    corrected["counts"][0]["count"] = 14
    second = send(client, eu_device, example_batch(eu_device, buckets=[corrected]))
    assert second.status_code == 201
    assert second.json()["buckets_replaced"] == 1
    buckets = CountBucket.objects.in_region("eu-west").filter(start=start)
    assert [b.uptime for b in buckets] == [1.0]
    rows = CountRow.objects.in_region("eu-west").filter(start=start, counter="north-stopline")
    assert [r.count for r in rows] == [14]
    assert CountBucket.objects.in_region("eu-west").count() == 2
    # The first batch, retried, is still "already stored" and changes nothing.
    assert send(client, eu_device, first).status_code == 200
    assert [r.count for r in rows.all()] == [14]
