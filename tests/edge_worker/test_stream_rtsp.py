"""Live RTSP end to end: OpenCV reads real footage from a local RTSP camera (JPEG over RTP,
interleaved in the RTSP connection), and read_stream rides out the camera dropping off, a link
going silent and a camera that never answers. See rtsp_server.py for the camera."""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_worker import video
from tests.conftest import require
from tests.edge_worker.rtsp_server import JpegFrame, RtspCamera, rtp_payloads

CLIP = "suburban_street_ahmetozlu.mp4"  # 640x352 at 24 fps: whole blocks of 8, as RTP needs
# The test's own backoff is this much shorter than the product's, so reconnects take tenths.
FAST = 10.0
TCP = "RTP/AVP/TCP;unicast;interleaved=0-1"


@pytest.fixture(scope="module")
def clip(videos_dir: Path) -> Path:
    require((videos_dir / CLIP).is_file(), f"JUNCTION_TEST_VIDEOS lacks {CLIP}")
    return videos_dir / CLIP


@pytest.fixture
def camera(clip: Path, monkeypatch):
    # Unset, OpenCV asks FFmpeg for RTP over TCP first (rtsp_flags prefer_tcp), as the worker
    # relies on; any value set here would replace that default (see the transport test).
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    with RtspCamera(clip, frames=48) as live:
        yield live


def difference(camera: RtspCamera, frame: np.ndarray) -> list[float]:
    """Mean absolute difference of the frame to each of the camera's frames, as sent."""
    return [float(cv2.absdiff(frame, sent).mean()) for sent in camera.images]


def position(camera: RtspCamera, frame: np.ndarray) -> int:
    """Which of the camera's frames this is: the one it differs least from."""
    return int(np.argmin(difference(camera, frame)))


def test_jpeg_frames_go_out_as_rfc_2435_payloads():
    """The camera's own packetizer: the scan data, in order, after 8-byte JPEG headers that
    carry the offset, type 1, Q 255 and the size in blocks; the tables in the first only."""
    image = np.zeros((352, 640, 3), np.uint8)
    cv2.putText(image, "Junction", (40, 200), cv2.FONT_HERSHEY_SIMPLEX, 4, (0, 200, 255), 9)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    frame = JpegFrame(encoded.tobytes())
    payloads = rtp_payloads(frame)
    assert (frame.width, frame.height, len(frame.tables)) == (640, 352, 128)
    scan, offsets = b"", []
    for number, payload in enumerate(payloads):
        _, high, low, kind, q, width, height = struct.unpack(">BBHBBBB", payload[:8])
        assert (kind, q, width, height) == (1, 255, 80, 44)
        offsets.append(high << 16 | low)
        body = payload[8:]
        if number == 0:
            assert struct.unpack(">BBH", body[:4]) == (0, 0, 128)
            assert body[4:132] == frame.tables
            body = body[132:]
        assert offsets[-1] == len(scan)
        scan += body
    assert len(payloads) > 1 and scan == frame.scan
    assert encoded.tobytes().endswith(frame.scan + b"\xff\xd9")


def test_a_live_rtsp_camera_is_read_frame_by_frame_in_order(camera):
    frames = video.read_stream(camera.url)
    seen = [next(frames) for _ in range(12)]
    frames.close()
    assert {f.shape for f in seen} == {camera.frame_shape} == {(352, 640, 3)}
    assert [position(camera, f) for f in seen] == list(range(12))
    # The frames the camera sent, not just frames of the right size: FFmpeg's JPEG decoder
    # rounds a little differently from libjpeg's (about 1), neighbouring frames differ by 2+.
    assert max(min(difference(camera, f)) for f in seen) < 1.5
    assert camera.transports == [TCP]  # RTP inside the RTSP connection: no UDP to firewall


def test_an_rtsp_stream_honours_the_stride(camera):
    frames = video.read_stream(camera.url, stride=4)
    seen = [next(frames) for _ in range(3)]
    frames.close()
    assert [position(camera, f) for f in seen] == [0, 4, 8]


def test_with_capture_options_set_rtsp_falls_back_from_udp_to_tcp(camera, monkeypatch):
    """Any OPENCV_FFMPEG_CAPTURE_OPTIONS replaces OpenCV's prefer-TCP default, read at each
    open: FFmpeg then tries RTP over UDP first. A camera that refuses UDP is still read (over
    TCP, after a 461); one behind a firewall that drops UDP silently would not be."""
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "max_delay;500000")
    frames = video.read_stream(camera.url)
    frame = next(frames)
    frames.close()
    assert frame.shape == camera.frame_shape
    assert [t.split(";")[0] for t in camera.transports] == ["RTP/AVP/UDP", "RTP/AVP/TCP"]


def test_an_rtsp_camera_that_drops_off_is_reconnected_with_backoff(camera, monkeypatch, caplog):
    """The camera goes away (connections reset, then nothing listens) and is back a second
    later on the same URL: read_stream logs the drop, retries with doubling waits while the
    camera is down, and delivers the restarted camera's frames from its first."""
    monkeypatch.setattr(video.random, "uniform", lambda low, high: 1.0)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds / FAST)

    before: list[np.ndarray] = []
    after: list[np.ndarray] = []
    restart = threading.Timer(1.0, camera.start)

    def stop() -> bool:
        return len(after) >= 10 or len(waits) > 8  # the second: never back, fail, do not hang

    with caplog.at_level(logging.INFO, logger="edge_worker.video"):
        for frame in video.read_stream(camera.url, stop=stop, sleep=sleep):
            (before if camera.connections == 1 else after).append(frame)
            if len(before) == 10 and camera.connections == 1 and not restart.is_alive():
                camera.stop()
                restart.start()
    restart.join()
    assert camera.connections == 2
    assert len(before) >= 10 and len(after) == 10
    assert {f.shape for f in before + after} == {camera.frame_shape}
    assert [position(camera, f) for f in before[:10]] == list(range(10))
    assert [position(camera, f) for f in after] == list(range(10))  # the restarted stream
    assert "dropped; reconnecting in 1 s" in caplog.text
    assert "cannot open stream" in caplog.text  # at least one try while it was down ...
    assert len(waits) >= 2 and waits == [2.0**i for i in range(len(waits))]  # ... doubling
    assert camera.transports == [TCP, TCP]


def test_a_silent_rtsp_link_counts_as_a_drop_after_the_stream_timeout(camera, monkeypatch, caplog):
    """The RTSP connection stays open but no byte comes any more (a link dead without FIN or
    RST): OpenCV's read timeout ends it for RTSP too, not FFmpeg's own RTSP timeouts."""
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


def test_an_rtsp_camera_that_accepts_but_never_answers_fails_to_open_within_the_timeout(
    monkeypatch, caplog
):
    monkeypatch.setattr(video, "STREAM_TIMEOUT_S", 0.5)
    waits: list[float] = []
    with socket.socket() as mute, caplog.at_level(logging.WARNING, logger="edge_worker.video"):
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # the kernel completes the handshake; no RTSP answer ever comes
        url = f"rtsp://127.0.0.1:{mute.getsockname()[1]}/camera"
        began = time.monotonic()
        assert list(video.read_stream(url, stop=lambda: len(waits) >= 2, sleep=waits.append)) == []
        elapsed = time.monotonic() - began
    assert caplog.text.count("cannot open stream") == 2
    assert elapsed < 4  # two opens of 0.5 s each, not two of OpenCV's default 30 s
