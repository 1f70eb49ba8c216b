"""Metamorphic variants of the footage: edits of a video that must not change its counts.

Two kinds of edit. A *replay* edit (played backwards, every frame tripled, a stride, a first
frame) only reorders or repeats the decoded frames: the detector sees each frame on its own, so
replaying the stride-1 detections in that order is exactly what the analyser would compute on
the edited video. A *pixel* edit (camera shake with sensor noise, re-encoding) changes what the
detector sees, so its frames are detected afresh. `Footage` detects each (clip, pixels) once
and keeps the answers for every replay; bench/edge.py prints the same table from it.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_worker.analyser import RECOMMENDED_STRIDE, Analyser
from edge_worker.count import CounterSet, Counting, LineSpec
from edge_worker.detections import Detections
from edge_worker.track import Identity
from edge_worker.video import VideoFile

# Every clip of the footage folder (JUNCTION_TEST_VIDEOS) with a line across its traffic: the
# labelled clips' lines from ground_truth.json, and for the unlabelled ones a line across the
# flow, chosen on a frame.
CLIP_LINES: dict[str, LineSpec] = {
    "suburban_street_ahmetozlu.mp4": LineSpec(name="stop", x1=150, y1=200, x2=600, y2=200),
    "urban_overhead_opencv4nodejs.mp4": LineSpec(name="mid", x1=280, y1=0, x2=280, y2=359),
    "lanes_overhead_bgslibrary.avi": LineSpec(name="mid", x1=320, y1=0, x2=320, y2=359),
    "crossing_aerial_degirum.mp4": LineSpec(name="mid", x1=320, y1=0, x2=320, y2=639),
    "pedestrians_plaza_yalue.mp4": LineSpec(name="plaza", x1=420, y1=120, x2=420, y2=460),
}

SHAKE_PX = 3.0  # largest translation of a frame, each axis: a pole swaying in the wind
NOISE_STD = 4.0  # grey levels of Gaussian sensor noise
SHAKE_SEED = 13
MJPG_QUALITY = 75


def shaken(frames: Iterator[np.ndarray], seed: int = SHAKE_SEED) -> Iterator[np.ndarray]:
    """Each frame moved by its own random sub-pixel offset of up to SHAKE_PX, plus noise."""
    rng = np.random.default_rng(seed)
    for frame in frames:
        dx, dy = rng.uniform(-SHAKE_PX, SHAKE_PX, 2)
        height, width = frame.shape[:2]
        moved = cv2.warpAffine(
            frame,
            np.array([[1, 0, dx], [0, 1, dy]], np.float32),
            (width, height),
            borderMode=cv2.BORDER_REPLICATE,
        )
        noise = rng.standard_normal(frame.shape, dtype=np.float32)
        noise *= NOISE_STD
        yield cv2.add(moved, noise, dtype=cv2.CV_8U)  # saturates at 0 and 255


def reencoded(path: Path, fourcc: str, workdir: Path) -> Path | None:
    """The clip written again through OpenCV's writer; None when OpenCV lacks the encoder."""
    recording = VideoFile(path)
    suffix = ".avi" if fourcc == "MJPG" else ".mp4"
    target = workdir / f"{path.stem}.{fourcc}{suffix}"
    writer: cv2.VideoWriter | None = None
    try:
        for _, frame in recording:
            if writer is None:
                height, width = frame.shape[:2]
                code = cv2.VideoWriter.fourcc(*fourcc)
                writer = cv2.VideoWriter(str(target), code, recording.fps, (width, height))
                if not writer.isOpened():
                    return None
                writer.set(cv2.VIDEOWRITER_PROP_QUALITY, MJPG_QUALITY)
            writer.write(frame)
    finally:
        if writer is not None:
            writer.release()
    return target


def h264_writable() -> bool:
    """Whether this OpenCV build can write H.264 (pip's opencv-python-headless cannot)."""
    with tempfile.TemporaryDirectory() as folder:
        target = str(Path(folder) / "probe.mp4")
        writer = cv2.VideoWriter(target, cv2.VideoWriter.fourcc(*"avc1"), 10.0, (64, 64))
        try:
            return writer.isOpened()
        finally:
            writer.release()


# The pixels a variant's detector sees: how to get its frames from the clip's path.
PIXELS: dict[str, Callable[[Path, Path], Iterator[np.ndarray] | None]] = {
    "original": lambda path, _: (frame for _, frame in VideoFile(path)),
    "shaken": lambda path, _: shaken(frame for _, frame in VideoFile(path)),
    "mjpg75": lambda path, workdir: _frames_of(reencoded(path, "MJPG", workdir)),
    "h264": lambda path, workdir: _frames_of(reencoded(path, "avc1", workdir)),
}


