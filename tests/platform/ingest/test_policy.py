"""422 for a schema-valid batch that breaks the region's policy or the site's registration."""

from __future__ import annotations

from datetime import timedelta

import pytest

from junction.residency.models import Region
from tests.platform.ingest.device import (
    assert_error,
    assert_nothing_stored,
    example_batch,
    example_bucket,
    minute_start,
    send,
)


def _aligned(seconds: int):
    """A start an hour ago on a multiple of `seconds`."""
    start = minute_start(60)
    return start - timedelta(seconds=int(start.timestamp()) % seconds)


def _bucket(**overrides):
    return lambda: example_bucket(**overrides)


def _entry(table: str, index: int, **values):
    def build():
        bucket = example_bucket()
        bucket[table][index].update(values)
        return bucket

    return build


# name: (second bucket of the batch, rule, field); the first bucket is valid and not stored either
BAD_BUCKETS = {
    "shorter than the region's minimum": (
        _bucket(seconds=30),
        "bucket_too_short",
        "buckets[1].seconds",
    ),
    "start not aligned to its length": (
        lambda: example_bucket(minute_start() + timedelta(seconds=30)),
        "bucket_misaligned",
        "buckets[1].start",
    ),
    "five minutes not on a five-minute boundary": (
        lambda: example_bucket(_aligned(300) + timedelta(minutes=1), seconds=300),
        "bucket_misaligned",
        "buckets[1].start",
    ),
    "in the future": (
        lambda: example_bucket(minute_start(-10)),
        "bucket_in_future",
        "buckets[1].start",
    ),
    "older than raw retention": (
        lambda: example_bucket(minute_start(91 * 24 * 60)),
        "bucket_past_retention",
        "buckets[1].start",
    ),
    "counter unknown to the site": (
        _entry("counts", 0, counter="south-stopline"),
        "unknown_counter",
        "buckets[1].counts[0].counter",
    ),
    "speed counter unknown to the site": (
        _entry("speeds", 0, counter="east-stopline"),
        "unknown_counter",
        "buckets[1].speeds[0].counter",
    ),
    "zone unknown to the site": (
        _entry("occupancy", 0, zone="bus-bay"),
        "unknown_zone",
        "buckets[1].occupancy[0].zone",
    ),
    "same count twice": (
        lambda: example_bucket(counts=[example_bucket()["counts"][0]] * 2),
        "duplicate_entry",
        "buckets[1].counts[1]",
    ),
}


@pytest.mark.parametrize("case", BAD_BUCKETS, ids=list(BAD_BUCKETS))
def test_it_refuses_a_bucket_that_breaks_policy_and_stores_no_bucket_of_the_batch(
    client, eu_device, case
):
    build, rule, field = BAD_BUCKETS[case]
    body = example_batch(eu_device, buckets=[example_bucket(minute_start(30)), build()])
    payload = assert_error(send(client, eu_device, body), 422, rule, field)
    assert payload["detail"]
    assert_nothing_stored()


def test_it_refuses_the_same_bucket_twice_in_one_batch(client, eu_device):
    body = example_batch(eu_device, buckets=[example_bucket(), example_bucket()])
    assert_error(send(client, eu_device, body), 422, "duplicate_bucket", "buckets[1].start")
    assert_nothing_stored()


def test_it_applies_the_region_minimum_bucket(client, eu_device):
    Region.objects.filter(code="eu-west").update(min_bucket_seconds=900)
    body = example_batch(eu_device)
    assert_error(send(client, eu_device, body), 422, "bucket_too_short", "buckets[0].seconds")
    body = example_batch(eu_device, buckets=[example_bucket(_aligned(900), seconds=900)])
    assert send(client, eu_device, body).status_code == 201


def test_it_refuses_a_class_the_region_does_not_collect(client, eu_device):
    Region.objects.filter(code="eu-west").update(classes=["car", "bus", "truck", "person"])
    response = send(client, eu_device, example_batch(eu_device))
    payload = assert_error(response, 422, "class_not_collected", "buckets[0].counts[1].class")
    assert "bicycle" in payload["detail"]
    assert_nothing_stored()
