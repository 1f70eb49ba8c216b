"""A full spool disk: closed buckets wait in the camera's memory, health says so, and once space
returns every bucket lands exactly once, in order. SQLite's max_page_count makes the database
full deterministically (SQLITE_FULL, as on a full disk); a tiny tmpfs proves the real thing."""

from __future__ import annotations

import json
import logging
import os
import subprocess

import pytest

from edge_worker import privacy
from edge_worker.buckets import Bucket
from edge_worker.camera import CameraLoop, SpoolWriter, TimedFrame
from edge_worker.config import CameraConfig
from edge_worker.health import CameraReport, EdgeHealth
from edge_worker.spool import BatchIdentity, Spool, SpoolFull
from edge_worker.uplink import UplinkStatus
from tests.conftest import require
from tests.edge_worker.test_worker import ALL, EveryTwoSeconds

T0 = 1_800_000_000
IDENTITY = BatchIdentity("dev-1", "main-and-5th", "eu-west", "yolox_nano", "ab" * 32)


def record(start: int) -> Bucket:
    return Bucket(start=start, seconds=10, uptime=1.0, counts=(("stop", "in", "car", 1),))


def cap_database(spool: Spool) -> None:
    """No new page from now on: the next write that needs one fails with SQLITE_FULL."""
    (pages,) = spool._db.execute("PRAGMA page_count").fetchone()
    spool._db.execute(f"PRAGMA max_page_count = {pages}")


def free_database(spool: Spool) -> None:
    # Under the spool's lock: a camera's reader thread frees space while its writer may be
    # inside a transaction on the same connection.
    with spool._lock:
        spool._db.execute("PRAGMA max_page_count = 1073741823")


def all_starts(spool: Spool, cameras=("north",)) -> list[str]:
    """Every bucket start the spool hands out, batch by batch, acknowledging each batch."""
    starts = []
    while batch := spool.next_batch(IDENTITY, cameras=list(cameras), now=T0 + 10**6):
        starts += [b["start"] for b in json.loads(batch.body)["buckets"]]
        spool.ack(batch.batch_id, now=T0 + 10**6)
    return starts


def iso(start: int) -> str:
    return privacy.iso_start(start)


def write_until_full(writer: SpoolWriter, first: int = 0, most: int = 500) -> int:
    """Close buckets one by one until the spool refuses one; returns the next bucket index."""
    for i in range(first, first + most):
        writer.write([record(T0 + 10 * i)])
        if writer.held:
            return i + 1
    raise AssertionError("the spool never filled up")


@pytest.fixture
def spool(tmp_path):
    spool = Spool(tmp_path / "spool.db", max_bytes=10**9, clock=lambda: T0)
    yield spool
    spool.close()


def test_it_raises_spool_full_naming_the_path_and_rolls_back(spool):
    cap_database(spool)
    with pytest.raises(SpoolFull, match=r"spool .*spool\.db is full \(\d+ bytes free"):
        for i in range(500):
            spool.put("north", [record(T0 + 10 * i)])
    assert spool.full_since == T0
    unsent = spool.stats().unsent_buckets
    assert spool.resume_point("north") == T0 + 10 * unsent  # the refused put left no trace
    free_database(spool)
    spool.put("north", [record(T0 + 10 * unsent)])
    assert spool.full_since is None
    assert spool.stats().unsent_buckets == unsent + 1


def test_it_holds_buckets_while_full_and_writes_each_once_in_order_when_space_returns(
    spool, caplog
):
    writer = SpoolWriter(spool, "north", clock=lambda: T0)
    cap_database(spool)
    with caplog.at_level(logging.ERROR, logger="edge_worker.camera"):
        n = write_until_full(writer)
        for i in range(n, n + 5):  # the camera goes on closing buckets
            writer.write([record(T0 + 10 * i)])
    assert len(writer.held) == 6 and writer.full_since == T0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # one clear line, not one per bucket
    assert f"spool {spool.path} is full (" in errors[0] and "bytes free" in errors[0]
    free_database(spool)
    writer.write([record(T0 + 10 * (n + 5))])
    assert (writer.held, writer.full_since) == ([], None)
    writer.write([record(T0 + 10 * (n + 5))])  # a replay adds nothing
    assert all_starts(spool) == [iso(T0 + 10 * i) for i in range(n + 6)]
    assert spool.stats().dropped_buckets == 0


def test_it_retries_held_buckets_on_its_own_after_the_retry_interval(spool):
    now = [T0]
    writer = SpoolWriter(spool, "north", clock=lambda: now[0], retry_s=10)
    cap_database(spool)
    n = write_until_full(writer)
    free_database(spool)
    writer.retry()
    assert len(writer.held) == 1  # not yet: the next try is due 10 s later
    now[0] += 10
    writer.retry()
    assert writer.held == []
    assert all_starts(spool) == [iso(T0 + 10 * i) for i in range(n)]


