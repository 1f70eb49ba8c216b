"""The fast row writer keeps residency: rows land only in their region, marked with it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from junction.residency.bulk import region_rows_insert
from junction.residency.errors import MisdirectedRegion
from junction.traffic.models import CountBucket, CountRow, SpeedHistogram

START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def _bucket(region: str) -> CountBucket:
    bucket = CountBucket(
        region=region,
        site_id=1,
        device_id="d",
        batch_id=uuid.uuid4(),
        start=START,
        seconds=60,
        uptime=1.0,
    )
    bucket.save()
    return bucket


def test_it_writes_rows_to_their_region_with_the_region_column_set():
    bucket = _bucket("us-east")
    region_rows_insert(
        CountRow,
        region="us-east",
        fields=("bucket_id", "site_id", "start", "counter", "direction", "road_user", "count"),
        rows=[(bucket.pk, 1, START, "stop", "in", "car", 3)] * 3,
    )
    region_rows_insert(
        SpeedHistogram,
        region="us-east",
        fields=("bucket_id", "site_id", "start", "counter", "road_user", "edges_kmh", "counts"),
        rows=[(bucket.pk, 1, START, "stop", "car", [0, 10, 20], [1, 2])],
    )
    rows = CountRow.objects.in_region("us-east")
    assert [(r.region, r.count) for r in rows] == [("us-east", 3)] * 3
    assert SpeedHistogram.objects.in_region("us-east").get().counts == [1, 2]
    assert CountRow.objects.in_region("eu-west").count() == 0


def test_it_refuses_a_region_this_node_does_not_serve(settings):
    settings.SERVED_REGIONS = ("eu-west",)
    with pytest.raises(MisdirectedRegion):
        region_rows_insert(CountRow, region="us-east", fields=("counter",), rows=[("x",)])
