"""What only the live RTSP camera has: its RFC 2435 packetizer, and the transport OpenCV asks
it for. Its reads, stride, drops, silent links and mute cameras are tested with the MJPEG
camera's, in test_stream_live.py. See rtsp_server.py for the camera."""

from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_worker import video
from tests.edge_worker.rtsp_server import JpegFrame, RtspCamera, rtp_payloads


@pytest.fixture
def camera(live_clip: Path):
    with RtspCamera(live_clip, frames=48) as live:
        yield live


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
