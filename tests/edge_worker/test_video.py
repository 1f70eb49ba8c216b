"""Video sources: file timing and stride, clear errors, stream reconnects with backoff."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from edge_worker import video
from edge_worker.video import VideoError, VideoFile


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 20-frame, 10 fps clip whose frame i is filled with grey level 10 * i."""
    path = tmp_path_factory.mktemp("video") / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(20):
        writer.write(np.full((48, 64, 3), 10 * i, np.uint8))
    writer.release()
    return path


def grey(frame: np.ndarray) -> int:
    return int(round(frame.mean() / 10))


@pytest.mark.parametrize("stride", [1, 2, 3, 7])
def test_a_file_is_timed_by_frame_index_and_fps_at_any_stride(clip, stride):
    recording = VideoFile(clip, stride)
    seen = [(t, grey(frame)) for t, frame in recording]
    assert seen == [(i / 10.0, i) for i in range(0, 20, stride)]
    assert recording.frames_read == 20
    assert recording.fps == 10.0


def test_frames_yields_frame_then_time(clip):
    first_frame, first_t = next(video.frames(str(clip), stride=5))
    assert (grey(first_frame), first_t) == (0, 0.0)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.mp4", None, "video file not found"),
        ("notes.mp4", b"this is not a video", "cannot decode video file"),
    ],
)
def test_an_unreadable_file_is_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VideoError, match=message):
        list(video.read_file(path))


class FakeCapture:
    def __init__(self, frames: int | None):
        self.frames = frames  # None: the stream cannot be opened
        self.grabbed = 0

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        return self.frames is not None

    def grab(self) -> bool:
        if not self.frames:
            return False
        self.frames -= 1
        self.grabbed += 1
        return True

    def retrieve(self):
        """The frame last grabbed, every pixel its index in the stream."""
        return True, np.full((2, 2, 3), self.grabbed - 1, np.uint8)

    def release(self) -> None:
        pass


def test_a_dropped_stream_is_reopened_with_exponential_backoff(monkeypatch, caplog):
    monkeypatch.setattr(video.random, "uniform", lambda low, high: 1.0)
    captures = iter([FakeCapture(None), FakeCapture(None), FakeCapture(3), FakeCapture(None)])
    waits: list[float] = []
    url = "rtsp://admin:hunter2@10.0.0.5/stream1"
    with caplog.at_level(logging.WARNING):
        frames = video.read_stream(
            url, stop=lambda: len(waits) >= 4, sleep=waits.append, opener=lambda _: next(captures)
        )
        assert len(list(frames)) == 3
    # Two failed opens double the wait; frames flowed, so the next drop starts again at 1 s.
    assert waits == [1.0, 2.0, 1.0, 2.0]
    assert "hunter2" not in caplog.text and "rtsp://10.0.0.5/stream1" in caplog.text


def test_a_stream_honours_the_stride():
    captures = iter([FakeCapture(10)])
    frames = video.read_stream(
        "http://cam/mjpg", stride=4, sleep=lambda _: None, opener=lambda _: next(captures)
    )
    assert [int(next(frames)[0, 0, 0]) for _ in range(3)] == [0, 4, 8]  # of the 10


def test_backoff_is_capped(monkeypatch):
    monkeypatch.setattr(video.random, "uniform", lambda low, high: high)  # the longest jitter
    waits: list[float] = []
    backoff = video.FIRST_BACKOFF_S
    for _ in range(9):
        backoff = video._wait(backoff, waits.append)
    assert waits == pytest.approx([1.2 * b for b in (1, 2, 4, 8, 16, 32, 60, 60, 60)])


def test_prefetching_keeps_order_and_passes_errors_on(clip):
    assert [t for t, _ in video.prefetched(VideoFile(clip, 3))] == [i / 10 for i in range(0, 20, 3)]

    def broken():
        yield 1
        raise VideoError("decoder died")

    items = video.prefetched(broken())
    assert next(items) == 1
    with pytest.raises(VideoError, match="decoder died"):
        next(items)


def test_a_consumer_may_stop_early():
    items = video.prefetched(iter(range(1000)), depth=2)
    assert next(items) == 0
    items.close()  # the reader thread is told to stop and is joined
