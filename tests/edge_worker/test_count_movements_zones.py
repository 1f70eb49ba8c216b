"""Turning movements, zone occupancy and dwell, and speeds from a calibrated camera."""

from __future__ import annotations

from collections import Counter

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge_worker.count import (
    Calibration,
    CounterSet,
    Counting,
    LineSpec,
    MovementSpec,
    ZoneSpec,
)
from edge_worker.detections import CLASS_IDS, Detections
from tests.edge_worker.tracks import TrackCounting

FPS = 24.0


def boxes_at(points, size=(40.0, 30.0), cls="car", first_id=1) -> Detections:
    """Boxes whose bottom centre (the ground contact point) is at each (x, y)."""
    if not points:
        return Detections.empty()
    w, h = size
    xy = np.asarray(points, dtype=float)
    xyxy = np.column_stack((xy[:, 0] - w / 2, xy[:, 1] - h, xy[:, 0] + w / 2, xy[:, 1]))
    ids = np.arange(first_id, first_id + len(xy))
    return Detections(xyxy, np.full(len(xy), 0.8), np.full(len(xy), CLASS_IDS[cls]), ids)


def path(*waypoints, steps=25):
    """Points along straight legs between waypoints, `steps` frames per leg."""
    points = []
    for (x0, y0), (x1, y1) in zip(waypoints, waypoints[1:], strict=False):
        points += list(zip(np.linspace(x0, x1, steps), np.linspace(y0, y1, steps), strict=True))
    return points


def run(counters: CounterSet, frames: list[Detections]):
    counting = TrackCounting(counters)
    results = [counting.update(d, i / FPS) for i, d in enumerate(frames)]
    results.append(counting.finish(len(frames) / FPS))
    return results


# The north approach's stop line, drawn so a vehicle driving south (down) crosses it `in`, and
# the east exit line, drawn so a vehicle driving east (right) crosses it `out`.
NORTH = LineSpec(name="north", x1=0, y1=100, x2=200, y2=100)
EAST = LineSpec(name="east", x1=300, y1=150, x2=300, y2=350)
JUNCTION = CounterSet(
    lines=[NORTH, EAST],
    movements=[
        MovementSpec(name="N>E", entry="north", exit="east"),
        MovementSpec(name="E>N", entry="east", exit="north"),
    ],
)
MOVEMENTS = {
    "north to east": (path((100, 40), (100, 250), (420, 250)), {"N>E": 1}),
    "east to north": (path((420, 250), (100, 250), (100, 40)), {"E>N": 1}),
    "north only, then back": (path((100, 40), (100, 250), (100, 40)), {}),
    "east only": (path((420, 250), (200, 250)), {}),
}


@pytest.mark.parametrize(("points", "expected"), MOVEMENTS.values(), ids=MOVEMENTS.keys())
def test_it_counts_a_turning_movement_in_its_order(points, expected):
    frames = [boxes_at([p]) for p in points]
    movements = Counter(
        e.counter for r in run(JUNCTION, frames) for e in r.events if e.direction is None
    )
    assert movements == Counter(expected)


def test_movement_events_carry_the_class_and_no_direction():
    frames = [boxes_at([p], cls="bus") for p in path((100, 40), (100, 250), (420, 250))]
    events = [e for r in run(JUNCTION, frames) for e in r.events if e.counter == "N>E"]
    assert [(e.direction, e.cls, e.speed_kmh) for e in events] == [(None, "bus", None)]


def test_a_movement_can_end_in_a_zone():
    counters = CounterSet(
        lines=[NORTH],
        zones=[
            ZoneSpec(name="east-exit", polygon=[(350, 200), (500, 200), (500, 300), (350, 300)])
        ],
        movements=[MovementSpec(name="N>E", entry="north", exit="east-exit")],
    )
    frames = [boxes_at([p]) for p in path((100, 40), (100, 250), (420, 250))]
    assert [e.counter for r in run(counters, frames) for e in r.events] == ["north", "N>E"]


@pytest.mark.parametrize(
    ("movements", "error"),
    [
        ([{"name": "N>E", "entry": "north", "exit": "east"}], None),
        ([{"name": "N>W", "entry": "north", "exit": "west"}], "no line or zone named 'west'"),
        ([{"name": "N>N", "entry": "north", "exit": "north"}], "must differ"),
        ([{"name": "north", "entry": "north", "exit": "east"}], "must be unique"),
    ],
)
def test_movement_spec_validation(movements, error):
    data = {"lines": [NORTH.model_dump(), EAST.model_dump()], "movements": movements}
    if error is None:
        assert CounterSet.model_validate(data).movements[0].name == "N>E"
    else:
        with pytest.raises(ValidationError, match=error):
            CounterSet.model_validate(data)


CROSSWALK = ZoneSpec(name="crosswalk", polygon=[(100, 100), (300, 100), (300, 200), (100, 200)])


