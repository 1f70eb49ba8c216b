"""Live streams end to end: OpenCV reads real footage from a local camera, the MJPEG one over
HTTP and the RTSP one (JPEG over RTP, interleaved in the RTSP connection) alike, and
read_stream (and a real camera process on the MJPEG one) rides out the camera dropping off, a
link going silent and a camera that never answers. See live_camera.py, mjpeg_server.py and
rtsp_server.py for the cameras; test_stream_rtsp.py for what only RTSP has."""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import os
import queue
import socket
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge_worker import health, video
from edge_worker.camera import CameraLoop, TimedFrame, camera_main
from edge_worker.config import CameraConfig
from edge_worker.events import FrameResult
from edge_worker.spool import BatchIdentity, Spool
from tests.edge_worker.live_camera import LiveCamera
from tests.edge_worker.mjpeg_server import MjpegCamera
from tests.edge_worker.rtsp_server import RtspCamera

# The test's own backoff is this much shorter than the product's, so reconnects take tenths.
FAST = 10.0
SPOOL = "spool.db"
TCP = "RTP/AVP/TCP;unicast;interleaved=0-1"


@pytest.fixture(params=[MjpegCamera, RtspCamera], ids=["mjpeg", "rtsp"])
def camera_class(request, monkeypatch) -> type[LiveCamera]:
    # Unset, OpenCV asks FFmpeg for RTP over TCP first (rtsp_flags prefer_tcp), as the worker
    # relies on; any value set here would replace that default (see test_stream_rtsp.py).
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    return request.param


@pytest.fixture
def camera(camera_class: type[LiveCamera], live_clip: Path):
    with camera_class(live_clip, frames=48) as live:
        yield live


def nothing_listening() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return MjpegCamera.url_at(s.getsockname()[1])


def test_a_live_camera_is_read_frame_by_frame_in_order(camera):
    frames = video.read_stream(camera.url)
    seen = [next(frames) for _ in range(12)]
    frames.close()
    assert {f.shape for f in seen} == {camera.frame_shape} == {(352, 640, 3)}
    assert [camera.position(f) for f in seen] == list(range(12))
    # The frames the camera sent, not just frames of the right size: FFmpeg's JPEG decoder
    # rounds a little differently from libjpeg's (about 1), neighbouring frames differ by 2+.
    assert max(min(camera.differences(f)) for f in seen) < 1.5
    if isinstance(camera, RtspCamera):
        assert camera.transports == [TCP]  # RTP inside the RTSP connection: no UDP to firewall


def test_a_stream_honours_the_stride_live(camera):
    frames = video.read_stream(camera.url, stride=4)
    seen = [next(frames) for _ in range(3)]
    frames.close()
    assert [camera.position(f) for f in seen] == [0, 4, 8]


