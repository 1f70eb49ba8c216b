"""Line counting edge cases on synthetic tracks: each case has its exact expected count.

The line runs left to right at y=100, so `in` (DESIGN.md section 5) is moving down the image.
Boxes are 40x30 px; a frame is 1/24 s unless a case says otherwise.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pydantic import ValidationError

from edge_worker.count import CounterSet, LineSpec
from edge_worker.detections import CLASS_IDS, Detections
from tests.edge_worker.tracks import TrackCounting

FPS = 24.0
STOP = LineSpec(name="stop", x1=0, y1=100, x2=400, y2=100)

# One frame: list of (tracker id, centre x, centre y, class, score).
Frame = list[tuple[int, float, float, str, float]]


def drive(track: int, y_from: float, y_to: float, frames: int, x: float = 100, cls: str = "car"):
    return [[(track, x, y, cls, 0.8)] for y in np.linspace(y_from, y_to, frames)]


def merge(*streams: list[Frame]) -> list[Frame]:
    length = max(len(s) for s in streams)
    return [sum((s[i] for s in streams if i < len(s)), []) for i in range(length)]


def pause(frames: int) -> list[Frame]:
    return [[] for _ in range(frames)]


def to_detections(frame: Frame, size=(40.0, 30.0)) -> Detections:
    if not frame:
        return Detections.empty()
    ids, xs, ys, classes, scores = zip(*frame, strict=True)
    w, h = size
    xyxy = np.column_stack(
        (np.array(xs) - w / 2, np.array(ys) - h / 2, np.array(xs) + w / 2, np.array(ys) + h / 2)
    )
    return Detections(xyxy, scores, [CLASS_IDS[c] for c in classes], ids)


def count(frames: list[Frame], counters=None, fps: float = FPS) -> Counter:
    counting = TrackCounting(counters or CounterSet(lines=[STOP]))
    totals: Counter = Counter()
    for index, frame in enumerate(frames):
        for event in counting.update(to_detections(frame), index / fps).events:
            totals[(event.direction, event.cls)] += 1
    return totals


def jitter_on_line(track: int, frames: int, amplitude: float) -> list[Frame]:
    return [
        [(track, 100, 100 + (amplitude if i % 2 else -amplitude), "car", 0.8)]
        for i in range(frames)
    ]


def stop_and_go() -> list[Frame]:
    # Creeps up to the stop line, waits 5 s on it (tiny jitter, a few missed detections),
    # nudges a little past it and back twice, then drives off.
    wait = [[(1, 100, 100 + 1.5 * np.sin(i), "car", 0.7)] if i % 17 else [] for i in range(120)]
    nudge = [[(1, 100, y, "car", 0.7)] for y in (104, 101, 99, 105, 100)]
    return drive(1, 40, 100, 30) + wait + nudge + wait + drive(1, 100, 170, 20)


def detection_gap() -> list[Frame]:
    frames = drive(1, 40, 160, 40)
    for i in range(17, 25):  # about a third of a second without a box, right at the line
        frames[i] = []
    return frames


def id_switch_at_line() -> list[Frame]:
    before = drive(1, 40, 96, 20)
    after = [[(2, 100, y, "car", 0.8)] for y in np.linspace(104, 170, 20)]
    return before + after


def duplicate_box_on_a_vehicle() -> list[Frame]:
    # A second, new track appears on top of the vehicle while it is on the line (a fragment of
    # a long vehicle), listed before it: it must not take the vehicle's place.
    frames = drive(1, 40, 160, 40)
    for i in (19, 20):
        [(_, x, y, c, s)] = frames[i]
        frames[i] = [(9, x, y + 2, c, 0.5), (1, x, y, c, s)]
    return frames


def class_flicker() -> list[Frame]:
    frames = drive(1, 40, 160, 40)
    return [
        [(t, x, y, "truck", 0.45)] if i % 3 == 0 else [(t, x, y, c, s)]
        for i, [(t, x, y, c, s)] in enumerate(frames)
    ]


def reused_id_after_gap() -> list[Frame]:
    # Some trackers recycle ids: id 5 is a car, then seconds later a cyclist elsewhere.
    return drive(5, 40, 160, 30) + pause(60) + drive(5, 40, 160, 30, x=300, cls="bicycle")


def reused_id_with_jump() -> list[Frame]:
    # Id 5 leaves at the bottom and, on the very next frame, is a different car far away.
    return drive(5, 40, 160, 30) + drive(5, 40, 160, 30, x=350)


def every_fifth_frame() -> list[Frame]:
    return drive(1, 40, 160, 6)  # 20 px per analysed frame, timestamps 5/24 s apart


CASES = {
    "clean crossing down": (drive(1, 40, 160, 30), {("in", "car"): 1}),
    "clean crossing up": (drive(1, 160, 40, 30), {("out", "car"): 1}),
    "jitter across the line, then back": (
        drive(1, 40, 95, 20) + jitter_on_line(1, 60, 5) + drive(1, 95, 40, 20),
        {},
    ),
    "jitter across the line, then through": (
        drive(1, 40, 95, 20) + jitter_on_line(1, 60, 5) + drive(1, 95, 160, 20),
        {("in", "car"): 1},
    ),
    "stop and go on the line": (stop_and_go(), {("in", "car"): 1}),
    "back and forth": (
        drive(1, 40, 160, 30) + drive(1, 160, 40, 30) + drive(1, 40, 160, 30),
        {("in", "car"): 1, ("out", "car"): 1},
    ),
    "back and forth inside the band": (
        drive(1, 40, 98, 20) + [[(1, 100, y, "car", 0.8)] for y in (101, 99, 102, 98) * 10],
        {},
    ),
    "detection gap at the line": (detection_gap(), {("in", "car"): 1}),
    "id switch at the line": (id_switch_at_line(), {("in", "car"): 1}),
    "class flicker": (class_flicker(), {("in", "car"): 1}),
    "duplicate box on a vehicle": (duplicate_box_on_a_vehicle(), {("in", "car"): 1}),
    "side by side": (
        merge(drive(1, 40, 160, 30), drive(2, 40, 160, 30, x=150), drive(3, 42, 158, 30, x=200)),
        {("in", "car"): 3},
    ),
    "unconfirmed track jumping the line": (
        [[(1, 100, 90, "car", 0.8)], [(1, 100, 110, "car", 0.8)]],
        {},
    ),
    "single false detection": ([[(1, 100, 120, "car", 0.9)]], {}),
    "reused id after a gap": (reused_id_after_gap(), {("in", "car"): 1, ("in", "bicycle"): 1}),
    "reused id with a jump": (reused_id_with_jump(), {("in", "car"): 2}),
    "beyond the end of the line": (drive(1, 40, 160, 30, x=480), {}),
    "first seen already past the line": (drive(1, 130, 200, 30), {}),
}


@pytest.mark.parametrize(("frames", "expected"), CASES.values(), ids=CASES.keys())
def test_it_counts_each_case_exactly(frames, expected):
    assert count(frames) == Counter(expected)


def test_it_counts_when_only_every_fifth_frame_is_analysed():
    assert count(every_fifth_frame(), fps=FPS / 5) == Counter({("in", "car"): 1})


@pytest.mark.parametrize(
    ("line", "path", "direction"),
    [
        # DESIGN.md section 5: a line drawn left to right counts moving down as `in`;
        ((0, 100, 400, 100), ((100, 40), (100, 160)), "in"),
        ((400, 100, 0, 100), ((100, 40), (100, 160)), "out"),
        # a line drawn top to bottom counts moving right to left as `in`.
        ((200, 0, 200, 300), ((300, 150), (100, 150)), "in"),
        ((200, 0, 200, 300), ((100, 150), (300, 150)), "out"),
    ],
)
def test_it_follows_the_direction_convention(line, path, direction):
    spec = LineSpec(name="l", x1=line[0], y1=line[1], x2=line[2], y2=line[3])
    (x0, y0), (x1, y1) = path
    xs, ys = np.linspace(x0, x1, 30), np.linspace(y0, y1, 30)
    frames = [[(1, x, y, "car", 0.8)] for x, y in zip(xs, ys, strict=True)]
    assert count(frames, CounterSet(lines=[spec])) == Counter({(direction, "car"): 1})


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"name": "a", "x1": 0, "y1": 0, "x2": 5, "y2": 5}, None),
        ({"name": "a", "points": [[0, 0], [5, 5]]}, None),
        ({"name": "a", "x1": 0, "y1": 0, "x2": 0, "y2": 0}, "must differ"),
        ({"name": "a", "x1": 0, "y1": 0}, "needs x1, y1, x2, y2 or points"),
        ({"name": "a", "points": [[0, 0], [5, 5]], "x1": 3}, "not both"),
        ({"name": "a", "x1": 0, "y1": 0, "x2": 5, "y2": 5, "colour": "red"}, "Extra inputs"),
        ({"name": "has space", "x1": 0, "y1": 0, "x2": 5, "y2": 5}, "pattern"),
    ],
)
def test_line_spec_validation(fields, error):
    if error is None:
        assert LineSpec(**fields).points == ((0.0, 0.0), (5.0, 5.0))
    else:
        with pytest.raises(ValidationError, match=error):
            LineSpec(**fields)


def test_repeated_frames_are_no_new_evidence():
    # A camera that repeats frames (or a slow crawl): one box seen just past the line, delivered
    # three times, is one observation there and must not settle the crossing.
    frames = drive(1, 90, 96, 3) + [[(1, 100, 104, "car", 0.8)]] * 3
    assert count(frames) == Counter()
    crossing = drive(1, 40, 160, 30)
    assert count([f for f in crossing for _ in range(3)]) == count(crossing)


def test_a_big_vehicle_never_takes_over_a_small_box_that_vanished_nearby():
    # A small box above the line (a fragment, a parked object) jitters downwards and vanishes;
    # half a second later a pickup's box appears just past the line where that jitter points.
    # It is a new road user first seen past the line, not a crossing of the small one.
    small = [Detections([[90, y - 6, 110, y + 6]], [0.5], [2], [1]) for y in range(70, 82, 2)]
    big = [Detections([[40, y - 45, 160, y + 45]], [0.9], [2], [2]) for y in range(114, 170, 4)]
    frames = small + [Detections.empty()] * 12 + big
    counting = TrackCounting(CounterSet(lines=[STOP]))
    events = [e for i, d in enumerate(frames) for e in counting.update(d, i / FPS).events]
    assert events == []


def count_to_the_end(frames: list[Frame], fps: float = FPS) -> Counter:
    """Like `count`, then the recording ends after the last frame."""
    counting = TrackCounting(CounterSet(lines=[STOP]))
    totals: Counter = Counter()
    results = [counting.update(to_detections(f), i / fps) for i, f in enumerate(frames)]
    for result in results + [counting.finish(len(frames) / fps)]:
        for event in result.events:
            totals[(event.direction, event.cls)] += 1
    return totals


def test_a_crossing_cut_off_by_the_end_of_the_recording_still_counts():
    # Every fifth frame: the car's last analysed position is past the band but not yet settled
    # (one observation of the two needed); the recording ends there.
    frames = drive(1, 40, 105, 5)
    assert count(frames, fps=FPS / 5) == Counter()
    assert count_to_the_end(frames, fps=FPS / 5) == Counter({("in", "car"): 1})


@pytest.mark.parametrize(
    "frames",
    [
        # still inside the band on the last frame: no side is known yet
        drive(1, 40, 101, 20),
        # one observation past the line, then the track vanished a second before the end
        drive(1, 40, 105, 20) + pause(24),
        # never confirmed: one sighting before the line and one after
        [[(1, 100, 60, "car", 0.8)], [(1, 100, 105, "car", 0.8)]],
    ],
    ids=["on the line", "vanished before the end", "unconfirmed"],
)
def test_the_end_of_the_recording_counts_no_unsettled_crossing(frames):
    assert count_to_the_end(frames) == Counter()


def two_cars_parting_on_the_line(parent_shrinks: bool = True) -> list[Detections]:
    """Cars at x=100 and x=160 driving down side by side, detected as one box until the line.

    On the line the pair's box (track 1) shrinks to the left car and the right car gets a
    track of its own (2), first seen inside the band, so it has no side of its own yet.
    """
    frames = []
    for y in np.linspace(40, 96, 15):
        frames.append(Detections([[80, y - 15, 180, y + 15]], [0.8], [2], [1]))
    for y in np.linspace(101, 160, 15):
        left = [80, y - 15, 120, y + 15] if parent_shrinks else [80, y - 15, 180, y + 15]
        frames.append(Detections([left, [140, y - 15, 180, y + 15]], [0.8, 0.8], [2, 2], [1, 2]))
    return frames


@pytest.mark.parametrize(("parent_shrinks", "expected"), [(True, 2), (False, 1)])
def test_a_car_coming_out_of_its_neighbours_box_on_the_line_counts(parent_shrinks, expected):
    # When the pair's box shrinks as the second box appears inside it, that is a second car:
    # it crossed from the side the pair was on. When the first box stays whole, the new box is
    # only a fragment of it (a long vehicle seen twice) and inherits nothing.
    counting = TrackCounting(CounterSet(lines=[STOP]))
    frames = two_cars_parting_on_the_line(parent_shrinks)
    events = [e for i, d in enumerate(frames) for e in counting.update(d, i / FPS).events]
    assert [(e.direction, e.cls) for e in events] == [("in", "car")] * expected
