"""The camera loop (frames -> analyser -> buckets -> spool) and the worker's start-up checks."""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from edge_worker.camera import CameraLoop, TimedFrame, file_timeline
from edge_worker.config import CameraConfig, ConfigError
from edge_worker.events import CountEvent, FrameResult
from edge_worker.spool import BatchIdentity, Spool
from edge_worker.worker import EdgeWorker

T0 = 1_800_000_000
IDENTITY = BatchIdentity("dev-1", "main-and-5th", "eu-west", "yolox_nano", "ab" * 32)
ALL = frozenset({"person", "bicycle", "car", "motorcycle", "bus", "truck"})


class EveryTwoSeconds:
    """Counts one car whenever an analysed frame's time passes an even second."""

    def __init__(self):
        self.seen: list[float] = []

    def analyse(self, frame, t: float) -> FrameResult:
        self.seen.append(t)
        crossed = len(self.seen) > 1 and int(t) // 2 != int(self.seen[-2]) // 2
        events = (CountEvent("stop", "in", "car", t),) if crossed else ()
        return FrameResult(t, events)

    def finish(self, t: float) -> FrameResult:
        return FrameResult(t, ())


def camera(tmp_path, **extra) -> CameraConfig:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00")
    values = {"name": "north", "source": str(clip), "stride": 3, **extra}
    return CameraConfig.model_validate(values)


def file_frames(seconds: float, fps: float = 24.0, stride: int = 3):
    """What the video source yields for a file: every stride-th frame, on its timeline."""
    return [TimedFrame(T0 + i / fps, None) for i in range(0, int(seconds * fps), stride)]


def spooled(spool: Spool) -> list[dict]:
    batch = spool.next_batch(IDENTITY, cameras=["north"], now=T0 + 10_000)
    return json.loads(batch.body)["buckets"] if batch else []


def run_loop(cam, spool, frames, analyser=None, stop=lambda: False):
    reports = []
    loop = CameraLoop(
        camera=cam,
        analyser=analyser or EveryTwoSeconds(),
        spool=spool,
        bucket_seconds=10,
        classes=ALL,
        report=reports.append,
    )
    loop.run(frames, stop)
    return reports


def test_a_file_gives_buckets_on_its_own_timeline_with_a_partial_last_bucket(tmp_path):
    spool = Spool(tmp_path / "spool.db", max_bytes=10**7)
    reports = run_loop(camera(tmp_path), spool, file_frames(25))
    buckets = spooled(spool)
    assert [(b["start"][-10:], b["uptime"]) for b in buckets] == [
        ("T08:00:00Z", 1.0),
        ("T08:00:10Z", 1.0),
        ("T08:00:20Z", 0.4875),  # analysed up to the last analysed frame at 24.875 s
    ]
    assert [sum(c["count"] for c in b["counts"]) for b in buckets] == [4, 5, 3]
    final = reports[-1]
    assert (final.state, final.frames_read, final.frames_analysed) == ("finished", 600, 200)
    assert final.frames_skipped == 400


def test_a_replayed_file_after_a_crash_adds_nothing_twice(tmp_path):
    path = tmp_path / "spool.db"
    cam = camera(tmp_path)
    # The first run dies 14 s into the recording: the bucket up to 10 s is spooled, the open
    # one is lost with the process.
    first = Spool(path, max_bytes=10**7)
    analyser = EveryTwoSeconds()
    run_loop(cam, first, file_frames(25), analyser, stop=lambda: analyser.seen[-1:] >= [T0 + 14])
    assert first.resume_point("north") == T0 + 10
    first.close()
    again = Spool(path, max_bytes=10**7)
    run_loop(cam, again, file_frames(25))
    reference = Spool(tmp_path / "reference.db", max_bytes=10**7)
    run_loop(cam, reference, file_frames(25))
    assert spooled(again) == spooled(reference)


class SpoolWatch(Spool):
    """A spool that keeps the bucket starts of every write, in order, as offsets from T0."""

    def __init__(self, path):
        super().__init__(path, max_bytes=10**7)
        self.writes: list[list[float]] = []

    def put(self, camera, buckets, *, dropped_unspooled=0):
        stored = super().put(camera, buckets, dropped_unspooled=dropped_unspooled)
        self.writes.append([b.start - T0 for b in buckets])
        return stored