def test_past_its_limit_it_drops_the_oldest_held_and_counts_them_once_written(spool):
    now = [T0]
    writer = SpoolWriter(spool, "north", clock=lambda: now[0], max_held=3, retry_s=10)
    cap_database(spool)
    n = write_until_full(writer)
    for i in range(n, n + 4):
        writer.write([record(T0 + 10 * i)])
    assert (len(writer.held), writer.dropped) == (3, 2)
    free_database(spool)
    now[0] += 10
    writer.retry()
    assert (writer.held, writer.dropped) == ([], 0)
    assert spool.stats().dropped_buckets == 2
    kept = list(range(n - 1)) + [n + 1, n + 2, n + 3]
    assert all_starts(spool) == [iso(T0 + 10 * i) for i in kept]


def test_a_camera_on_a_full_spool_keeps_counting_and_loses_nothing(tmp_path, caplog):
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    cam = CameraConfig.model_validate(
        {"name": "north", "source": str(tmp_path / "clip.mp4"), "stride": 3}
    )

    def run(spool: Spool, frames) -> None:
        loop = CameraLoop(
            camera=cam,
            analyser=EveryTwoSeconds(),
            spool=spool,
            bucket_seconds=1,
            classes=ALL,
            report=lambda r: None,
        )
        loop.run(frames, lambda: False)
        assert loop.state == "finished"

    def frames(spool: Spool | None = None):
        for i in range(0, 120 * 24, 3):
            if spool is not None and i == 90 * 24:
                free_database(spool)  # space returns 90 s into the recording
            yield TimedFrame(T0 + i / 24, None)

    full = Spool(tmp_path / "full.db", max_bytes=10**9)
    cap_database(full)
    with caplog.at_level(logging.ERROR, logger="edge_worker.camera"):
        run(full, frames(full))
    assert any("is full" in r.getMessage() for r in caplog.records)
    reference = Spool(tmp_path / "reference.db", max_bytes=10**9)
    run(reference, frames())
    landed = all_starts(full)
    assert len(landed) == len(set(landed)) == 120
    assert landed == all_starts(reference)


def test_health_says_spool_disk_full_and_exports_it(spool):
    health = EdgeHealth(
        device_id="dev-1",
        cameras=["north"],
        spool=spool,
        uplink_status=lambda: UplinkStatus(endpoint="https://eu-west.junction.example"),
        clock=lambda: T0,
    )
    health.report(
        CameraReport(
            camera="north",
            state="running",
            last_frame_at=T0,
            unspooled_buckets=7,
            unspooled_dropped=2,
            spool_full_since=T0 - 30,
        )
    )
    status, body = health.healthz()
    assert status == 200 and body["status"] == "degraded"
    assert "spool disk full: camera north holds 7 buckets in memory, 2 dropped" in body["problems"]
    metrics = {m.name: m for m in health.collect()}
    assert metrics["junction_edge_spool_disk_full"].samples[0].value == 1.0
    assert metrics["junction_edge_unspooled_buckets"].samples[0].value == 7
    assert metrics["junction_edge_unspooled_dropped_buckets"].samples[0].value == 2
    health.report(CameraReport(camera="north", state="running", last_frame_at=T0))
    assert health.healthz()[1]["problems"] == []
    spool.full_since = T0  # the uplink's own write (an ack) found the disk full
    assert health.healthz()[1]["problems"] == [
        f"spool disk full: {spool.path} refuses writes (uplink)"
    ]
    spool.full_since = None
    assert {m.name: m for m in health.collect()}["junction_edge_spool_disk_full"].samples[
        0
    ].value == 0.0


# --- the real thing: a spool on a 512 kB tmpfs --------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True
        ).returncode
        == 0
    )
    require(mounted, "cannot mount a tmpfs here (needs root): the real full-disk test")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def fill(disk) -> None:
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\x00" * 4096)
        except OSError:
            pass


def test_on_a_really_full_disk_buckets_wait_and_acks_retry(tiny_disk):
    spool = Spool(tiny_disk / "spool.db", max_bytes=10**9, clock=lambda: T0)
    try:
        writer = SpoolWriter(spool, "north", clock=lambda: T0)
        writer.write([record(T0), record(T0 + 10)])
        batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 10**6)
        fill(tiny_disk)
        n = write_until_full(writer, first=2)
        with pytest.raises(SpoolFull):
            spool.ack(batch.batch_id, now=T0)  # deleting needs WAL space too: the batch stays
        assert spool.stats().unsent_buckets == 2 + n - 2 - len(writer.held)
        (tiny_disk / "filler").unlink()
        assert spool.ack(batch.batch_id, now=T0) == 2
        writer.write([record(T0 + 10 * n)])
        assert writer.held == []
        assert all_starts(spool) == [iso(T0 + 10 * i) for i in range(2, n + 1)]
    finally:
        spool.close()
