"""The outbox: durable puts, exactly-once batching, stable batch ids, cap, acks and dead letters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from edge_worker import privacy
from edge_worker.buckets import Bucket
from edge_worker.spool import BatchIdentity, Spool

T0 = 1_800_000_000
IDENTITY = BatchIdentity("dev-1", "main-and-5th", "eu-west", "yolox_nano", "ab" * 32)


def record(start: int, cars: int = 1, uptime: float = 1.0, seconds: int = 10) -> Bucket:
    counts = (("stop", "in", "car", cars),) if cars else ()
    return Bucket(start=start, seconds=seconds, uptime=uptime, counts=counts)


@pytest.fixture
def spool(tmp_path):
    # Buckets are spooled right after they end, as a live camera does.
    spool = Spool(tmp_path / "spool.db", max_bytes=10_000_000, clock=lambda: T0 + 10)
    yield spool
    spool.close()


def body_of(batch) -> dict:
    return json.loads(batch.body)


def test_it_opens_the_database_in_wal_mode_with_full_sync(spool):
    assert spool._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_it_stores_a_closed_bucket_once_even_when_a_replay_puts_it_again(spool):
    assert spool.put("north", [record(T0), record(T0 + 10)]) == 2
    assert spool.put("north", [record(T0, cars=5)]) == 0
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    counts = [b["counts"][0]["count"] for b in body_of(batch)["buckets"]]
    assert counts == [1, 1]


def test_it_remembers_where_each_camera_resumes(spool):
    assert spool.resume_point("north") is None
    spool.put("north", [record(T0), record(T0 + 10)])
    assert spool.resume_point("north") == T0 + 20


def test_it_builds_a_contract_body_with_aligned_iso_starts(spool):
    spool.put("north", [record(T0)])
    body = body_of(spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100))
    assert body["schema"] == "junction.batch/v1"
    assert (body["device_id"], body["site"], body["region"]) == ("dev-1", "main-and-5th", "eu-west")
    assert body["model"] == {"name": "yolox_nano", "sha256": "ab" * 32}
    assert body["buckets"] == [
        {
            "start": "2027-01-15T08:00:00Z",
            "seconds": 10,
            "uptime": 1.0,
            "counts": [{"counter": "stop", "direction": "in", "class": "car", "count": 1}],
            "speeds": [],
            "occupancy": [],
        }
    ]


def test_it_resends_the_same_batch_id_and_body_until_acknowledged_even_after_reopening(tmp_path):
    path = tmp_path / "spool.db"
    first = Spool(path, max_bytes=10_000_000)
    first.put("north", [record(T0)])
    batch = first.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    first.close()  # the worker crashes before the platform answered
    again = Spool(path, max_bytes=10_000_000)
    again.put("north", [record(T0 + 10)])
    retry = again.next_batch(IDENTITY, cameras=["north"], now=T0 + 200)
    assert (retry.batch_id, retry.body) == (batch.batch_id, batch.body)
    again.ack(batch.batch_id, now=T0 + 201)
    following = again.next_batch(IDENTITY, cameras=["north"], now=T0 + 202)
    assert following.batch_id != batch.batch_id
    assert [b["start"] for b in body_of(following)["buckets"]] == ["2027-01-15T08:00:10Z"]
    again.close()


def test_it_deletes_buckets_only_when_acknowledged(spool):
    spool.put("north", [record(T0)])
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    spool.record_attempt(batch.batch_id, status=503, error="down")
    assert spool.stats().unsent_buckets == 1
    assert spool.ack(batch.batch_id, now=T0 + 101) == 1
    stats = spool.stats()
    assert (stats.unsent_buckets, stats.delivered_buckets, stats.last_upload) == (0, 1, T0 + 101)
    assert spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 102) is None


def test_it_merges_cameras_of_a_site_and_waits_for_all_of_them(spool):
    spool.put("north", [record(T0, cars=2)])
    assert spool.next_batch(IDENTITY, cameras=["north", "east"], now=T0 + 20) is None
    east = Bucket(T0, 10, 0.5, counts=(("east-stop", "out", "bus", 1),))
    spool.put("east", [east])
    (bucket,) = body_of(spool.next_batch(IDENTITY, cameras=["north", "east"], now=T0 + 20))[
        "buckets"
    ]
    assert bucket["uptime"] == 0.75  # the mean of north's 1.0 and east's 0.5
    assert {(c["counter"], c["count"]) for c in bucket["counts"]} == {("stop", 2), ("east-stop", 1)}


def test_it_sends_without_a_silent_camera_after_the_wait_counting_it_unwatched(spool):
    spool.put("north", [record(T0, cars=2)])
    batch = spool.next_batch(IDENTITY, cameras=["north", "east"], now=T0 + 10 + 300)
    # Half the site's cameras watched: partial coverage, not "no data" (which would make the
    # platform discard north's two cars).
    (bucket,) = body_of(batch)["buckets"]
    assert bucket["uptime"] == 0.5
    assert sum(c["count"] for c in bucket["counts"]) == 2
    # The missing camera's bucket turns up later: sending it would duplicate the start.
    spool.put("east", [record(T0)])
    assert spool.stats().late_buckets == 1


def test_a_recordings_old_timeline_still_waits_for_every_camera(tmp_path):
    # Buckets of a recording from hours ago are spooled now: the wait runs from spooling.
    spool = Spool(tmp_path / "spool.db", max_bytes=10**7, clock=lambda: T0 + 7200)
    spool.put("north", [record(T0)])
    assert spool.next_batch(IDENTITY, cameras=["north", "east"], now=T0 + 7210) is None
    assert spool.next_batch(IDENTITY, cameras=["north", "east"], now=T0 + 7500) is not None


def test_a_camera_that_moved_past_a_start_is_not_waited_for(spool):
    spool.put("north", [record(T0)])
    # East never spooled T0 (the cap dropped it, say) but has moved on to T0 + 10.
    spool.put("east", [record(T0 + 10)])
    batch = spool.next_batch(IDENTITY, cameras=["north", "east"], now=T0 + 20)
    starts = [b["start"] for b in body_of(batch)["buckets"]]
    assert starts == ["2027-01-15T08:00:00Z"]  # T0 + 10 still waits for north
    assert body_of(batch)["buckets"][0]["uptime"] == 0.5  # north watched, east did not


def test_it_drops_the_oldest_buckets_over_the_cap_and_counts_them(tmp_path):
    size = len(json.dumps(privacy.wire(record(T0)), separators=(",", ":")))
    spool = Spool(tmp_path / "spool.db", max_bytes=size * 3)
    spool.put("north", [record(T0 + 10 * i) for i in range(5)])
    stats = spool.stats()
    assert (stats.unsent_buckets, stats.oldest_unsent_start, stats.dropped_buckets) == (
        3,
        T0 + 20,
        2,
    )
    spool.close()
    assert Spool(tmp_path / "spool.db", max_bytes=size * 3).stats().dropped_buckets == 2


def test_it_never_cuts_the_batch_in_flight_to_make_room(tmp_path):
    size = len(json.dumps(privacy.wire(record(T0)), separators=(",", ":")))
    spool = Spool(tmp_path / "spool.db", max_bytes=size * 2)
    spool.put("north", [record(T0), record(T0 + 10)])
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    spool.put("north", [record(T0 + 20)])
    assert spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100).body == batch.body
    assert spool.stats().dropped_buckets == 1  # the newer, unbatched bucket gave way


def test_it_moves_a_refused_batch_to_dead_letters_with_the_reason(spool):
    spool.put("north", [record(T0)])
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    spool.dead_letter(batch.batch_id, status=422, reason="buckets[0].seconds: below 60", now=T0)
    stats = spool.stats()
    assert (stats.unsent_buckets, stats.dead_letters) == (0, 1)
    assert stats.last_dead_letter_reason == "buckets[0].seconds: below 60"
    assert spool.dead_letters()[0]["batch_id"] == batch.batch_id
    assert spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100) is None


def test_it_rebatches_a_released_batch_under_a_new_id(spool):
    spool.put("north", [record(T0), record(T0 + 10)])
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    spool.release(batch.batch_id)
    smaller = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100, max_buckets=1)
    assert smaller.batch_id != batch.batch_id and smaller.buckets == 1


WRITER = textwrap.dedent(
    """
    import sys
    from edge_worker import privacy
    from edge_worker.buckets import Bucket
    from edge_worker.spool import Spool

    spool = Spool(sys.argv[1], max_bytes=10**9)
    start = 1_800_000_000
    while True:
        spool.put("north", [Bucket(start, 10, 1.0)])
        print(start, flush=True)  # only after put returned, i.e. after COMMIT
        start += 10
    """
)


def test_it_loses_no_committed_bucket_when_killed_during_writes(tmp_path):
    path = tmp_path / "spool.db"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    committed = []
    deadline = time.monotonic() + 30
    while len(committed) < 40 and time.monotonic() < deadline:
        committed.append(int(writer.stdout.readline()))
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    # Whatever the writer printed after its last readline is committed too; read it all.
    committed += [int(line) for line in writer.stdout.read().split()]
    assert len(committed) >= 40
    spool = Spool(path, max_bytes=10**9)
    stored = {r[0] for r in spool._db.execute("SELECT start FROM camera_bucket")}
    assert set(committed) <= stored
    assert spool._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    spool.close()


def test_dead_letters_leave_only_by_an_operators_explicit_discard(tmp_path, capsys):
    from edge_worker.__main__ import main

    (tmp_path / "model.onnx").write_bytes(b"m")
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    (tmp_path / "site.yaml").write_text(
        "device_id: d\nsite: s\nregion: eu-west\nendpoint: https://eu.example\n"
        "secret_env: JUNCTION_SECRET\nmodel: {path: model.onnx, sha256: '" + "0" * 64 + "'}\n"
        "spool: {path: spool.db}\ncameras: [{name: north, source: clip.mp4}]\n"
    )
    spool = Spool(tmp_path / "spool.db", max_bytes=10**7)
    spool.put("north", [record(T0)])
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 100)
    spool.dead_letter(batch.batch_id, status=422, reason="no counter named 'stop'", now=T0)
    config = str(tmp_path / "site.yaml")
    assert main(["dead-letters", "--config", config]) == 0
    assert "no counter named 'stop'" in capsys.readouterr().out
    assert main(["dead-letters", "--config", config, "--show", batch.batch_id]) == 0
    assert json.loads(capsys.readouterr().out)["batch_id"] == batch.batch_id
    assert main(["dead-letters", "--config", config, "--discard", batch.batch_id]) == 0
    assert spool.stats().dead_letters == 0
    assert main(["dead-letters", "--config", config, "--discard", batch.batch_id]) == 1
    spool.close()
