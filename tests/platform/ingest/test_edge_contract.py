"""What the edge worker really sends (its privacy module, spool and uplink) is stored as sent.

Both sides implement DESIGN.md section 4 on their own; this holds them to each other.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from junction.traffic.models import CountBucket, CountRow, DwellHistogram, SpeedHistogram
from tests.platform.ingest.device import MODEL_SHA256, minute_start, stored_counts

edge_buckets = pytest.importorskip("edge_worker.buckets")
privacy = pytest.importorskip("edge_worker.privacy")
spool_module = pytest.importorskip("edge_worker.spool")
uplink_module = pytest.importorskip("edge_worker.uplink")

live = pytest.mark.django_db(transaction=True, databases="__all__")


def _bucket(start: int, uptime: float):
    return edge_buckets.Bucket(
        start=start,
        seconds=60,
        uptime=uptime,
        counts=(("N>E", None, "bicycle", 1), ("north-stopline", "in", "car", 5)),
        speeds=(("north-stopline", "car", (0, 1, 2, 2, 0, 0, 0, 0)),),
        occupancy=(("crosswalk-north", "person", 0.5, 2),),
        dwell=(("crosswalk-north", "person", (1, 1, 0, 0, 0, 0, 0)),),
    )


@live
def test_it_stores_a_batch_sent_by_the_edge_uplink(live_server, eu_device, tmp_path):
    latest = minute_start(3)
    # An outage bucket (uptime 0) and a watched one, as the edge's aggregator closes them.
    starts = [int((latest - timedelta(minutes=1)).timestamp()), int(latest.timestamp())]
    spool = spool_module.Spool(tmp_path / "spool.sqlite3", max_bytes=10_000_000)
    spool.put(
        "cam-north",
        [
            _bucket(starts[0], 0.0),
            _bucket(starts[1], 0.97),
        ],
    )
    identity = spool_module.BatchIdentity(
        device_id=eu_device.device_id,
        site=eu_device.site.slug,
        region="eu-west",
        model_name="yolox_nano",
        model_sha256=MODEL_SHA256,
    )
    uplink = uplink_module.Uplink(
        spool=spool,
        identity=identity,
        cameras=["cam-north"],
        endpoint=live_server.url,
        allowed_endpoints=[],
        secret=lambda: eu_device.secret,
    )
    uplink.send_next()
    assert uplink.status.last_status == 201, uplink.status.last_error
    assert [b.uptime for b in CountBucket.objects.in_region("eu-west").order_by("start")] == [
        0.0,
        0.97,
    ]
    assert sorted(CountRow.objects.in_region("eu-west").values_list("counter", "count")) == [
        ("N>E", 1),
        ("north-stopline", 5),
    ]
    assert SpeedHistogram.objects.in_region("eu-west").get().counts == [0, 1, 2, 2, 0, 0, 0, 0]
    assert DwellHistogram.objects.in_region("eu-west").get().counts == [1, 1, 0, 0, 0, 0, 0]
    assert stored_counts()["control:batches_received"] == 1
    spool.close()
