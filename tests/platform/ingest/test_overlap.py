"""A device's buckets never overlap in time, whatever their lengths: 422 `bucket_overlaps`.

Only the identical window (same start and length) may be sent again, and it replaces the stored
bucket. Buckets are half-open: one ending where the next starts is not an overlap.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connections
from django.test.utils import CaptureQueriesContext

from junction.residency.planes import region_alias
from junction.sites import services as site_services
from junction.traffic.models import CountBucket
from tests.platform.ingest.device import (
    assert_error,
    assert_nothing_stored,
    example_batch,
    example_bucket,
    minute_start,
    send,
    stored_counts,
)

MINUTE = timedelta(minutes=1)


def _five_minutes_ago_hour():
    """A start about an hour ago on a five-minute boundary (aligned for 60 s and 300 s)."""
    start = minute_start(60)
    return start - timedelta(seconds=int(start.timestamp()) % 300)


def _minutes(start, n):
    return [example_bucket(start + k * MINUTE) for k in range(n)]


def _store(client, persona, buckets):
    response = send(client, persona, example_batch(persona, buckets=buckets))
    assert response.status_code == 201, response.content
    return response


def _windows():
    return sorted(
        CountBucket.objects.in_region("eu-west").values_list("device_id", "start", "seconds")
    )


def test_it_refuses_two_buckets_of_one_batch_that_overlap_in_either_order(client, eu_device):
    t = _five_minutes_ago_hour()
    long = example_bucket(t, seconds=300)
    short = example_bucket(t + 3 * MINUTE)
    elsewhere = example_bucket(t - 10 * MINUTE)
    for buckets, field in (
        ([elsewhere, long, short], "buckets[2].start"),
        ([short, elsewhere, long], "buckets[2].start"),
        ([long, example_bucket(t)], "buckets[1].start"),  # the same start, another length
    ):
        response = send(client, eu_device, example_batch(eu_device, buckets=buckets))
        payload = assert_error(response, 422, "bucket_overlaps", field)
        assert "overlaps buckets[" in payload["detail"]
        assert_nothing_stored()


def test_it_still_calls_the_same_bucket_twice_in_one_batch_a_duplicate(client, eu_device):
    t = _five_minutes_ago_hour()
    body = example_batch(
        eu_device, buckets=[example_bucket(t, seconds=300), example_bucket(t, seconds=300)]
    )
    assert_error(send(client, eu_device, body), 422, "duplicate_bucket", "buckets[1].start")
    assert_nothing_stored()


def test_it_refuses_a_longer_bucket_over_stored_shorter_ones(client, eu_device):
    t = _five_minutes_ago_hour()
    _store(client, eu_device, _minutes(t, 5))
    before, windows = stored_counts(), _windows()
    body = example_batch(
        eu_device,
        buckets=[example_bucket(t - 5 * MINUTE, seconds=300), example_bucket(t, seconds=300)],
    )
    response = send(client, eu_device, body)
    payload = assert_error(response, 422, "bucket_overlaps", "buckets[1].start")
    assert "stored bucket" in payload["detail"]
    assert stored_counts() == before
    assert _windows() == windows


def test_it_refuses_a_shorter_bucket_inside_a_stored_longer_one(client, eu_device):
    t = _five_minutes_ago_hour()
    _store(client, eu_device, [example_bucket(t, seconds=300)])
    before = stored_counts()
    for inside in (t, t + 2 * MINUTE, t + 4 * MINUTE):
        body = example_batch(
            eu_device, buckets=[example_bucket(t - 2 * MINUTE), example_bucket(inside)]
        )
        assert_error(send(client, eu_device, body), 422, "bucket_overlaps", "buckets[1].start")
        assert stored_counts() == before


def test_it_finds_the_overlap_in_a_sparse_batch_of_many_separate_minutes(client, eu_device):
    t = _five_minutes_ago_hour()
    _store(client, eu_device, [example_bucket(t, seconds=300)])
    before = stored_counts()
    # Every other minute for 40 minutes before the stored bucket, then one inside it.
    sparse = [example_bucket(t - (2 * k + 1) * MINUTE) for k in range(20)]
    body = example_batch(eu_device, buckets=[*sparse, example_bucket(t + 3 * MINUTE)])
    assert_error(send(client, eu_device, body), 422, "bucket_overlaps", "buckets[20].start")
    assert stored_counts() == before
    # Without the offending minute, the sparse batch is stored.
    _store(client, eu_device, sparse)
    assert len(_windows()) == 21


def test_it_accepts_buckets_that_end_where_another_starts(client, eu_device):
    t = _five_minutes_ago_hour()
    u, v = t - 30 * MINUTE, t - 60 * MINUTE
    # In one batch: a minute, five minutes right after it, a minute right after those.
    _store(
        client,
        eu_device,
        [
            example_bucket(t - MINUTE),
            example_bucket(t, seconds=300),
            example_bucket(t + 5 * MINUTE),
        ],
    )
    # Against stored buckets: five minutes between two stored minutes, and two minutes either
    # side of five stored minutes.
    _store(
        client,
        eu_device,
        [
            example_bucket(u - MINUTE),
            example_bucket(u + 5 * MINUTE),
            example_bucket(v, seconds=300),
        ],
    )
    _store(
        client,
        eu_device,
        [
            example_bucket(u, seconds=300),
            example_bucket(v - MINUTE),
            example_bucket(v + 5 * MINUTE),
        ],
    )
    assert [(start - t, seconds) for _, start, seconds in _windows()] == [
        (-61 * MINUTE, 60),
        (-60 * MINUTE, 300),
        (-55 * MINUTE, 60),
        (-31 * MINUTE, 60),
        (-30 * MINUTE, 300),
        (-25 * MINUTE, 60),
        (-MINUTE, 60),
        (0 * MINUTE, 300),
        (5 * MINUTE, 60),
    ]


def test_it_still_replaces_the_identical_bucket_next_to_buckets_of_another_length(
    client, eu_device
):
    t = _five_minutes_ago_hour()
    _store(client, eu_device, [*_minutes(t - 5 * MINUTE, 5), example_bucket(t, seconds=300)])
    corrected = example_bucket(t, seconds=300, uptime=1.0)
    response = _store(client, eu_device, [corrected, example_bucket(t + 5 * MINUTE)])
    assert response.json()["buckets_replaced"] == 1
    long = CountBucket.objects.in_region("eu-west").get(seconds=300)
    assert (long.start, long.uptime) == (t, 1.0)
    assert len(_windows()) == 7


def test_it_accepts_another_devices_bucket_of_another_length_at_the_same_time(client, eu_device):
    t = _five_minutes_ago_hour()
    issued = site_services.device_add(device_id="dev-main-5th-s", site=eu_device.site.slug)
    south = type(eu_device)(issued.device, issued.secret, eu_device.site)
    _store(client, eu_device, [example_bucket(t, seconds=300)])
    _store(client, south, _minutes(t, 5))
    assert [(d, s) for d, _, s in _windows()] == [("dev-main-5th-n", 300)] + [
        ("dev-main-5th-s", 60)
    ] * 5


def test_it_reads_the_stored_buckets_once_per_batch(client, eu_device):
    t = _five_minutes_ago_hour()
    _store(client, eu_device, _minutes(t - 30 * MINUTE, 15))
    connection = connections[region_alias("eu-west")]
    table = CountBucket._meta.db_table
    # 15 one-minute buckets in one stretch, then 20 separate minutes (some of them re-sent).
    for buckets in (_minutes(t, 15), [example_bucket(t + (2 * k) * MINUTE) for k in range(20)]):
        with CaptureQueriesContext(connection) as queries:
            _store(client, eu_device, buckets)
        reads = [
            q["sql"]
            for q in queries.captured_queries
            if q["sql"].lstrip().upper().startswith("SELECT")
            and table in q["sql"]
            and '."id" IN (' not in q["sql"]  # the replaced buckets' cascade, on SQLite
        ]
        # The overlap check and the replacement lookup; neither grows with the buckets.
        assert len(reads) == 2, reads
