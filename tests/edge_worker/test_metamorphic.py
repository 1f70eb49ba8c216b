"""Metamorphic tests on all the footage: edits of a video that must give its forward counts.

Every clip of JUNCTION_TEST_VIDEOS, labelled or not, against every variant of metamorphic.py:
played backwards (in and out swapped), every frame tripled, shaken with sensor noise,
re-encoded, strides 2 to 5 and every first frame at the recommended stride. The detector runs
once per clip and pixel edit (about 3 x 2,600 frames, 3-4 minutes on one busy core); every
reordering replays those detections through the real tracker and counters.

Variants that fail today are strict xfails whose reason gives the measured (in, out), so a fix
that makes one pass turns it into a failure until its mark is removed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_worker.detect import OnnxDetector
from tests.conftest import require
from tests.edge_worker.metamorphic import (
    CLIP_LINES,
    FORWARD,
    VARIANTS,
    Footage,
    Variant,
)

pytestmark = pytest.mark.slow

# (clip, variant) -> (in, out) measured on 2026-12-06 with yolox_nano.onnx, to compare with
# FORWARD_COUNTS. The shake is seed-sensitive: another noise draw kept three of the four clips
# exact, this one (SHAKE_SEED) moves every clip by one or two.
KNOWN_FAILURES: dict[tuple[str, str], str] = {
    ("suburban_street_ahmetozlu.mp4", "shaken"): "in 9 out 0",
    ("suburban_street_ahmetozlu.mp4", "mjpg75"): "in 9 out 0",
    ("urban_overhead_opencv4nodejs.mp4", "shaken"): "in 9 out 18",
    ("urban_overhead_opencv4nodejs.mp4", "stride5"): "in 9 out 16",
    ("crossing_aerial_degirum.mp4", "backwards"): "in 6 out 1",
    ("crossing_aerial_degirum.mp4", "shaken"): "in 7 out 1",
    ("crossing_aerial_degirum.mp4", "mjpg75"): "in 6 out 1",
    ("crossing_aerial_degirum.mp4", "stride3"): "in 6 out 1",
    ("crossing_aerial_degirum.mp4", "stride5"): "in 6 out 1",
    ("crossing_aerial_degirum.mp4", "stride4-from2"): "in 4 out 1",
    ("pedestrians_plaza_yalue.mp4", "tripled"): "in 3 out 4",
    ("pedestrians_plaza_yalue.mp4", "shaken"): "in 4 out 6",
    ("pedestrians_plaza_yalue.mp4", "mjpg75"): "in 5 out 6",
    ("pedestrians_plaza_yalue.mp4", "stride4"): "in 3 out 5",
    ("pedestrians_plaza_yalue.mp4", "stride5"): "in 3 out 5",
    ("pedestrians_plaza_yalue.mp4", "stride4-from1"): "in 3 out 5",
    ("pedestrians_plaza_yalue.mp4", "stride4-from2"): "in 3 out 5",
}
FORWARD_COUNTS = {
    "suburban_street_ahmetozlu.mp4": (8, 0),
    "urban_overhead_opencv4nodejs.mp4": (9, 17),
    "lanes_overhead_bgslibrary.avi": (0, 0),
    "crossing_aerial_degirum.mp4": (5, 1),
    "pedestrians_plaza_yalue.mp4": (4, 5),
}


def _case(clip: str, variant: Variant):
    measured = KNOWN_FAILURES.get((clip, variant.name))
    marks = []
    if measured is not None:
        forward = "in {} out {}".format(*FORWARD_COUNTS[clip])
        reason = f"measured {measured}, forward {forward}"
        marks.append(pytest.mark.xfail(strict=True, reason=reason))
    return pytest.param(clip, variant, id=f"{Path(clip).stem}-{variant.name}", marks=marks)


@pytest.fixture(scope="session")
def footage(model_path: Path, videos_dir: Path, tmp_path_factory) -> Footage:
    for clip in CLIP_LINES:
        require((videos_dir / clip).is_file(), f"JUNCTION_TEST_VIDEOS lacks {clip}")
    workdir = tmp_path_factory.mktemp("reencoded")
    return Footage(OnnxDetector(model_path), videos_dir, workdir)


@pytest.mark.parametrize(
    "clip",
    [
        pytest.param(
            clip,
            marks=pytest.mark.xfail(
                clip == "lanes_overhead_bgslibrary.avi",
                strict=True,
                reason="yolox_nano sees no vehicle in this high view (one truck at 0.39 on one "
                "frame in 38), so nothing crosses and every variant there holds trivially",
            ),
        )
        for clip in CLIP_LINES
    ],
)
def test_forward_counts_are_something_to_keep(footage, clip):
    # A variant that keeps a count of zero proves nothing.
    counts = footage.counts(clip, FORWARD)
    assert sum(counts) > 0
    assert counts == FORWARD_COUNTS[clip]


@pytest.mark.parametrize(
    ("clip", "variant"),
    [_case(clip, variant) for clip in CLIP_LINES for variant in VARIANTS],
)
def test_the_variant_gives_the_forward_counts(footage, clip, variant):
    assert footage.counts(clip, variant) == footage.counts(clip, FORWARD)