def _frames_of(path: Path | None) -> Iterator[np.ndarray] | None:
    return None if path is None else (frame for _, frame in VideoFile(path))


@dataclass(frozen=True)
class Variant:
    """An edit of a clip: which pixels, which frames in which order, and at what time step."""

    name: str
    pixels: str = "original"
    order: Callable[[int], list[int]] = lambda n: list(range(n))
    step: int = 1  # frames of the original between two analysed ones (their time apart)
    swaps: bool = False  # in and out trade places (played backwards)


def _strided(stride: int, first: int = 0) -> Callable[[int], list[int]]:
    return lambda n: list(range(first, n, stride))


VARIANTS: tuple[Variant, ...] = (
    Variant("backwards", order=lambda n: list(range(n))[::-1], swaps=True),
    Variant("tripled", order=lambda n: [i for i in range(n) for _ in range(3)]),
    Variant("shaken", pixels="shaken"),
    Variant("mjpg75", pixels="mjpg75"),
    # H.264 only where this OpenCV build can write it (the "where available"; pip's
    # wheels ship no H.264 encoder, so on them the lossy re-encode is MJPG's alone).
    *((Variant("h264", pixels="h264"),) if h264_writable() else ()),
    *(Variant(f"stride{k}", order=_strided(k), step=k) for k in range(2, 6)),
    # A live camera starts analysing wherever it happens to be (first frame 0 is stride{R}).
    *(
        Variant(
            f"stride{RECOMMENDED_STRIDE}-from{first}",
            order=_strided(RECOMMENDED_STRIDE, first),
            step=RECOMMENDED_STRIDE,
        )
        for first in range(1, RECOMMENDED_STRIDE)
    ),
)
FORWARD = Variant("forward")


class Replay:
    """A detector answering with stored detections, by the frame index it is given."""

    def __init__(self, answers: list[Detections]) -> None:
        self._answers = answers

    def detect(self, frame: np.ndarray) -> Detections:
        return self._answers[int(frame)]


def count(line: LineSpec, answers: list[Detections], order: list[int], seconds: float) -> Counter:
    """Totals by direction of the real tracker and counters on frames `order`, `seconds` apart."""
    analyser = Analyser(Replay(answers), Identity(), Counting(CounterSet(lines=[line])))
    totals: Counter = Counter()
    t = 0.0
    for position, index in enumerate(order):
        t = position * seconds
        for event in analyser.analyse(np.array(index), t).events:
            totals[event.direction] += 1
    # The recording ends after its last frame, as in the count command.
    for event in analyser.finish(t).events:
        totals[event.direction] += 1
    return totals


class PixelsUnavailable(Exception):
    """This OpenCV build cannot make the variant's pixels (no H.264 encoder)."""


class Footage:
    """Detections of each clip's frames, once per (clip, pixels), and counts of any variant."""

    def __init__(self, detector, videos: Path, workdir: Path) -> None:
        self._detector = detector
        self._videos = videos
        self._workdir = workdir
        self._answers: dict[tuple[str, str], tuple[float, list[Detections]]] = {}

    def remember(self, clip: str, fps: float, answers: list[Detections]) -> None:
        """Take the detections of the clip's own frames from a pass already made (the bench's)."""
        self._answers[(clip, "original")] = (fps, answers)

    def answers(self, clip: str, pixels: str) -> tuple[float, list[Detections]]:
        """(frame rate, detections of each frame) of the clip as the variant's pixels show it."""
        key = (clip, pixels)
        if key not in self._answers:
            path = self._videos / clip
            frames = PIXELS[pixels](path, self._workdir)
            if frames is None:
                raise PixelsUnavailable(f"this OpenCV cannot write {pixels}")
            answers = [self._detector.detect(frame) for frame in frames]
            self._answers[key] = (VideoFile(path).fps, answers)
        return self._answers[key]

    def counts(self, clip: str, variant: Variant) -> tuple[int, int]:
        """(in, out) of the clip edited as the variant says, swapped back if it swaps them."""
        fps, answers = self.answers(clip, variant.pixels)
        totals = count(CLIP_LINES[clip], answers, variant.order(len(answers)), variant.step / fps)
        if variant.swaps:
            return totals["out"], totals["in"]
        return totals["in"], totals["out"]
