"""The privacy choke point: only the contract's aggregate fields are stored and sent."""

from __future__ import annotations

import json

import pytest

from edge_worker import privacy
from edge_worker.buckets import Bucket, BucketAggregator, site_bucket
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
    record = privacy.wire(busy_bucket())
    assert set(record) == BUCKET_KEYS
    for table, keys in ENTRY_KEYS.items():
        assert record[table], table
        assert all(set(entry) == keys for entry in record[table]), table
    # 60 vehicles with 60 distinct speeds become one histogram of 8 integers.
    (speeds,) = record["speeds"]
    assert len(speeds["counts"]) == 8 and sum(speeds["counts"]) == 60
    text = json.dumps(record)
    assert "20.0" not in text and "track" not in text


def test_a_stored_bucket_reads_back_as_the_same_bucket():
    bucket = busy_bucket()
    assert privacy.from_wire(json.loads(json.dumps(privacy.wire(bucket)))) == bucket


def test_a_batch_body_is_exactly_the_v1_envelope():
    body = json.loads(
        privacy.batch_body(
            batch_id="6f1c0a3e-0000-4000-8000-000000000000",
            device_id="dev-1",
            site="main-and-5th",
            region="eu-west",
            model_name="yolox_nano",
            model_sha256="ab" * 32,
            buckets=[site_bucket([busy_bucket()], cameras=1)],
        )
    )
    assert set(body) == {"schema", "batch_id", "device_id", "site", "region", "model", "buckets"}
    assert body["schema"] == "junction.batch/v1"
    assert set(body["buckets"][0]) == BUCKET_KEYS


def test_classes_outside_the_regions_list_are_never_stored():
    bucket = Bucket(T0, 60, 1.0, counts=(("stop", "in", "car", 3), ("stop", "in", "person", 2)))
    kept = privacy.collected(bucket, classes=frozenset({"car"}))
    assert [c["class"] for c in privacy.wire(kept)["counts"]] == ["car"]


def test_an_empty_dwell_list_is_left_out_of_the_sent_bucket():
    assert "dwell" not in privacy.wire(site_bucket([Bucket(T0, 60, 1.0)], cameras=1))


@pytest.mark.parametrize(
    "parts, cameras, uptime",
    [
        ([(1.0, 3)], 1, 1.0),
        ([(1.0, 3), (0.5, 2)], 2, 0.75),
        ([(1.0, 3)], 2, 0.5),  # a camera with no bucket at all counts as not watched
    ],
)
def test_merging_cameras_takes_the_mean_camera_uptime_and_sums_counts(parts, cameras, uptime):
    buckets = [
        Bucket(T0, 60, up, counts=((f"line-{i}", "in", "car", n),))
        for i, (up, n) in enumerate(parts)
    ]
    merged = privacy.wire(site_bucket(buckets, cameras=cameras))
    assert merged["uptime"] == uptime
    assert sum(c["count"] for c in merged["counts"]) == sum(n for _, n in parts)
    # Uptime 0 is the platform's "no data" marker: counts that exist must never carry it.
    assert merged["uptime"] > 0 or not merged["counts"]


def test_merging_cameras_sums_histograms_and_occupancy():
    north = Bucket(
        T0,
        60,
        1.0,
        speeds=(("stop", "car", (1, 0, 0, 0, 0, 0, 0, 2)),),
        occupancy=(("box", "person", 0.25, 1),),
    )
    south = Bucket(
        T0,
        60,
        1.0,
        speeds=(("stop", "car", (0, 1, 0, 0, 0, 0, 0, 1)),),
        occupancy=(("box", "person", 0.5, 2),),
    )
    merged = site_bucket([north, south], cameras=2)
    assert merged.speeds == (("stop", "car", (1, 1, 0, 0, 0, 0, 0, 3)),)
    assert merged.occupancy == (("box", "person", 0.75, 3),)


def test_buckets_of_different_starts_never_merge():
    parts = [Bucket(T0 + 60 * i, 60, 1.0) for i in range(2)]
    with pytest.raises(ValueError, match="different starts"):
        site_bucket(parts, cameras=2)


def test_a_histogram_that_does_not_fit_its_edges_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        privacy.wire(Bucket(T0, 60, 1.0, speeds=(("stop", "car", (1, 2)),)))
