"""A region model written or read through any path to the wrong database is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.core.serializers.base import DeserializedObject

from junction.residency.errors import ResidencyViolation
from junction.traffic.models import CountBucket, CountRow

START = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def bucket(region: str, **overrides) -> CountBucket:
    values = dict(
        region=region,
        site_id=1,
        device_id="dev",
        batch_id=uuid.uuid4(),
        start=START,
        seconds=60,
        uptime=1.0,
    )
    values.update(overrides)
    return CountBucket(**values)


def test_it_stores_a_region_row_in_its_own_region_without_naming_the_database():
    row = bucket("eu-west")
    row.save()
    assert row._state.db == "region_eu-west"
    assert CountBucket.objects.in_region("eu-west").count() == 1
    assert CountBucket.objects.in_region("us-east").count() == 0


WRONG_PATHS = {
    "save to control": lambda: bucket("eu-west").save(using="default"),
    "save to other region": lambda: bucket("eu-west").save(using="region_us-east"),
    "create via using": lambda: CountBucket.objects.using("region_us-east").create(
        region="eu-west",
        site_id=1,
        device_id="d",
        batch_id=uuid.uuid4(),
        start=START,
        seconds=60,
        uptime=1,
    ),
    "bulk_create": lambda: CountBucket.objects.using("region_us-east").bulk_create(
        [bucket("eu-west")]
    ),
    "bulk_create to control": lambda: CountBucket.objects.using("default").bulk_create(
        [bucket("eu-west")]
    ),
    "update in control": lambda: CountBucket.objects.using("default").update(uptime=0),
    "delete in control": lambda: CountBucket.objects.using("default").delete(),
    "read in control": lambda: list(CountBucket.objects.using("default").all()),
    "read without region": lambda: list(CountBucket.objects.all()),
    "count without region": lambda: CountRow.objects.count(),
    "move to another region": lambda: CountBucket.objects.in_region("eu-west").update(
        region="us-east"
    ),
    "row without region": lambda: bucket("").save(using="region_eu-west"),
    # What loaddata does: a raw save that skips save() and any save_base override.
    "fixture to other region": lambda: DeserializedObject(bucket("eu-west")).save(
        using="region_us-east"
    ),
}


@pytest.mark.parametrize("path", WRONG_PATHS, ids=list(WRONG_PATHS))
def test_it_refuses_region_data_on_the_wrong_path(path):
    with pytest.raises(ResidencyViolation):
        WRONG_PATHS[path]()
    assert CountBucket.objects.in_region("eu-west").count() == 0
    assert CountBucket.objects.in_region("us-east").count() == 0


def test_it_refuses_to_read_a_region_this_node_does_not_know(settings):
    from junction.residency.errors import MisdirectedRegion

    with pytest.raises(MisdirectedRegion):
        CountBucket.objects.in_region("ap-south").count()
