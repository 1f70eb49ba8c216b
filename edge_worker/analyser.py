"""One camera's analysis: detect -> identity -> count, one frame at a time.

This is the interface the rest of the worker consumes: `Analyser.analyse(frame, t)` returns a
FrameResult of anonymous events, and `build_analyser` is the composition root for one camera.
Each stage has one job: the detector finds boxes, the identity stage (tracker and road-user
register, edge_worker/track/identity.py) alone decides which road user each box is, and the
counters only read those road users.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_worker.count import CounterSet, Counting, LineSettings
from edge_worker.detect import Detector, DetectorSettings, OnnxDetector
from edge_worker.events import FrameResult
from edge_worker.track import ByteTracker, Identity, RoadUserSettings, TrackerSettings

# Every fourth frame: 6-7.5 analysed fps on a 24-30 fps camera. On the two vehicle clips
# (bench/edge.py --metamorphic) it gives the counts of every frame from each of the four possible
# first frames, dusk clip included; every fifth frame (Frigate's 5 fps) stays within the ground
# truth's tolerance but loses a car on some of them (a dark car detected at 0.1-0.2 on few
# frames, or one crossing as the clip ends). The pedestrian clips still lose or gain a person at
# stride 4 from some first frames (tests/edge_worker/test_metamorphic.py's xfails).
RECOMMENDED_STRIDE = 4


class Analyser:
    """Turns timestamped frames of one camera into count, occupancy and dwell events."""

    def __init__(self, detector: Detector, identity: Identity, counting: Counting) -> None:
        self.detector = detector
        self.identity = identity
        self.counting = counting

    def analyse(self, frame: np.ndarray, t: float) -> FrameResult:
        """Frames must come in time order; t is in seconds (unix time or into a recording)."""
        detections = self.detector.detect(frame)
        sightings, left = self.identity.update(detections, t)
        return self.counting.update(sightings, left)

    def finish(self, t: float) -> FrameResult:
        """End of the recording or shutdown: close the dwell times of road users still in zones."""
        return self.counting.finish(self.identity.finish(), t)


def build_analyser(
    *,
    model_path: str | Path,
    counters: CounterSet,
    stride: int = 1,
    detector_settings: DetectorSettings | None = None,
    tracker_settings: TrackerSettings | None = None,
    road_user_settings: RoadUserSettings | None = None,
    line_settings: LineSettings | None = None,
) -> Analyser:
    """Load the model (and warm it up), then wire the identity stage and the camera's counters.

    `stride` is how many frames the caller advances between analysed ones. Tracking and counting
    work from timestamps, so nothing needs retuning for it; it is checked here so that a bad
    value fails at start-up rather than deep in a camera loop.
    """
    if stride < 1:
        raise ValueError("stride must be at least 1")
    detector = OnnxDetector(model_path, detector_settings)
    identity = Identity(ByteTracker(tracker_settings), road_user_settings)
    return Analyser(detector, identity, Counting(counters, line_settings))
