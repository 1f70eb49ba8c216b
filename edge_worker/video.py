"""Video sources through OpenCV: recorded files and live RTSP/HTTP streams.

A file is timed by its own frame rate (frame index / fps), so a recording gives the same counts
however fast it is analysed. A live stream is timed by the wall clock at the grab, and is
reopened with exponential backoff when it drops, because cameras and their links do.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://")
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0
# How long opening a stream, or waiting for its next frame, may take before it counts as dropped.
# OpenCV's own default is 30 s, as long as health.STALLED_AFTER_S: a link that dies silently (no
# FIN, no RST) would block grab() until the camera is reported stalled, before read_stream even
# noticed the drop and tried to reconnect.
STREAM_TIMEOUT_S = 10.0


class VideoError(RuntimeError):
    """The source cannot be opened or read at all."""


def is_stream(source: str) -> bool:
    return source.lower().startswith(STREAM_PREFIXES)


def open_file(path: str | Path) -> tuple[cv2.VideoCapture, float, int]:
    """Open a recording; return the capture, its frame rate and its frame count (0 if unknown)."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"video file not found: {path}")
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    if not capture.isOpened() or not fps or fps <= 0 or not np.isfinite(fps):
        capture.release()
        raise VideoError(f"cannot decode video file: {path}")
    return capture, float(fps), max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))


class VideoFile:
    """A recording read front to back; `frames_read` counts decoded frames, skipped ones too."""

    def __init__(self, path: str | Path, stride: int = 1) -> None:
        self.path = Path(path)
        self.stride = stride
        capture, self.fps, self.frame_count = open_file(self.path)
        capture.release()
        self.frames_read = 0

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        """(seconds into the recording, frame) for every stride-th frame."""
        capture, _, _ = open_file(self.path)
        try:
            while True:
                index = self.frames_read
                if index % self.stride:
                    # Skipped frames must still be decoded (H.264 needs them), not converted.
                    if not capture.grab():
                        return
                    self.frames_read += 1
                    continue
                ok, frame = capture.read()
                if not ok:
                    if index == 0:
                        raise VideoError(f"cannot decode video file: {self.path}")
                    return
                self.frames_read += 1
                yield index / self.fps, frame
        finally:
            capture.release()


def read_file(path: str | Path, stride: int = 1) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds into the recording, frame) for every stride-th frame of a file."""
    return iter(VideoFile(path, stride))


def open_stream(url: str) -> cv2.VideoCapture:
    """Open a live stream that gives up after STREAM_TIMEOUT_S without an answer or a frame."""
    timeout_ms = int(STREAM_TIMEOUT_S * 1000)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]
    return cv2.VideoCapture(url, cv2.CAP_ANY, params)


def read_stream(
    url: str,
    stop: Callable[[], bool] = lambda: False,
    stride: int = 1,
    sleep: Callable[[float], None] = time.sleep,
    opener: Callable[[str], cv2.VideoCapture] = open_stream,
) -> Iterator[np.ndarray]:
    """Frames of a live stream, forever (until `stop()`), reconnecting when the stream drops."""
    backoff = FIRST_BACKOFF_S
    while not stop():
        capture = opener(url)
        if not capture.isOpened():
            capture.release()
            log.warning("cannot open stream %s; retrying in %.0f s", _redacted(url), backoff)
            backoff = _wait(backoff, sleep)
            continue
        log.info("stream %s opened", _redacted(url))
        index, delivered = 0, False
        try:
            while not stop():
                ok = capture.grab()
                if not ok:
                    break
                if index % stride == 0:
                    ok, frame = capture.retrieve()
                    if not ok:
                        break
                    delivered = True
                    yield frame
                index += 1
        finally:
            capture.release()
        if stop():
            return
        if delivered:
            backoff = FIRST_BACKOFF_S  # it worked for a while: start the backoff again
        log.warning("stream %s dropped; reconnecting in %.0f s", _redacted(url), backoff)
        backoff = _wait(backoff, sleep)


def frames(
    source: str, stride: int = 1, stop: Callable[[], bool] = lambda: False
) -> Iterator[tuple[np.ndarray, float]]:
    """(frame, t) from a file (t = seconds into it) or a stream (t = unix time of the grab)."""
    if is_stream(source):
        for frame in read_stream(source, stop=stop, stride=stride):
            yield frame, time.time()
        return
    for t, frame in VideoFile(source, stride):
        if stop():
            return
        yield frame, t


def prefetched(items: Iterable, depth: int = 4) -> Iterator:
    """Iterate `items` on a reader thread, `depth` ahead of the consumer.

    OpenCV releases the GIL while decoding and ONNX Runtime while inferring, so on a machine
    with a spare core the next frames are decoded while the current one is analysed.
    """
    ready: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()
    failure: list[BaseException] = []

    def read() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            failure.append(exc)
        finally:
            while not stop.is_set():
                try:
                    ready.put(done, timeout=0.1)
                    break
                except queue.Full:
                    continue

    reader = threading.Thread(target=read, name="video-prefetch", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not done:
            yield item
        if failure:
            raise failure[0]
    finally:
        stop.set()
        reader.join(timeout=5)


def _wait(backoff: float, sleep: Callable[[float], None]) -> float:
    # Jitter keeps many cameras behind one dropped link from reconnecting in lockstep.
    sleep(backoff * random.uniform(0.8, 1.2))
    return min(MAX_BACKOFF_S, backoff * 2)


def _redacted(url: str) -> str:
    """The URL without credentials, for logs (RTSP URLs often carry user:password@)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}{rest.rpartition('@')[2]}" if sep else url
