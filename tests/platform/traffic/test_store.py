"""The store of count data on its own: a device's buckets never overlap, a re-sent bucket
replaces the stored one, and a refused delivery writes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from junction.traffic.errors import BucketOverlap
from junction.traffic.models import CountBucket, CountRow
from junction.traffic.services import device_buckets_store

EU = "eu-west"
START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Count:
    counter: str
    direction: str | None
    road_user: str
    count: int


@dataclass(frozen=True)
class Bucket:
    start: datetime
    seconds: int
    uptime: float = 1.0
    counts: list = field(default_factory=list)
    speeds: list = field(default_factory=list)
    occupancy: list = field(default_factory=list)
    dwell: list = field(default_factory=list)


def store(eu_site, *buckets: Bucket, device_id: str = "cam-1"):
    return device_buckets_store(
        region=EU,
        site_id=eu_site.pk,
        device_id=device_id,
        batch_id=uuid.uuid4(),
        buckets=list(buckets),
        received_at=START + timedelta(hours=1),
    )


def test_it_refuses_a_bucket_inside_a_stored_one_of_another_length_and_writes_nothing(eu_site):
    store(eu_site, Bucket(START, 300, counts=[Count("north", "in", "car", 4)]))
    with pytest.raises(BucketOverlap) as refused:
        store(
            eu_site,
            Bucket(START + timedelta(minutes=10), 60),
            Bucket(START + timedelta(minutes=2), 60, counts=[Count("north", "in", "car", 9)]),
        )
    assert refused.value.index == 1
    assert "06:00:00+00:00 (300 s)" in refused.value.detail
    assert list(CountBucket.objects.in_region(EU).values_list("seconds", flat=True)) == [300]
    assert list(CountRow.objects.in_region(EU).values_list("count", flat=True)) == [4]


def test_a_re_sent_bucket_replaces_the_stored_one_rows_included(eu_site):
    store(eu_site, Bucket(START, 60, counts=[Count("north", "in", "car", 4)]))
    stored = store(
        eu_site,
        Bucket(START, 60, counts=[Count("north", "in", "car", 5)]),
        Bucket(
            START + timedelta(minutes=1), 60, uptime=0.0, counts=[Count("north", "in", "car", 7)]
        ),
    )
    assert (stored.buckets, stored.no_data_buckets, stored.count_rows) == (2, 1, 1)
    assert (stored.replaced, stored.rows_not_stored) == (1, 1)
    assert list(CountRow.objects.in_region(EU).values_list("count", flat=True)) == [5]


def test_another_camera_of_the_site_keeps_its_own_buckets(eu_site):
    store(eu_site, Bucket(START, 300))
    stored = store(eu_site, Bucket(START, 60), device_id="cam-2")
    assert stored.replaced == 0
    assert CountBucket.objects.in_region(EU).count() == 2
