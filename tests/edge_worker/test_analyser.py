"""The analyser: detect -> identity -> count for one camera, the interface the worker consumes."""

from __future__ import annotations

import numpy as np
import pytest

from edge_worker.analyser import Analyser, build_analyser
from edge_worker.count import CounterSet, Counting, LineSpec, ZoneSpec
from edge_worker.detections import Detections
from edge_worker.events import CountEvent, DwellEvent, FrameResult, ZoneOccupancy
from edge_worker.track import Identity
from edge_worker.video import VideoFile

COUNTERS = CounterSet(
    lines=[LineSpec(name="stop", x1=0, y1=100, x2=400, y2=100)],
    zones=[ZoneSpec(name="box", polygon=[(0, 110), (400, 110), (400, 400), (0, 400)])],
)


class OneCarDriving:
    """A detector that sees one car driving down the image, 6 px per frame."""

    def detect(self, frame: np.ndarray) -> Detections:
        y = 40 + 6 * int(frame)
        return Detections([[80, y - 15, 120, y + 15]], [0.9], [2])


def test_it_turns_frames_into_count_occupancy_and_dwell_events():
    analyser = Analyser(OneCarDriving(), Identity(), Counting(COUNTERS))
    results = [analyser.analyse(np.array(i), 1_700_000_000 + i / 24) for i in range(40)]
    assert all(isinstance(r, FrameResult) for r in results)
    events = [e for r in results for e in r.events]
    assert events == [CountEvent("stop", "in", "car", events[0].t, None)]
    # The box's centre (y = 40 + 6 i) is on the line y = 100 at frame 10; the tracker's
    # smoothed box may report the crossing up to two frames later.
    assert 1_700_000_000 + 10 / 24 <= events[0].t <= 1_700_000_000 + 12 / 24
    # Its lower edge (y + 15) is in the zone (y >= 110) from frame 10 to the last, 39.
    assert [o for r in results for o in r.occupancy] == [
        ZoneOccupancy("box", "car", 1, 1_700_000_000 + i / 24) for i in range(10, 40)
    ]
    closing = analyser.finish(1_700_000_002.0)
    assert closing.dwell == (
        DwellEvent("box", "car", pytest.approx((39 - 10) / 24), 1_700_000_002.0),
    )


def test_a_bad_stride_fails_at_build_time():
    with pytest.raises(ValueError, match="stride"):
        build_analyser(model_path="unused.onnx", counters=COUNTERS, stride=0)


def test_build_analyser_runs_the_shared_model_on_real_frames(model_path, videos_dir):
    counters = CounterSet(lines=[LineSpec(name="mid", x1=280, y1=0, x2=280, y2=359)])
    analyser = build_analyser(model_path=model_path, counters=counters, stride=1)
    recording = VideoFile(videos_dir / "urban_overhead_opencv4nodejs.mp4")
    events = []
    for t, frame in recording:
        events += analyser.analyse(frame, t).events
        if t > 1.8:  # two cars cross left to right around frames 28 and 35
            break
    assert [(e.counter, e.direction) for e in events] == [("mid", "out"), ("mid", "out")]