def test_a_camera_that_drops_off_is_reconnected_with_backoff(camera, monkeypatch, caplog):
    """The camera goes away (connections reset, then nothing listens) and is back during the
    third wait, on the same URL: read_stream logs the drop, retries with doubling waits while
    the camera is down, and delivers the restarted camera's frames from its first."""
    monkeypatch.setattr(video.random, "uniform", lambda low, high: 1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:  # the drop's wait, then two failed opens: the camera is back
            camera.start()
        time.sleep(seconds / FAST)

    before: list[np.ndarray] = []
    after: list[np.ndarray] = []

    def stop() -> bool:
        return len(after) >= 10 or len(waits) > 8  # the second: never back, fail, do not hang

    with caplog.at_level(logging.INFO, logger="edge_worker.video"):
        for frame in video.read_stream(camera.url, stop=stop, sleep=sleep):
            (before if camera.connections == 1 else after).append(frame)
            if len(before) == 10 and camera.connections == 1 and not waits:
                camera.stop()
    assert camera.connections == 2
    # Frames already on their way when the camera dropped off may still come: 10 or more.
    assert len(before) >= 10 and len(after) == 10
    assert {f.shape for f in before + after} == {camera.frame_shape}
    assert [camera.position(f) for f in before[:10]] == list(range(10))
    assert [camera.position(f) for f in after] == list(range(10))  # the restarted stream
    assert "dropped; reconnecting in 1 s" in caplog.text
    assert caplog.text.count("cannot open stream") == 2  # the two tries while it was down ...
    assert waits == [1.0, 2.0, 4.0]  # ... after doubling waits
    if isinstance(camera, RtspCamera):
        assert camera.transports == [TCP, TCP]


def test_a_silent_link_counts_as_a_drop_after_the_stream_timeout(camera, monkeypatch, caplog):
    """The connection stays open but no byte comes any more (a link dead without FIN or RST):
    without a read timeout grab() would wait for it (30 s by OpenCV's default). OpenCV's read
    timeout ends it for RTSP too, not FFmpeg's own RTSP timeouts."""
    monkeypatch.setattr(video, "STREAM_TIMEOUT_S", 1.0)
    frames = video.read_stream(camera.url, sleep=lambda s: time.sleep(s / FAST))
    with caplog.at_level(logging.WARNING, logger="edge_worker.video"):
        for _ in range(5):
            next(frames)
        camera.stall()
        stalled_at = time.monotonic()
        while camera.connections == 1:
            frame = next(frames)
        frame = next(frames)  # one more: this one surely came over the new connection
        recovered_s = time.monotonic() - stalled_at
    frames.close()
    assert frame.shape == camera.frame_shape
    assert "dropped; reconnecting" in caplog.text
    assert 0.9 < recovered_s < 6  # the 1 s timeout, a 0.1 s wait and the reopen, on a busy CI


def test_a_camera_that_accepts_but_never_answers_fails_to_open_within_the_timeout(
    camera_class, monkeypatch, caplog
):
    monkeypatch.setattr(video, "STREAM_TIMEOUT_S", 0.5)
    waits: list[float] = []
    with socket.socket() as mute, caplog.at_level(logging.WARNING, logger="edge_worker.video"):
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # the kernel completes the handshake; nobody ever answers
        url = camera_class.url_at(mute.getsockname()[1])
        began = time.monotonic()
        assert list(video.read_stream(url, stop=lambda: len(waits) >= 2, sleep=waits.append)) == []
        elapsed = time.monotonic() - began
    assert caplog.text.count("cannot open stream") == 2
    assert elapsed < 4  # two opens of 0.5 s each, not two of OpenCV's default 30 s


def test_the_stream_timeout_ends_a_silent_link_before_health_calls_the_camera_stalled():
    assert video.STREAM_TIMEOUT_S * 2 < health.STALLED_AFTER_S


def test_an_unreachable_camera_is_retried_with_growing_backoff_until_stopped(caplog):
    url = nothing_listening()
    waits: list[float] = []
    with caplog.at_level(logging.WARNING, logger="edge_worker.video"):
        frames = video.read_stream(url, stop=lambda: len(waits) >= 7, sleep=waits.append)
        assert list(frames) == []  # it never raises; stop() ends it
    # Doubling from 1 s, each with up to 20 % jitter, capped at MAX_BACKOFF_S (60 s).
    for attempt, wait in enumerate(waits):
        nominal = min(2.0**attempt, video.MAX_BACKOFF_S)
        assert 0.8 * nominal <= wait <= 1.2 * nominal
    assert caplog.text.count("cannot open stream") == 7


# --- The real camera process on a live stream --------------------------------------------------


class StopsAfter:
    """An analyser that counts nothing and asks the camera to stop after a few frames."""

    def __init__(self, frames: int, stop: threading.Event):
        self.frames, self.stop = frames, stop

    def analyse(self, frame, t: float) -> FrameResult:
        self.frames -= 1
        if self.frames <= 0:
            self.stop.set()
        return FrameResult(t, ())

    def finish(self, t: float) -> FrameResult:
        return FrameResult(t, ())


def test_a_stopped_camera_loop_returns_only_once_its_reader_is_out_of_the_decoder(
    live_clip, tmp_path
):
    """The camera process exits as soon as run() returns; a reader thread still inside OpenCV's
    grab() then aborts it (SIGABRT). At 2 fps the reader waits in grab() for the next frame
    for up to half a second after the analyser asked to stop."""
    stop, reader_done = threading.Event(), threading.Event()
    with MjpegCamera(live_clip, fps=2, frames=8) as live:

        def frames():
            try:
                for image in video.read_stream(live.url, stop=stop.is_set):
                    yield TimedFrame(time.time(), image)
            finally:
                reader_done.set()

        spool = Spool(tmp_path / SPOOL, max_bytes=10**7)
        loop = CameraLoop(
            camera=CameraConfig.model_validate({"name": "north", "source": live.url}),
            analyser=StopsAfter(2, stop),
            spool=spool,
            bucket_seconds=1,
            classes=frozenset({"car"}),
            report=lambda report: None,
        )
        loop.run(frames(), stop.is_set)
        assert reader_done.is_set()
        spool.close()


IDENTITY = BatchIdentity("dev-live", "main-and-5th", "eu-west", "yolox_nano", "ab" * 32)


def site_file(folder: Path, model: Path, url: str) -> Path:
    (folder / "secret").write_text("live-secret")
    site = {
        "device_id": IDENTITY.device_id,
        "site": IDENTITY.site,
        "region": IDENTITY.region,
        "endpoint": "http://127.0.0.1:9",  # never used: no uplink runs in a camera process
        "secret_file": "secret",
        "model": {"path": str(model), "sha256": hashlib.sha256(model.read_bytes()).hexdigest()},
        "bucket_seconds": 1,
        "spool": {"path": SPOOL},
        "cameras": [
            {
                "name": "north",
                "source": url,
                "stride": 2,
                "max_frame_gap_s": 1.0,
                "lines": [{"name": "stop", "points": [[150, 200], [600, 200]]}],
            }
        ],
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    return path


def wait_for_analysed(reports, more_than: int, patience_s: float = 30) -> int:
    """Frames analysed so far, once the camera process reports more than `more_than`."""
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        try:
            report = reports.get(timeout=0.5)
        except queue.Empty:
            continue
        if report.frames_analysed > more_than:
            return report.frames_analysed
    raise AssertionError(f"the camera process analysed no more than {more_than} frames")


def wait_for_spooled(path: Path, until: float, patience_s: float = 30) -> None:
    """Return once the camera process has spooled every bucket that ends by `until`."""
    spool = Spool(path, max_bytes=10**7)
    try:
        deadline = time.monotonic() + patience_s
        while (spool.resume_point("north") or 0) < until:
            if time.monotonic() > deadline:
                raise AssertionError(f"the camera process spooled nothing up to {until}")
            time.sleep(0.1)
    finally:
        spool.close()


def spooled(path: Path) -> list[dict]:
    spool = Spool(path, max_bytes=10**7)
    try:
        batch = spool.next_batch(IDENTITY, cameras=["north"], now=time.time() + 3600)
        return json.loads(batch.body)["buckets"] if batch else []
    finally:
        spool.close()


# The restarted camera shows the clip's first 104 frames (4.3 s) and drops off: two cars cross
# the line in them (ground truth: frames 18 and 75), the third only at frame 126.
RESTARTED_FRAMES = 104


def test_a_camera_process_analyses_a_live_stream_through_a_drop(live_clip, model_path, tmp_path):
    """camera_main, as the worker spawns it, with the real model on the live camera: it
    analyses frames, the camera drops off for a second and a half, and it analyses again. The
    spool holds 1 s buckets with uptime before and after the drop, none during it, and exactly
    the two cars the restarted camera shows crossing the line."""
    mp = multiprocessing.get_context("spawn")
    reports, stop = mp.Queue(maxsize=1000), mp.Event()
    path = tmp_path / SPOOL
    with MjpegCamera(live_clip, frames=240) as live:
        config = site_file(tmp_path, model_path, live.url)
        process = mp.Process(
            target=camera_main, args=(str(config), "north", reports, stop, os.getpid())
        )
        process.start()
        try:
            wait_for_analysed(reports, 0)
            # A whole bucket analysed before the drop: one that starts now or later is closed.
            wait_for_spooled(path, until=time.time() + 1)
            live.stop()
            dropped_at = time.time()
            # The outage's length, not a wait for anything: the process retries after about
            # 1 s (down still), then after 2 s more, when the camera is back.
            time.sleep(1.5)
            live.unplug_after(RESTARTED_FRAMES)
            live.start()
            assert live.unplugged.wait(timeout=30), "the process never came back"
            live.stop()
            # The frames sent are analysed once the clock has closed the bucket after them.
            wait_for_spooled(path, until=time.time() + 1)
        finally:
            stop.set()
            process.join(timeout=15)
            if process.is_alive():
                process.kill()
    assert process.exitcode == 0
    assert live.connections == 2
    back_at = live.connected_at[1]
    buckets = {datetime.fromisoformat(b["start"]).timestamp(): b for b in spooled(path)}
    starts = sorted(buckets)
    assert starts == [starts[0] + i for i in range(len(starts))]  # the outage left no hole
    uptime = {start: b["uptime"] for start, b in buckets.items()}
    assert any(up > 0.5 for start, up in uptime.items() if start + 1 <= dropped_at)
    assert 0.0 in [up for start, up in uptime.items() if dropped_at <= start <= back_at - 1]
    assert any(up > 0.5 for start, up in uptime.items() if start >= back_at)
    after = Counter()
    for start, bucket in buckets.items():
        if start >= back_at - 1:
            for c in bucket["counts"]:
                after[(c["counter"], c["direction"], c["class"])] += c["count"]
    assert after == {("stop", "in", "car"): 2}
