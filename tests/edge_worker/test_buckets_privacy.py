"""The privacy choke point: only the contract's aggregate fields are stored and sent."""

from __future__ import annotations

import json

import pytest

from edge_worker import privacy
from edge_worker.buckets import Bucket, BucketAggregator
from edge_worker.events import CountEvent, DwellEvent, FrameResult, ZoneOccupancy

T0 = 1_800_000_000
BUCKET_KEYS = {"start", "seconds", "uptime", "counts", "speeds", "occupancy", "dwell"}
ENTRY_KEYS = {
    "counts": {"counter", "direction", "class", "count"},
    "speeds": {"counter", "class", "edges_kmh", "counts"},
    "occupancy": {"zone", "class", "mean", "max"},
    "dwell": {"zone", "class", "edges_s", "counts"},
}


def busy_bucket() -> Bucket:
    aggregator = BucketAggregator(seconds=60, start=T0)
    for i in range(600):
        t = T0 + i * 0.1
        aggregator.add(
            FrameResult(
                t,
                events=(CountEvent("stop", "in", "car", t, 20.0 + i % 70),) if i % 10 == 0 else (),
                occupancy=(ZoneOccupancy("box", "person", i % 4, t),),
                dwell=(DwellEvent("box", "person", 7.0, t),) if i % 100 == 0 else (),
            )
        )
    (bucket,) = aggregator.close_until(T0 + 60)
    return bucket


def test_a_stored_bucket_holds_only_the_contracts_aggregate_fields():
    record = privacy.bucket_record(busy_bucket())
    assert set(record) == BUCKET_KEYS
    for table, keys in ENTRY_KEYS.items():
        assert record[table], table
        assert all(set(entry) == keys for entry in record[table]), table
    # 60 vehicles with 60 distinct speeds become one histogram of 8 integers.
    (speeds,) = record["speeds"]
    assert len(speeds["counts"]) == 8 and sum(speeds["counts"]) == 60
    text = json.dumps(record)
    assert "20.0" not in text and "track" not in text


def test_a_batch_body_is_exactly_the_v1_envelope():
    record = privacy.bucket_record(busy_bucket())
    body = json.loads(
        privacy.batch_body(
            batch_id="6f1c0a3e-0000-4000-8000-000000000000",
            device_id="dev-1",
            site="main-and-5th",
            region="eu-west",
            model_name="yolox_nano",
            model_sha256="ab" * 32,
            buckets=[privacy.site_bucket([record], cameras=1)],
        )
    )
    assert set(body) == {"schema", "batch_id", "device_id", "site", "region", "model", "buckets"}
    assert body["schema"] == "junction.batch/v1"
    assert set(body["buckets"][0]) == BUCKET_KEYS


def test_classes_outside_the_regions_list_are_never_stored():
    bucket = Bucket(T0, 60, 1.0, counts=(("stop", "in", "car", 3), ("stop", "in", "person", 2)))
    record = privacy.bucket_record(bucket, classes=frozenset({"car"}))
    assert [c["class"] for c in record["counts"]] == ["car"]


def test_an_empty_dwell_list_is_left_out_of_the_sent_bucket():
    merged = privacy.site_bucket([privacy.bucket_record(Bucket(T0, 60, 1.0))], cameras=1)
    assert "dwell" not in merged


@pytest.mark.parametrize(
    "records, cameras, uptime",
    [
        ([(1.0, 3)], 1, 1.0),
        ([(1.0, 3), (0.5, 2)], 2, 0.75),
        ([(1.0, 3)], 2, 0.5),  # a camera with no bucket at all counts as not watched
    ],
)
def test_merging_cameras_takes_the_mean_camera_uptime_and_sums_counts(records, cameras, uptime):
    parts = [
        privacy.bucket_record(Bucket(T0, 60, up, counts=((f"line-{i}", "in", "car", n),)))
        for i, (up, n) in enumerate(records)
    ]
    merged = privacy.site_bucket(parts, cameras=cameras)
    assert merged["uptime"] == uptime
    assert sum(c["count"] for c in merged["counts"]) == sum(n for _, n in records)
    # Uptime 0 is the platform's "no data" marker: counts that exist must never carry it.
    assert merged["uptime"] > 0 or not merged["counts"]


def test_buckets_of_different_starts_never_merge():
    parts = [privacy.bucket_record(Bucket(T0 + 60 * i, 60, 1.0)) for i in range(2)]
    with pytest.raises(ValueError, match="different buckets"):
        privacy.site_bucket(parts, cameras=2)


def test_a_histogram_that_does_not_fit_its_edges_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        privacy.bucket_record(Bucket(T0, 60, 1.0, speeds=(("stop", "car", (1, 2)),)))