def test_a_live_outage_closes_uptime_zero_buckets_while_it_lasts(tmp_path):
    """The stream gives 12 frames 1/8 s apart from T0 (one bucket and 3/8 of the next), then
    hangs while the clock moves to T0 + 6. Without any frame, the buckets up to the clock less
    LIVE_LATENESS_S (T0 + 4) are closed with uptime 0 while the stream still hangs; stopping
    closes the rest up to T0 + 6."""
    spool = SpoolWatch(tmp_path / "spool.db")
    cam = CameraConfig.model_validate(
        {"name": "north", "source": "rtsp://cam.invalid/1", "stride": 1, "max_frame_gap_s": 0.5}
    )
    now = [float(T0)]
    analysed, stopped = threading.Event(), threading.Event()
    deadline = time.monotonic() + 30

    class Signals(EveryTwoSeconds):
        def analyse(self, frame, t):
            result = super().analyse(frame, t)
            analysed.set()
            return result

    def stream():
        # Each frame is grabbed once the previous one is analysed, so none is dropped as stale.
        for i in range(12):
            now[0] = T0 + i / 8
            analysed.clear()
            yield TimedFrame(now[0], None)
            analysed.wait(10)
        now[0] = T0 + 6.0  # the stream hangs; time goes on
        stopped.wait(30)

    def stop() -> bool:
        # Once the outage's buckets up to T0 + 4 are spooled (or the test gave up waiting).
        if [1, 2, 3] in spool.writes or time.monotonic() > deadline:
            stopped.set()
        return stopped.is_set()

    loop = CameraLoop(
        camera=cam,
        analyser=Signals(),
        spool=spool,
        bucket_seconds=1,
        classes=ALL,
        report=lambda r: None,
        clock=lambda: now[0],
    )
    loop.run(stream(), stop)
    # While the stream hung, the buckets it ended closed: [T0, T0 + 1) by the frame at T0 + 1,
    # the rest by the clock alone; the stop then closed those up to the clock.
    assert spool.writes == [[0], [1, 2, 3], [4, 5]]
    assert [b["uptime"] for b in spooled(spool)] == [1.0, 0.375, 0.0, 0.0, 0.0, 0.0]


def test_a_file_timeline_starts_at_its_anchor_or_at_start_up(tmp_path):
    anchored = camera(tmp_path, timeline_start="2026-11-27T06:00:00Z")
    start = datetime(2026, 11, 27, 6, tzinfo=UTC).timestamp()
    assert file_timeline(anchored, started=123.0)(2.5) == start + 2.5
    assert file_timeline(camera(tmp_path), started=123.0)(2.5) == 125.5


def site_file(tmp_path, **changes) -> str:
    model = tmp_path / "model.onnx"
    model.write_bytes(b"model")
    (tmp_path / "clip.mp4").write_bytes(b"\x00")
    (tmp_path / "secret").write_text("s3cret")
    data = {
        "device_id": "dev-1",
        "site": "main-and-5th",
        "region": "eu-west",
        "endpoint": "http://127.0.0.1:9",
        "secret_file": "secret",
        "model": {"path": "model.onnx", "sha256": hashlib.sha256(b"model").hexdigest()},
        "bucket_seconds": 1,
        "spool": {"path": "spool.db"},
        "health": {"port": 0},
        "cameras": [{"name": "north", "source": "clip.mp4"}],
        **changes,
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model": {"path": "model.onnx", "sha256": "0" * 64}}, "model.sha256"),
        ({"secret_file": "missing-secret"}, "secret_file"),
    ],
)
def test_the_worker_refuses_to_start_before_any_camera_runs(tmp_path, changes, message):
    worker = EdgeWorker(site_file(tmp_path, **changes))
    with pytest.raises(ConfigError, match=message):
        worker.start()
    assert worker._cameras == {}
    assert not (tmp_path / "spool.db").exists()


def test_a_crashing_camera_is_reported_down_and_restarted_and_sigterm_stops_cleanly(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The model file has the digest the site file names, but is no model: the camera process
    # fails while building its analyser, every time.
    config = site_file(tmp_path, health={"port": port})
    worker = subprocess.Popen(
        [sys.executable, "-m", "edge_worker", "run", "--config", config],
        cwd=Path(__file__).resolve().parents[2],
        stderr=subprocess.PIPE,
        text=True,
    )

    def health() -> tuple[int, dict] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)
        except OSError:
            return None

    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline:
            answer = health()
            if answer and answer[1]["cameras"]["north"]["state"] == "down":
                break
            time.sleep(0.2)
        assert answer and answer[0] == 503, answer
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=30)
    log = worker.stderr.read()
    assert code == 0, log
    assert "camera north exited with 1; restarting" in log


def test_a_file_that_breaks_off_fails_instead_of_looking_finished(tmp_path):
    spool = Spool(tmp_path / "spool.db", max_bytes=10**7)

    def breaks_off():
        yield from file_frames(14)
        raise OSError("decoder error at 14 s")

    with pytest.raises(OSError, match="decoder error"):
        run_loop(camera(tmp_path), spool, breaks_off())
    # The complete bucket is kept; the broken-off one is not closed as if the file had ended.
    assert spool.resume_point("north") == T0 + 10