def test_zone_occupancy_counts_objects_per_class_on_each_frame():
    # Two inside, one outside; real boxes of standing objects jitter by a fraction of a pixel.
    frames = [boxes_at([(150 + j, 150), (250, 150 + j), (500, 150 - j)]) for j in (0, 0.3, 0.1)]
    frames.append(Detections.empty())
    results = run(CounterSet(zones=[CROSSWALK]), frames)
    # The first two frames the tracks are not confirmed yet, so nobody is counted in the zone.
    per_frame = [[(o.zone, o.cls, o.objects) for o in r.occupancy] for r in results]
    assert per_frame == [[], [], [("crosswalk", "car", 2)], [], []]


def walk(*legs):
    """Points walked at 10 px per frame between waypoints, or held for (point, frames)."""
    points = []
    for leg in legs:
        if isinstance(leg[1], int):
            (x, y), frames = leg
            points += [(x + 0.2 * (i % 2), y) for i in range(frames)]  # standing, jittering
        else:
            (x0, y0), (x1, y1) = leg
            steps = int(max(abs(x1 - x0), abs(y1 - y0)) // 10) + 1
            points += list(zip(np.linspace(x0, x1, steps), np.linspace(y0, y1, steps), strict=True))
    return points


def frames_inside(points) -> list[int]:
    return [i for i, (x, y) in enumerate(points) if 100 <= x < 300 and 100 <= y < 200]


def test_dwell_is_the_time_from_entering_to_leaving():
    points = walk(((0, 150), (200, 150)), ((200, 150), 48), ((200, 150), (400, 150)))
    results = run(CounterSet(zones=[CROSSWALK]), [boxes_at([p], cls="person") for p in points])
    inside = frames_inside(points)
    dwell = [(d.zone, d.cls, d.seconds) for r in results for d in r.dwell]
    assert dwell == [("crosswalk", "person", pytest.approx((inside[-1] - inside[0]) / FPS))]


def test_a_box_flickering_on_the_zone_edge_is_one_visit():
    flicker = [(104, 150), (96, 150), (104, 150), (104, 150), (96, 150)] * 6
    points = walk(((0, 150), (96, 150))) + flicker + walk(((104, 150), (400, 150)))
    results = run(CounterSet(zones=[CROSSWALK]), [boxes_at([p]) for p in points])
    assert len([d for r in results for d in r.dwell]) == 1


def test_a_road_user_who_vanishes_inside_still_gets_a_dwell_time():
    points = [(200 + 0.2 * (i % 2), 150) for i in range(24)]
    results = run(CounterSet(zones=[CROSSWALK]), [boxes_at([p]) for p in points])
    dwell = [d.seconds for r in results for d in r.dwell]
    assert dwell == [pytest.approx(23 / FPS)]


# A camera looking down a road at an angle: this maps ground metres to image pixels.
GROUND_TO_IMAGE = cv2.getPerspectiveTransform(
    np.float32([(0, 0), (10, 0), (10, 40), (0, 40)]),
    np.float32([(250, 80), (390, 80), (560, 340), (80, 340)]),
)


def to_image(ground_points) -> list[tuple[float, float]]:
    pts = np.asarray(ground_points, dtype=np.float64).reshape(-1, 1, 2)
    return [tuple(p) for p in cv2.perspectiveTransform(pts, GROUND_TO_IMAGE).reshape(-1, 2)]


@pytest.mark.parametrize("speed_kmh", [18.0, 50.0, 90.0])
def test_speed_at_a_crossing_from_a_known_homography(speed_kmh):
    calibration = Calibration(
        image_points=to_image([(0, 0), (10, 0), (10, 40), (0, 40)]),
        ground_points_m=[(0, 0), (10, 0), (10, 40), (0, 40)],
    )
    line = LineSpec(name="mid", x1=0, y1=210, x2=640, y2=210)
    metres_per_frame = speed_kmh / 3.6 / FPS
    ground = [(5.0, 2.0 + i * metres_per_frame) for i in range(int(36 / metres_per_frame))]
    frames = [boxes_at([p]) for p in to_image(ground)]
    counters = CounterSet(lines=[line], calibration=calibration)
    speeds = [e.speed_kmh for r in run(counters, frames) for e in r.events]
    assert speeds == [pytest.approx(speed_kmh, rel=0.01)]


def test_without_calibration_there_is_no_speed():
    frames = [boxes_at([p]) for p in path((100, 40), (100, 250))]
    events = [e for r in run(CounterSet(lines=[NORTH]), frames) for e in r.events]
    assert [e.speed_kmh for e in events] == [None]


def test_degenerate_calibration_is_refused():
    with pytest.raises(ValueError, match="degenerate"):
        Counting(
            CounterSet(
                calibration=Calibration(
                    image_points=[(0, 0), (1, 1), (2, 2), (3, 3)],
                    ground_points_m=[(0, 0), (1, 0), (1, 1), (0, 1)],
                )
            )
        )
