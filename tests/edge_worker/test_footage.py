"""Metamorphic tests on the real footage: what must not change the counts, and what must swap.

Each clip is decoded and run through the detector once per test session; the detections of
each frame are replayed into the real analyser (tracker and counters) for every variant. The
detector sees each frame on its own, so replaying its output in another order or rhythm is
exactly what the analyser would compute on a video edited that way.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from edge_worker.analyser import RECOMMENDED_STRIDE, Analyser
from edge_worker.count import CounterSet, Counting, LineSpec
from edge_worker.detect import OnnxDetector
from edge_worker.detections import Detections
from edge_worker.track import ByteTracker
from edge_worker.video import VideoFile

pytestmark = pytest.mark.slow

CLIPS = {
    "suburban_street_ahmetozlu.mp4": LineSpec(name="stop", x1=150, y1=200, x2=600, y2=200),
    "urban_overhead_opencv4nodejs.mp4": LineSpec(name="mid", x1=280, y1=0, x2=280, y2=359),
}


class Replay:
    """A detector that answers with the stored detections of the frame whose index it gets."""

    def __init__(self, detections: list[Detections]) -> None:
        self._detections = detections

    def detect(self, frame: np.ndarray) -> Detections:
        return self._detections[int(frame)]


@pytest.fixture(scope="module")
def detected(model_path: Path, videos_dir: Path) -> dict[str, tuple[float, list[Detections]]]:
    detector = OnnxDetector(model_path)
    clips = {}
    for name in CLIPS:
        recording = VideoFile(videos_dir / name)
        clips[name] = (recording.fps, [detector.detect(frame) for _, frame in recording])
    return clips


def count(clip: str, detections: list[Detections], order: list[int], fps: float) -> Counter:
    """Totals by direction when the video shows the frames `order` at `fps`."""
    analyser = Analyser(
        Replay(detections), ByteTracker(), Counting(CounterSet(lines=[CLIPS[clip]]))
    )
    totals: Counter = Counter()
    results = [analyser.analyse(np.array(i), position / fps) for position, i in enumerate(order)]
    # The recording ends after its last frame, as in the count command.
    for result in [*results, analyser.finish((len(order) - 1) / fps)]:
        for event in result.events:
            totals[event.direction] += 1
    return totals


@pytest.mark.parametrize("clip", CLIPS)
def test_played_backwards_in_and_out_swap_exactly(detected, clip):
    fps, detections = detected[clip]
    frames = list(range(len(detections)))
    forward = count(clip, detections, frames, fps)
    backward = count(clip, detections, frames[::-1], fps)
    assert forward["in"] + forward["out"] > 0
    assert (backward["in"], backward["out"]) == (forward["out"], forward["in"])


@pytest.mark.parametrize("clip", CLIPS)
def test_every_frame_shown_three_times_gives_the_same_counts(detected, clip):
    # A slow crawl: the same scene takes three times as long.
    fps, detections = detected[clip]
    frames = list(range(len(detections)))
    crawl = [i for i in frames for _ in range(3)]
    assert count(clip, detections, crawl, fps) == count(clip, detections, frames, fps)


@pytest.mark.parametrize("stride", [2, RECOMMENDED_STRIDE])
@pytest.mark.parametrize("clip", CLIPS)
def test_analysing_every_nth_frame_gives_the_same_counts(detected, clip, stride):
    fps, detections = detected[clip]
    frames = list(range(len(detections)))
    strided = count(clip, detections, frames[::stride], fps / stride)
    assert strided == count(clip, detections, frames, fps)


@pytest.mark.parametrize("clip", CLIPS)
def test_the_recommended_stride_gives_the_same_counts_from_any_first_frame(detected, clip):
    # A live camera starts analysing wherever it happens to be: whichever of the frames the
    # analysis falls on, the counts must not depend on it.
    fps, detections = detected[clip]
    frames = list(range(len(detections)))
    every = count(clip, detections, frames, fps)
    for phase in range(1, RECOMMENDED_STRIDE):
        strided = frames[phase::RECOMMENDED_STRIDE]
        assert count(clip, detections, strided, fps / RECOMMENDED_STRIDE) == every, phase
